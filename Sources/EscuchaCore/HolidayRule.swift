/// A public holiday as a team's working hours list it: one date, a date every year, or a
/// day counted from Easter Sunday; optionally moved to the following Monday, as Colombia,
/// Argentina and others move many of theirs.
///
/// Written `2026-12-25`, `12-25`, `01-06 monday`, `easter-2` (Good Friday) or `easter+43`.
/// Rules let a National Society list its country's calendar once instead of every year.
public struct HolidayRule: Sendable, Hashable, CustomStringConvertible {
    public enum Day: Sendable, Hashable {
        /// One date.
        case date(year: Int, month: Int, day: Int)
        /// The same date every year.
        case yearly(month: Int, day: Int)
        /// Easter Sunday (Gregorian) plus this many days.
        case easter(offset: Int)
    }

    public let day: Day
    /// Moved to the next Monday when it falls on another weekday.
    public let movedToMonday: Bool

    public init(day: Day, movedToMonday: Bool = false) {
        self.day = day
        self.movedToMonday = movedToMonday
    }

    /// Reads a rule; `nil` when `text` is none of the forms.
    public static func parse(_ text: String) -> HolidayRule? {
        let words = text.lowercased().split(separator: " ")
        guard let first = words.first, words.count <= 2 else { return nil }
        var moved = false
        if words.count == 2 {
            guard words[1] == "monday" || words[1] == "mon" else { return nil }
            moved = true
        }
        if first.hasPrefix("easter") {
            let rest = first.dropFirst("easter".count)
            if rest.isEmpty { return HolidayRule(day: .easter(offset: 0), movedToMonday: moved) }
            let digits = rest.dropFirst()
            guard let sign = rest.first, sign == "+" || sign == "-", !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let amount = Int(digits), (0...366).contains(amount)
            else {
                return nil
            }
            return HolidayRule(day: .easter(offset: sign == "-" ? -amount : amount), movedToMonday: moved)
        }
        let parts = first.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        switch parts.count {
        case 2:
            guard parts[0].count == 2, parts[1].count == 2, let month = Int(parts[0]), let day = Int(parts[1]),
                  CivilDate.isValid(year: 2000, month: month, day: day)  // 2000 is a leap year: 02-29 is allowed
            else { return nil }
            return HolidayRule(day: .yearly(month: month, day: day), movedToMonday: moved)
        case 3:
            guard parts[0].count == 4, parts[1].count == 2, parts[2].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
                  let day = Int(parts[2]), CivilDate.isValid(year: year, month: month, day: day)
            else { return nil }
            return HolidayRule(day: .date(year: year, month: month, day: day), movedToMonday: moved)
        default:
            return nil
        }
    }

    /// The holiday's date in `year`, `YYYY-MM-DD`; `nil` when it has none that year (a
    /// single date of another year, 02-29 in a common year).
    public func date(in year: Int) -> String? {
        var days: Int
        switch day {
        case let .date(ruleYear, month, day):
            guard ruleYear == year else { return nil }
            days = CivilDate.days(year: year, month: month, day: day)
        case let .yearly(month, day):
            guard CivilDate.isValid(year: year, month: month, day: day) else { return nil }
            days = CivilDate.days(year: year, month: month, day: day)
        case let .easter(offset):
            let easter = CivilDate.easterSunday(year: year)
            days = CivilDate.days(year: year, month: easter.month, day: easter.day) + offset
        }
        if movedToMonday {
            // 1970-01-01 (day 0) was a Thursday: Monday is 4 days later in the week.
            let sinceMonday = ((days - 4) % 7 + 7) % 7
            if sinceMonday != 0 { days += 7 - sinceMonday }
        }
        return CivilDate.string(days: days)
    }

    public var description: String {
        let base: String
        switch day {
        case let .date(year, month, day): base = CivilDate.format(year: year, month: month, day: day)
        case let .yearly(month, day): base = String(CivilDate.format(year: 2000, month: month, day: day).dropFirst(5))
        case let .easter(offset): base = offset == 0 ? "easter" : (offset > 0 ? "easter+\(offset)" : "easter\(offset)")
        }
        return movedToMonday ? base + " monday" : base
    }
}

/// Proleptic Gregorian dates as day numbers (days since 1970-01-01), without a calendar
/// object: holiday rules expand to many years at load time, and PostgreSQL's timestamps
/// are read and written as text.
public enum CivilDate {
    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    public static func isValid(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let lengths = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    /// Days since 1970-01-01 (Howard Hinnant's days-from-civil algorithm).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day number.
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func string(days: Int) -> String {
        let date = civil(days: days)
        return format(year: date.year, month: date.month, day: date.day)
    }

    public static func format(year: Int, month: Int, day: Int) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher).
    public static func easterSunday(year: Int) -> (month: Int, day: Int) {
        let a = year % 19
        let b = year / 100
        let c = year % 100
        let d = b / 4
        let e = b % 4
        let f = (b + 8) / 25
        let g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4
        let k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return (month, day)
    }
}
