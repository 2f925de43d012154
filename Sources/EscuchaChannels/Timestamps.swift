import Foundation

/// How a gateway writes its timestamps.
public enum TimestampFormat: String, Sendable, Equatable, CaseIterable {
    /// Any of the forms below, recognised by shape.
    case auto
    /// Unix seconds (`1493735509`, also as a JSON string).
    case unixSeconds = "unix"
    /// Unix milliseconds (`1516217711000`).
    case unixMilliseconds = "unix_ms"
    /// ISO 8601 / RFC 3339, with `Z`, `+03:00` or `+0300`, or no zone (UTC).
    case iso8601
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    case sqlUTC = "sql_utc"
    /// `YYYYMMDDhhmmss`, UTC (MessageBird short codes).
    case compact
    /// Java's `Date.toString()`: `Tue Jun 19 14:05:33 EAT 2012` (FrontlineSMS).
    case javaDate = "java_date"
}

/// Lenient, explicit timestamp parsing for gateway payloads.
public enum Timestamps {
    /// Parses `text` in `format`; `nil` when it does not match.
    /// - Parameters:
    ///   - text: the timestamp as sent.
    ///   - format: the expected format.
    public static func parse(_ text: String, format: TimestampFormat = .auto) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch format {
        case .unixSeconds: return Double(t).map { Date(timeIntervalSince1970: $0) }
        case .unixMilliseconds: return Double(t).map { Date(timeIntervalSince1970: $0 / 1000) }
        case .iso8601, .sqlUTC: return iso(t)
        case .compact: return compact(t)
        case .javaDate: return javaDate(t)
        case .auto:
            if t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), !t.isEmpty {
                if t.count == 14, t.hasPrefix("19") || t.hasPrefix("20"), let d = compact(t) { return d }
                guard let n = Double(t) else { return nil }
                return Date(timeIntervalSince1970: n > 1e11 ? n / 1000 : n)
            }
            return iso(t) ?? javaDate(t)
        }
    }

    private static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    private static func date(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Date? {
        guard (1...12).contains(mo), (1...31).contains(d), (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s) else { return nil }
        return utc.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s))
    }

    private static let isoPattern = try! NSRegularExpression(
        pattern: #"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"#)

    private static func iso(_ t: String) -> Date? {
        let ns = t as NSString
        guard let m = isoPattern.firstMatch(in: t, range: NSRange(location: 0, length: ns.length)) else { return nil }
        func group(_ i: Int) -> String? { m.range(at: i).location == NSNotFound ? nil : ns.substring(with: m.range(at: i)) }
        guard let base = date(Int(group(1)!)!, Int(group(2)!)!, Int(group(3)!)!, Int(group(4)!)!, Int(group(5)!)!, Int(group(6)!)!) else { return nil }
        var seconds = base.timeIntervalSince1970
        if let fraction = group(7) { seconds += Double("0" + fraction) ?? 0 }
        if let zone = group(8), zone.hasPrefix("+") || zone.hasPrefix("-") {
            let digits = zone.dropFirst().replacingOccurrences(of: ":", with: "")
            let hours = Int(digits.prefix(2)) ?? 0
            let minutes = digits.count >= 4 ? Int(digits.dropFirst(2).prefix(2)) ?? 0 : 0
            let offset = Double(hours * 3600 + minutes * 60) * (zone.hasPrefix("-") ? -1 : 1)
            seconds -= offset
        }
        return Date(timeIntervalSince1970: seconds)
    }

    private static func compact(_ t: String) -> Date? {
        guard t.count == 14, t.allSatisfy(\.isNumber) else { return nil }
        let a = Array(t)
        func n(_ r: Range<Int>) -> Int { Int(String(a[r]))! }
        return date(n(0..<4), n(4..<6), n(6..<8), n(8..<10), n(10..<12), n(12..<14))
    }

    /// Offsets of the zone abbreviations Java prints, in hours (ambiguous ones resolved to
    /// the reading most likely in humanitarian contexts: `CST` = US Central, `IST` = India).
    static let zoneAbbreviations: [String: Double] = [
        "UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "WAT": 1, "CAT": 2,
        "SAST": 2, "EAT": 3, "MSK": 3, "AST": -4, "ADT": -3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
        "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "COT": -5, "PET": -5, "ECT": -5, "VET": -4, "BOT": -4,
        "CLT": -4, "CLST": -3, "ART": -3, "BRT": -3, "UYT": -3, "PYT": -4, "PKT": 5, "IST": 5.5, "NPT": 5.75,
        "BDT": 6, "ICT": 7, "WIB": 7, "PHT": 8, "SGT": 8, "JST": 9, "AEST": 10, "TRT": 3, "IRST": 3.5, "AFT": 4.5,
    ]

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func javaDate(_ t: String) -> Date? {
        let parts = t.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 6, let month = months.firstIndex(of: parts[1].lowercased()), let day = Int(parts[2]),
              let year = Int(parts[5]) else { return nil }
        let clock = parts[3].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, let base = date(year, month + 1, day, clock[0], clock[1], clock[2]) else { return nil }
        let zone = parts[4].uppercased()
        let offset: Double
        if let hours = zoneAbbreviations[zone] {
            offset = hours * 3600
        } else if let tz = TimeZone(abbreviation: zone) ?? TimeZone(identifier: parts[4]) {
            offset = Double(tz.secondsFromGMT(for: base))
        } else {
            return nil
        }
        return base.addingTimeInterval(-offset)
    }
}
