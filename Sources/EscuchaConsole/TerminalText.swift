import CNcurses

/// Column widths and layout of text on a terminal. Widths are measured per Unicode scalar
/// with the C library's `wcwidth`, as ncurses and tmux do (a skin-toned emoji such as 👍🏽
/// takes 4 columns there, not 2): measuring per grapheme would misalign every line after it.
/// The locale must be UTF-8 (`ConsoleLocale.prepare()`).
public enum TerminalText {
    /// Columns one scalar takes: 0 for combining marks and joiners, 2 for wide characters.
    /// Scalars the terminal cannot show are replaced by `sanitized` first.
    public static func width(of scalar: Unicode.Scalar) -> Int {
        let columns = Int(escucha_wcwidth(scalar.value))
        return columns < 0 ? 1 : columns
    }

    /// Columns a sanitized string takes.
    public static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + width(of: $1) }
    }

    /// The text with control characters (newlines and tabs included) turned into spaces and
    /// scalars the terminal cannot print replaced, so one line stays one line. Bidirectional
    /// controls are dropped: a message must not reorder the console's own columns.
    public static func sanitized(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isBidiControl(scalar) { continue }
            if scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) {
                scalars.append(" ")
            } else if escucha_wcwidth(scalar.value) < 0 {
                scalars.append("\u{FFFD}")
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x200E, 0x200F, 0x061C, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// Exactly `columns` columns: truncated with "…" when too long (never splitting a wide
    /// character), padded with spaces when short.
    public static func fit(_ text: String, columns: Int) -> String {
        guard columns > 0 else { return "" }
        let clean = sanitized(text)
        let total = width(clean)
        if total <= columns { return clean + String(repeating: " ", count: columns - total) }
        var out = String.UnicodeScalarView()
        var used = 0
        for scalar in clean.unicodeScalars {
            let w = width(of: scalar)
            if used + w > columns - 1 { break }
            out.append(scalar)
            used += w
        }
        // Combining marks that belong to the last kept character stay with it.
        return String(out) + "…" + String(repeating: " ", count: columns - 1 - used)
    }

    /// Wraps text into lines of at most `columns` columns, breaking at spaces when it can.
    /// Each line is a list of runs that keep their style (e.g. highlighted evidence).
    public static func wrap(_ runs: [StyledRun], columns: Int) -> [[StyledRun]] {
        guard columns > 0 else { return [] }
        // Explode into (scalar, style) cells, splitting on newlines.
        var lines: [[StyledRun]] = []
        var line: [(Unicode.Scalar, RunStyle)] = []
        var lineWidth = 0
        var lastSpace: Int?

        func flush(_ cells: ArraySlice<(Unicode.Scalar, RunStyle)>) {
            var runs: [StyledRun] = []
            for (scalar, style) in cells {
                if let last = runs.last, last.style == style {
                    runs[runs.count - 1].text.unicodeScalars.append(scalar)
                } else {
                    runs.append(StyledRun(String(Character(scalar)), style))
                }
            }
            lines.append(runs)
        }

        for run in runs {
            for scalar in run.text.unicodeScalars {
                if scalar == "\n" {
                    flush(line[...])
                    line = []
                    lineWidth = 0
                    lastSpace = nil
                    continue
                }
                let clean = sanitized(String(scalar)).unicodeScalars.first ?? " "
                let w = width(of: clean)
                if lineWidth + w > columns, !line.isEmpty {
                    if clean == " " {
                        // The space that overflows is the break itself.
                        flush(line[...])
                        line = []
                        lineWidth = 0
                        lastSpace = nil
                        continue
                    }
                    if let space = lastSpace, space > 0 {
                        flush(line[..<space])
                        line = Array(line[(space + 1)...])
                    } else {
                        flush(line[...])
                        line = []
                    }
                    lineWidth = line.reduce(0) { $0 + width(of: $1.0) }
                    lastSpace = nil
                }
                if clean == " " { lastSpace = line.count }
                line.append((clean, run.style))
                lineWidth += w
            }
        }
        if !line.isEmpty || lines.isEmpty { flush(line[...]) }
        return lines
    }
}

/// How a run of text is drawn.
public enum RunStyle: Sendable, Equatable {
    case plain
    case dim
    case bold
    case evidence
    case heading
    case alert
    case warning
    case good
    case restricted
}

/// Text in one style.
public struct StyledRun: Sendable, Equatable {
    public var text: String
    public var style: RunStyle

    public init(_ text: String, _ style: RunStyle = .plain) {
        self.text = text
        self.style = style
    }
}

extension Array where Element == StyledRun {
    /// Runs of `text` with the UTF-16 ranges in `highlights` in the evidence style.
    public static func highlighting(_ text: String, ranges highlights: [Range<Int>], base: RunStyle = .plain) -> [StyledRun] {
        guard !highlights.isEmpty else { return [StyledRun(text, base)] }
        var runs: [StyledRun] = []
        var offset = 0
        var current = StyledRun("", base)
        for scalar in text.unicodeScalars {
            let style: RunStyle = highlights.contains { $0.contains(offset) } ? .evidence : base
            if style != current.style {
                if !current.text.isEmpty { runs.append(current) }
                current = StyledRun("", style)
            }
            current.text.unicodeScalars.append(scalar)
            offset += scalar.utf16.count
        }
        if !current.text.isEmpty { runs.append(current) }
        return runs
    }
}

/// The locale the console's text measurement needs.
public enum ConsoleLocale {
    /// Sets a UTF-8 locale (the environment's, else C.UTF-8); false when none exists.
    @discardableResult
    public static func prepare() -> Bool { escucha_nc_locale() == 1 }
}
