import Foundation

/// How the queue's columns share the terminal's width: the essentials at 80 columns, the
/// location and the person's last words when there is room.
public struct QueueLayout: Sendable, Equatable {
    public struct Column: Sendable, Equatable {
        public var key: String
        public var width: Int
    }

    public var columns: [Column]

    /// Fixed columns at every width; `flags` takes what is left, up to 40, then location
    /// and preview appear.
    public init(width: Int) {
        var fixed: [Column] = [
            Column(key: "mark", width: 1), Column(key: "reference", width: 6), Column(key: "age", width: 4),
            Column(key: "channel", width: 9), Column(key: "language", width: 2), Column(key: "type", width: 10),
            Column(key: "flags", width: 0), Column(key: "severity", width: 4), Column(key: "assignee", width: 9),
            Column(key: "due", width: 5),
        ]
        let separators = fixed.count - 1
        let used = fixed.reduce(0) { $0 + $1.width } + separators
        let free = max(width - used, 8)
        if free <= 40 {
            fixed[6].width = free
        } else {
            fixed[6].width = 24
            var rest = free - 24
            let location = min(14, rest - 1)
            if location >= 8 {
                fixed.insert(Column(key: "location", width: location), at: 7)
                rest -= location + 1
            }
            if rest >= 12 { fixed.append(Column(key: "preview", width: rest - 1)) }
        }
        columns = fixed
    }

    /// The header line.
    public func header(_ strings: ConsoleStrings) -> String {
        columns.map { TerminalText.fit($0.key == "mark" ? "" : strings["column.\($0.key)"], columns: $0.width) }.joined(separator: " ")
    }

    /// One ticket as styled runs.
    public func line(_ row: QueueRow, now: Date) -> [StyledRun] {
        var runs: [StyledRun] = []
        for (index, column) in columns.enumerated() {
            if index > 0 { runs.append(StyledRun(" ")) }
            let (text, style) = cell(column.key, row, now)
            runs.append(StyledRun(TerminalText.fit(text, columns: column.width), style))
        }
        return runs
    }

    func cell(_ key: String, _ row: QueueRow, _ now: Date) -> (String, RunStyle) {
        switch key {
        case "mark": return row.restricted ? ("!", .restricted) : (" ", .plain)
        case "reference": return (row.reference, .bold)
        case "age": return (Self.duration(now.timeIntervalSince(row.createdAt)), .dim)
        case "channel": return (row.channel, .plain)
        case "language": return (row.language, .plain)
        case "type": return (row.type, .plain)
        case "flags": return (Self.badges(row.flags), Self.style(severity: row.severity))
        case "severity": return (Self.shortSeverity(row.severity), Self.style(severity: row.severity))
        case "assignee": return (row.assignee.isEmpty ? "-" : row.assignee, row.assignee.isEmpty ? .dim : .plain)
        case "due": return Self.timeLeft(row.due, now: now, done: ["resolved", "closed"].contains(row.status))
        case "location": return (row.location, .plain)
        case "preview": return (row.preview, .dim)
        default: return ("", .plain)
        }
    }

    /// Flag codes without their family when that is unambiguous enough to read:
    /// `protection.gbv discrimination.xenophobia` → `gbv xenophobia`.
    public static func badges(_ flags: [String]) -> String {
        flags.map { $0.split(separator: ".").last.map(String.init) ?? $0 }.joined(separator: " ")
    }

    public static func shortSeverity(_ severity: String) -> String {
        switch severity {
        case "critical": "crit"
        case "medium": "med"
        default: severity
        }
    }

    public static func style(severity: String) -> RunStyle {
        switch severity {
        case "critical": .alert
        case "high": .warning
        default: .plain
        }
    }

    /// `45s`→`0m`, `12m`, `5h`, `3d`, `6w`: the largest unit that keeps the number small.
    public static func duration(_ seconds: TimeInterval) -> String {
        let s = max(0, seconds)
        if s < 3600 { return "\(Int(s / 60))m" }
        if s < 48 * 3600 { return "\(Int(s / 3600))h" }
        if s < 14 * 86400 { return "\(Int(s / 86400))d" }
        return "\(Int(s / (7 * 86400)))w"
    }

    /// Time left to a deadline: red and negative once overdue, yellow within the hour.
    public static func timeLeft(_ due: Date?, now: Date, done: Bool = false) -> (String, RunStyle) {
        guard let due, !done else { return ("-", .dim) }
        let left = due.timeIntervalSince(now)
        if left < 0 { return ("-" + duration(-left), .alert) }
        return (duration(left), left < 3600 ? .warning : .good)
    }
}
