@testable import EscuchaCore
import Foundation
import Testing

/// The shipped configuration, read from the repository.
private enum ShippedConfig {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var rulesPath: String { root.appendingPathComponent("Config/escalation.yaml").path }
    static var teamsPath: String { root.appendingPathComponent("Config/teams.yaml").path }
    static var taxonomyPath: String { root.appendingPathComponent("Config/taxonomy.yaml").path }
}

@Suite struct EscalationRulesLoadingTests {
    @Test func theShippedRulesAndTeamsAreValidAndConsistent() throws {
        let taxonomy = try Taxonomy.load(path: ShippedConfig.taxonomyPath)
        let (rules, problems) = EscalationRuleSet.check(try ConfigNode.load(path: ShippedConfig.rulesPath), taxonomy: taxonomy)
        #expect(problems.isEmpty, "\(problems)")
        let directory = try EscalationDirectory.load(path: ShippedConfig.teamsPath)
        #expect(directory.problems(with: rules).isEmpty, "\(directory.problems(with: rules))")
    }

    @Test func anUnknownFlagIsReportedWithFileAndLine() throws {
        let taxonomy = try Taxonomy.load(path: ShippedConfig.taxonomyPath)
        let yaml = """
            rules:
              - name: a
                when:
                  flags: [protection.gbv, protection.nonsense]
            """
        #expect(throws: ConfigError(file: "x.yaml", line: 4, message: "unknown flag 'protection.nonsense'; flags are listed in Config/taxonomy.yaml")) {
            try EscalationRuleSet.parse(yaml, file: "x.yaml", taxonomy: taxonomy)
        }
    }

    @Test(arguments: [
        ("rules:\n  - name: a\n    then: {acknowledge_within: soon}\n", 3, "'acknowledge_within' is not a duration"),
        ("rules:\n  - name: a\n    chain:\n      - {notify: \"boss\"}\n", 4, "'boss' is not a target"),
        ("rules:\n  - name: a\n    when: {severity: [urgent]}\n", 3, "'urgent' is not a severity"),
        ("rules:\n  - name: a\n    colour: red\n", 3, "unknown key 'colour'"),
        ("rules:\n  - name: a\n  - name: a\n", 3, "rule name 'a' is already used"),
        ("rules:\n  - summary: no name\n", 2, "missing 'name'"),
    ])
    func problemsNameTheLine(yaml: String, line: Int, message: String) {
        let (_, problems) = EscalationRuleSet.check(try! ConfigNode.parse(yaml, file: "r.yaml"))
        #expect(problems.first?.line == line)
        #expect(problems.first?.message.hasPrefix(message) == true, "\(problems)")
        #expect(problems.first?.description.hasPrefix("r.yaml:\(line): ") == true)
    }

    @Test func durationsParseAndPrint() {
        #expect(EscalationDuration(parsing: "4h") == .hours(4))
        #expect(EscalationDuration(parsing: "30m") == .minutes(30))
        #expect(EscalationDuration(parsing: "2d") == .days(2))
        #expect(EscalationDuration(parsing: "1w") == .days(7))
        #expect(EscalationDuration(parsing: "soon") == nil)
        #expect(EscalationDuration.days(7).description == "1w")
        #expect(EscalationDuration.minutes(90).description == "90m")
    }
}

@Suite struct EscalationEvaluationTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var rules: EscalationRuleSet {
        get throws { try EscalationRuleSet.load(path: ShippedConfig.rulesPath) }
    }

    @Test func seaByAidWorkersGoesOnlyToThePSEAFocalPoint() throws {
        let outcome = try rules.evaluate(
            EscalationFacts(flags: ["misconduct.sexual_exploitation", "discrimination.mistreatment"], severity: .critical, restricted: true), now: now)
        #expect(outcome.matches.map(\.rule.name) == ["psea"])
        #expect(outcome.stoppedBy == "psea")
        #expect(outcome.team == "psea")
        #expect(outcome.restricted)
        #expect(outcome.steps.map(\.target) == [.role("psea_focal_point")])
        #expect(outcome.steps.first?.dueAt == now)
    }

    @Test func childProtectionGoesToTheProtectionFocalPointRestricted() throws {
        let outcome = try rules.evaluate(EscalationFacts(flags: ["protection.child_at_risk"], severity: .critical), now: now)
        #expect(outcome.restricted)
        #expect(outcome.team == "protection")
        #expect(outcome.steps.map(\.target) == [.role("protection_focal_point")])
        #expect(outcome.acknowledgeBy == now.addingTimeInterval(4 * 3600))
        #expect(outcome.matches.first?.reasons == ["flag protection.child_at_risk"])
    }

    @Test func selfHarmGoesToTheDutyOfficerWithTheShortestDeadline() throws {
        let outcome = try rules.evaluate(
            EscalationFacts(flags: ["protection.self_harm", "protection.child_at_risk"], severity: .critical, restricted: true), now: now)
        #expect(outcome.steps.first?.target == .role("duty_officer"))
        #expect(outcome.steps.map(\.target).contains(.role("protection_focal_point")))
        #expect(outcome.acknowledgeBy == now.addingTimeInterval(3600))
        #expect(outcome.restricted)
    }

    @Test(arguments: [
        (Severity.high, "tier-high", 24), (.medium, "tier-medium", 48), (.low, "tier-low", 120),
    ])
    func priorityTiersSetTheAcknowledgeDeadline(severity: Severity, rule: String, hours: Int) throws {
        let outcome = try rules.evaluate(EscalationFacts(flags: [], severity: severity, type: "complaint"), now: now)
        #expect(outcome.matches.map(\.rule.name) == [rule])
        #expect(outcome.acknowledgeBy == now.addingTimeInterval(TimeInterval(hours * 3600)))
        #expect(outcome.team == "cea")
    }

    @Test func conditionsAreAndedAndListsAreOred() {
        let condition = EscalationCondition(families: ["protection"], types: ["request", "complaint"], locations: ["Cúcuta"])
        #expect(condition.evaluate(EscalationFacts(flags: ["protection.violence"], severity: .high, type: "request", location: "cúcuta")).holds)
        #expect(!condition.evaluate(EscalationFacts(flags: ["protection.violence"], severity: .high, type: "praise", location: "Cúcuta")).holds)
        #expect(!condition.evaluate(EscalationFacts(flags: ["stigma.rumour"], severity: .high, type: "request", location: "Cúcuta")).holds)
    }
}

@Suite struct EscalationChainTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let rule = EscalationRule(
        name: "r", condition: .init(),
        actions: .init(
            acknowledgeWithin: .hours(4),
            chain: [.init(target: .role("focal"), within: .hours(4)), .init(target: .role("coordinator"), within: .hours(2)), .init(target: .role("head"))],
            remindEvery: .hours(1), maxReminders: 2))

    @Test func eachLevelSchedulesTheNextAfterItsDeadline() {
        var chain = EscalationChain(rule: rule)
        let first = chain.due(level: 0, now: now)
        #expect(first == [
            .notify(level: 0, target: .role("focal"), via: [.email], reminder: 0, acknowledgeBy: now.addingTimeInterval(4 * 3600)),
            .schedule(level: 1, target: .role("coordinator"), dueAt: now.addingTimeInterval(4 * 3600)),
        ])
        let second = chain.due(level: 1, now: now.addingTimeInterval(4 * 3600))
        #expect(second.last == .schedule(level: 2, target: .role("head"), dueAt: now.addingTimeInterval(6 * 3600)))
    }

    @Test func theLastLevelIsRemindedUntilTheLimit() {
        var chain = EscalationChain(rule: rule, waitingFor: 2)
        #expect(chain.due(level: 2, now: now).last == .schedule(level: 3, target: .role("head"), dueAt: now.addingTimeInterval(3600)))
        #expect(chain.due(level: 3, now: now).first == .notify(level: 3, target: .role("head"), via: [.email], reminder: 1, acknowledgeBy: now.addingTimeInterval(3600)))
        let last = chain.due(level: 4, now: now)
        #expect(last.count == 1)
        #expect(chain.state == .exhausted)
    }

    @Test func acknowledgementStopsTheChain() {
        var chain = EscalationChain(rule: rule)
        _ = chain.due(level: 0, now: now)
        #expect(chain.acknowledge() == [.cancelPending])
        #expect(chain.due(level: 1, now: now).isEmpty)
        #expect(chain.state == .acknowledged)
    }
}

@Suite struct EscalationWorkingHoursTests {
    let hours = EscalationWorkingHours(timeZone: "America/Bogota", weekdays: [2, 3, 4, 5, 6], opens: 8 * 60, closes: 17 * 60)

    func bogota(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    @Test func aDeadlineSetOnFridayAfternoonCarriesOverTheWeekend() {
        // Friday 2027-01-15 16:00 in Bogotá (UTC-5) plus 2 working hours: Monday 09:00.
        #expect(hours.adding(.hours(2), to: bogota("2027-01-15T16:00:00-05:00")) == bogota("2027-01-18T09:00:00-05:00"))
        // 10 working hours from Friday 16:00: 1 h Friday, 9 h Monday → Monday 17:00.
        #expect(hours.adding(.hours(10), to: bogota("2027-01-15T16:00:00-05:00")) == bogota("2027-01-18T17:00:00-05:00"))
        // Whole days count working days: two working days after Friday 16:00 is Tuesday 16:00.
        #expect(hours.adding(.days(2), to: bogota("2027-01-15T16:00:00-05:00")) == bogota("2027-01-19T16:00:00-05:00"))
        // Outside hours, "at once" means at the next opening.
        #expect(hours.adding(.init(seconds: 0), to: bogota("2027-01-16T10:00:00-05:00")) == bogota("2027-01-18T08:00:00-05:00"))
        #expect(hours.adding(.hours(1), to: bogota("2027-01-18T10:00:00-05:00")) == bogota("2027-01-18T11:00:00-05:00"))
    }

    @Test func onlyRulesWithWorkingHoursCountInThem() throws {
        let directory = try EscalationDirectory.load(path: ShippedConfig.teamsPath)
        let rules = try EscalationRuleSet.load(path: ShippedConfig.rulesPath)
        let friday = bogota("2027-01-15T16:00:00-05:00")
        let medium = rules.evaluate(EscalationFacts(flags: [], severity: .medium), now: friday, workingHours: directory.workingHours)
        #expect(medium.acknowledgeBy == bogota("2027-01-19T16:00:00-05:00"))
        let child = rules.evaluate(EscalationFacts(flags: ["protection.child_at_risk"], severity: .critical), now: friday, workingHours: directory.workingHours)
        #expect(child.acknowledgeBy == friday.addingTimeInterval(4 * 3600))
    }

    /// Working time counted day by day with the calendar, as `adding` did before it kept
    /// the days it had seen: the reference the faster version must match.
    static func countedWithTheCalendar(_ hours: EscalationWorkingHours, _ duration: EscalationDuration, from start: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: hours.timeZone)!
        func worked(_ date: Date) -> Bool {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let local = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            return hours.weekdays.contains(parts.weekday!) && !hours.isHoliday(local)
        }
        if duration.seconds > 0 && duration.seconds % 86_400 == 0 {
            var day = countedWithTheCalendar(hours, .init(seconds: 0), from: start)
            var count = duration.seconds / 86_400
            while count > 0 {
                day = calendar.date(byAdding: .day, value: 1, to: day)!
                if worked(day) { count -= 1 }
            }
            return day
        }
        var remaining = TimeInterval(duration.seconds)
        var current = start
        while true {
            let midnight = calendar.startOfDay(for: current)
            let open = midnight.addingTimeInterval(TimeInterval(hours.opens * 60))
            let close = midnight.addingTimeInterval(TimeInterval(hours.closes * 60))
            if worked(current) && current < close {
                let from = max(current, open)
                if remaining <= close.timeIntervalSince(from) { return from.addingTimeInterval(remaining) }
                remaining -= close.timeIntervalSince(from)
            }
            current = calendar.date(byAdding: .day, value: 1, to: midnight)!
        }
    }

    @Test(arguments: ["America/Bogota", "America/Santiago", "America/New_York", "America/Havana", "America/Sao_Paulo"])
    func rememberedDaysGiveTheCalendarsDeadlines(zone: String) {
        // Zones with and without daylight saving time; starts spread over two years, so
        // clock changes, weekends and nights all come up.
        let hours = EscalationWorkingHours(timeZone: zone, weekdays: [2, 3, 4, 5, 6], opens: 8 * 60, closes: 17 * 60 + 30)
        let saturdays = EscalationWorkingHours(
            timeZone: zone, weekdays: [2, 3, 4, 5, 6, 7], opens: 7 * 60, closes: 13 * 60,
            holidayDates: ["2026-05-01", "2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01", "2027-03-26", "2027-11-02"])
        let durations: [EscalationDuration] = [.init(seconds: 0), .init(seconds: 900), .hours(1), .hours(4), .hours(10), .hours(24), .days(1), .days(2), .days(5), .days(14)]
        var generator = SeededRandom(seed: 11)
        let origin = bogota("2026-01-01T00:00:00-05:00").timeIntervalSince1970
        for _ in 0..<400 {
            let start = Date(timeIntervalSince1970: origin + Double(Int.random(in: 0..<(2 * 365 * 86_400), using: &generator)))
            let duration = durations[Int.random(in: 0..<durations.count, using: &generator)]
            for schedule in [hours, saturdays] {
                #expect(schedule.adding(duration, to: start) == Self.countedWithTheCalendar(schedule, duration, from: start), "\(zone) \(start) + \(duration.seconds) s")
            }
        }
    }

    @Test func holidaysAreNotWorked() throws {
        let yaml = """
            teams:
              - id: cea
                timezone: America/Bogota
                hours: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "17:00", holidays: [2026-12-25, 2027-01-01]}
            """
        let hours = try #require(try EscalationDirectory.parse(yaml, file: "teams.yaml").workingHours["cea"])
        #expect(hours.holidays.map(\.description) == ["2026-12-25", "2027-01-01"])
        // Thursday 24 December 16:00 plus 2 working hours: Christmas and the weekend are skipped.
        #expect(hours.adding(.hours(2), to: bogota("2026-12-24T16:00:00-05:00")) == bogota("2026-12-28T09:00:00-05:00"))
        // Two working days from Thursday 24 December 16:00: Monday 28, Tuesday 29.
        #expect(hours.adding(.days(2), to: bogota("2026-12-24T16:00:00-05:00")) == bogota("2026-12-29T16:00:00-05:00"))
        // "At once" on a holiday is the next working morning.
        #expect(hours.adding(.init(seconds: 0), to: bogota("2027-01-01T10:00:00-05:00")) == bogota("2027-01-04T08:00:00-05:00"))
        // Without the holidays, the same start counts Christmas Day.
        #expect(self.hours.adding(.hours(2), to: bogota("2026-12-24T16:00:00-05:00")) == bogota("2026-12-25T09:00:00-05:00"))
    }

    @Test(arguments: [
        ("2026-02-30", "is not a date"), ("25/12/2026", "is not a date"), ("2026-12-25\", \"2026-12-25", "listed twice"),
        ("13-01", "is not a date"), ("easter+x", "is not a date"), ("12-25 friday", "is not a date"), ("12-25\", \"12-25", "listed twice"),
    ])
    func badHolidaysNameTheLine(holidays: String, message: String) {
        let yaml = "teams:\n  - id: a\n    timezone: America/Bogota\n    hours:\n      holidays: [\"\(holidays)\"]\n"
        do {
            _ = try EscalationDirectory.parse(yaml, file: "t.yaml")
            Issue.record("'\(holidays)' was accepted")
        } catch {
            #expect(error.line == 5)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func holidayRulesGiveEachYearsDates() throws {
        // Gregorian Easter Sundays.
        let easter = try #require(HolidayRule.parse("easter"))
        for (year, date) in [(1818, "1818-03-22"), (2000, "2000-04-23"), (2025, "2025-04-20"), (2026, "2026-04-05"), (2027, "2027-03-28"),
                             (2038, "2038-04-25"), (2285, "2285-03-22")] {
            #expect(easter.date(in: year) == date)
        }
        // Colombia, 2027: Epiphany (Wednesday 6 January) and Saint Joseph (Friday 19 March)
        // move to Monday; Holy Thursday and Good Friday; Ascension, Corpus Christi and Sacred
        // Heart fall on Mondays after Easter; a holiday already on a Monday stays.
        let cases = [("01-06 monday", "2027-01-11"), ("03-19 monday", "2027-03-22"), ("easter-3", "2027-03-25"), ("easter-2", "2027-03-26"),
                     ("easter+43", "2027-05-10"), ("easter+64", "2027-05-31"), ("easter+71", "2027-06-07"), ("10-12 monday", "2027-10-18"),
                     ("11-01 monday", "2027-11-01"), ("12-25", "2027-12-25"), ("02-29", nil), ("2026-12-08", nil)]
        for (text, date) in cases {
            let rule = try #require(HolidayRule.parse(text), "\(text)")
            #expect(rule.date(in: 2027) == date, "\(text)")
            #expect(HolidayRule.parse(rule.description) == rule, "\(text) reads back")
        }
        #expect(HolidayRule.parse("02-29")?.date(in: 2028) == "2028-02-29")
        // Moved to Monday across the year's end; signs need digits after them.
        #expect(HolidayRule.parse("12-31 monday")?.date(in: 2026) == "2027-01-04")
        for bad in ["easter++2", "easter-+2", "easter+", "easter 2", "12-25 tuesday", "1-6"] { #expect(HolidayRule.parse(bad) == nil, "\(bad)") }
        // Day numbers agree with Foundation's calendar over four centuries (from 1600: before
        // the reform of 1582 Foundation's calendar is Julian, these are proleptic Gregorian).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        for days in stride(from: -135_000, to: 150_000, by: 997) {
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(days) * 86_400))
            #expect(CivilDate.days(year: parts.year!, month: parts.month!, day: parts.day!) == days)
            #expect(CivilDate.string(days: days) == String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!))
        }
    }

    @Test func workingHoursSkipRuleHolidays() throws {
        let yaml = """
            teams:
              - id: cea
                timezone: America/Bogota
                hours: {days: [mon, tue, wed, thu, fri], holidays: [easter-3, easter-2, 01-06 monday]}
            """
        let hours = try #require(try EscalationDirectory.parse(yaml, file: "teams.yaml").workingHours["cea"])
        #expect(hours.isHoliday("2027-03-25") && hours.isHoliday("2031-04-11") && hours.isHoliday("2027-01-11"))
        #expect(!hours.isHoliday("2027-01-06"))
        // Wednesday 24 March 2027 16:00 plus 2 working hours: Holy Thursday, Good Friday and
        // the weekend are skipped.
        #expect(hours.adding(.hours(2), to: bogota("2027-03-24T16:00:00-05:00")) == bogota("2027-03-29T09:00:00-05:00"))
    }

    @Test func badHoursNameTheLine() {
        let yaml = "teams:\n  - id: a\n    timezone: America/Bogota\n    hours: {days: [mon, funday]}\n"
        #expect(throws: ConfigError.self) { try EscalationDirectory.parse(yaml, file: "t.yaml") }
        do {
            _ = try EscalationDirectory.parse(yaml, file: "t.yaml")
        } catch {
            #expect(error.line == 4)
        }
    }
}
