import Foundation

/// What the rules look at: a ticket as triage sees it. Holds no text and no contact.
public struct EscalationFacts: Sendable, Hashable {
    /// Flags raised.
    public var flags: Set<FlagCode>
    /// Severity from the taxonomy.
    public var severity: Severity
    /// Feedback type.
    public var type: String?
    /// Channel id of the first message.
    public var channelID: String?
    /// Place key.
    public var location: String?
    /// Language (BCP 47).
    public var language: String?
    /// The ticket's team, if already routed.
    public var team: String?
    /// Restricted by the taxonomy.
    public var restricted: Bool

    /// Creates facts.
    public init(
        flags: Set<FlagCode>, severity: Severity, type: String? = nil, channelID: String? = nil, location: String? = nil,
        language: String? = nil, team: String? = nil, restricted: Bool = false
    ) {
        self.flags = flags
        self.severity = severity
        self.type = type
        self.channelID = channelID
        self.location = location
        self.language = language
        self.team = team
        self.restricted = restricted
    }
}

/// A rule that applied, and the conditions that made it apply (for `rules explain`).
public struct EscalationMatch: Sendable, Hashable {
    /// The rule.
    public var rule: EscalationRule
    /// One phrase per condition that held, e.g. `flag misconduct.sexual_exploitation`.
    public var reasons: [String]
}

/// A rule that did not apply, and the first condition that failed.
public struct EscalationMiss: Sendable, Hashable {
    /// The rule name.
    public var rule: String
    /// The condition that failed.
    public var reason: String
}

/// One notification to schedule: level `level` of `rule` to `target` at `dueAt`.
public struct EscalationStep: Sendable, Hashable {
    /// The rule name.
    public var rule: String
    /// The chain level (levels past the chain's end are reminders to the last level).
    public var level: Int
    /// Who is told.
    public var target: EscalationTarget
    /// When.
    public var dueAt: Date
}

/// What the rules decided for a ticket.
public struct EscalationOutcome: Sendable, Hashable {
    /// Rules that applied, in order.
    public var matches: [EscalationMatch]
    /// Rules that did not apply, with the first condition that failed (for `rules explain`).
    public var misses: [EscalationMiss] = []
    /// The severity after the rules.
    public var severity: Severity
    /// Whether the ticket is restricted after the rules.
    public var restricted: Bool
    /// The team the ticket goes to.
    public var team: String?
    /// The officer login it is assigned to.
    public var assignee: String?
    /// Acknowledge deadline.
    public var acknowledgeBy: Date?
    /// Resolve deadline.
    public var resolveBy: Date?
    /// The first level of every applying rule's chain.
    public var steps: [EscalationStep]
    /// The rule that stopped evaluation, if any.
    public var stoppedBy: String?
}

extension EscalationCondition {
    /// Whether the condition holds for `facts`, with the reasons (when it holds) or the
    /// first failing condition (when it does not).
    /// - Parameter facts: the ticket.
    public func evaluate(_ facts: EscalationFacts) -> (holds: Bool, reasons: [String]) {
        var reasons: [String] = []
        func fail(_ reason: String) -> (Bool, [String]) { (false, [reason]) }
        if !flags.isEmpty {
            let hit = facts.flags.intersection(flags).sorted()
            guard !hit.isEmpty else { return fail("none of the flags \(flags.sorted().map(\.rawValue).joined(separator: ", "))") }
            reasons.append("flag \(hit.map(\.rawValue).joined(separator: ", "))")
        }
        if !families.isEmpty {
            let hit = facts.flags.filter { families.contains($0.family) }.sorted()
            guard !hit.isEmpty else { return fail("no flag of the families \(families.sorted().joined(separator: ", "))") }
            reasons.append("family of \(hit.map(\.rawValue).joined(separator: ", "))")
        }
        if !severities.isEmpty {
            guard severities.contains(facts.severity) else { return fail("severity \(facts.severity.rawValue) not in \(severities.map(\.rawValue).sorted().joined(separator: ", "))") }
            reasons.append("severity \(facts.severity.rawValue)")
        }
        if let minimumSeverity {
            guard facts.severity >= minimumSeverity else { return fail("severity \(facts.severity.rawValue) below \(minimumSeverity.rawValue)") }
            reasons.append("severity \(facts.severity.rawValue) ≥ \(minimumSeverity.rawValue)")
        }
        func member(_ value: String?, of set: Set<String>, _ name: String, caseInsensitive: Bool = false) -> String? {
            guard !set.isEmpty else { return nil }
            let candidates = caseInsensitive ? Set(set.map { $0.lowercased() }) : set
            guard let value, candidates.contains(caseInsensitive ? value.lowercased() : value) else {
                return "\(name) \(value ?? "(none)") not in \(set.sorted().joined(separator: ", "))"
            }
            reasons.append("\(name) \(value)")
            return nil
        }
        if let failure = member(facts.type, of: types, "type") { return fail(failure) }
        if let failure = member(facts.channelID, of: channels, "channel") { return fail(failure) }
        if let failure = member(facts.location, of: locations, "location", caseInsensitive: true) { return fail(failure) }
        if let failure = member(facts.language, of: languages, "language") { return fail(failure) }
        if let failure = member(facts.team, of: teams, "team") { return fail(failure) }
        if let restricted {
            guard facts.restricted == restricted else { return fail(restricted ? "the ticket is not restricted" : "the ticket is restricted (the rule is for unrestricted tickets)") }
            reasons.append(restricted ? "restricted" : "not restricted")
        }
        if reasons.isEmpty { reasons.append("always") }
        return (true, reasons)
    }
}

extension EscalationRuleSet {
    /// Applies the rules to a ticket, in order. Severity takes the highest, restricted is
    /// sticky, team and assignee come from the first rule that sets them, deadlines take
    /// the shortest, and every applying rule with a chain schedules its first level. A rule
    /// with `stop` ends evaluation. Later rules see the severity and restriction set by
    /// earlier ones.
    /// - Parameters:
    ///   - facts: the ticket.
    ///   - now: the time deadlines count from (intake time).
    ///   - workingHours: working hours by team id, for rules with `working_hours: true`.
    public func evaluate(_ facts: EscalationFacts, now: Date, workingHours: [String: EscalationWorkingHours] = [:]) -> EscalationOutcome {
        var current = facts
        var outcome = EscalationOutcome(
            matches: [], misses: [], severity: facts.severity, restricted: facts.restricted, team: facts.team, assignee: nil,
            acknowledgeBy: nil, resolveBy: nil, steps: [], stoppedBy: nil)
        func earliest(_ a: Date?, _ b: Date?) -> Date? {
            switch (a, b) {
            case (let a?, let b?): min(a, b)
            case (let a?, nil): a
            case (nil, let b): b
            }
        }
        for rule in rules {
            let (holds, reasons) = rule.condition.evaluate(current)
            guard holds else {
                outcome.misses.append(EscalationMiss(rule: rule.name, reason: reasons.first ?? ""))
                continue
            }
            outcome.matches.append(EscalationMatch(rule: rule, reasons: reasons))
            let actions = rule.actions
            if let severity = actions.severity, severity > current.severity { current.severity = severity }
            if actions.restricted { current.restricted = true }
            if outcome.team == nil, let team = actions.team {
                outcome.team = team
                current.team = team
            }
            if outcome.assignee == nil { outcome.assignee = actions.assignee }
            let hours = actions.workingHours ? current.team.flatMap { workingHours[$0] } : nil
            func after(_ duration: EscalationDuration) -> Date {
                hours?.adding(duration, to: now) ?? now.addingTimeInterval(TimeInterval(duration.seconds))
            }
            outcome.acknowledgeBy = earliest(outcome.acknowledgeBy, actions.acknowledgeWithin.map(after))
            outcome.resolveBy = earliest(outcome.resolveBy, actions.resolveWithin.map(after))
            if let first = actions.chain.first {
                let delay = first.after ?? EscalationDuration(seconds: 0)
                outcome.steps.append(EscalationStep(rule: rule.name, level: 0, target: first.target, dueAt: after(delay)))
            }
            if actions.stop {
                outcome.stoppedBy = rule.name
                break
            }
        }
        outcome.severity = current.severity
        outcome.restricted = current.restricted
        return outcome
    }
}

/// The escalation of one ticket under one rule, as a value-type state machine: the IO
/// layer feeds it events (a level fell due, someone acknowledged) with the time, and
/// carries out the actions it returns.
public struct EscalationChain: Sendable, Hashable {
    /// Where the chain is.
    public enum State: Sendable, Hashable {
        /// Waiting for `level` to fall due.
        case waiting(level: Int)
        /// Someone acknowledged: nothing more happens.
        case acknowledged
        /// Every level and reminder was sent.
        case exhausted
    }

    /// What to do.
    public enum Action: Sendable, Hashable {
        /// Notify `target` by `via`; `reminder` counts reminders to the last level (0 for a first notice).
        case notify(level: Int, target: EscalationTarget, via: [EscalationChannel], reminder: Int, acknowledgeBy: Date?)
        /// Schedule `level` at `dueAt`.
        case schedule(level: Int, target: EscalationTarget, dueAt: Date)
        /// Cancel whatever is still scheduled.
        case cancelPending
    }

    /// The rule's actions.
    public let rule: EscalationRule
    /// The state.
    public private(set) var state: State
    /// The team's working hours, used when the rule counts in working hours.
    public let workingHours: EscalationWorkingHours?

    /// A chain waiting for `level`.
    /// - Parameters:
    ///   - rule: the rule whose chain this is.
    ///   - level: the level that is scheduled next.
    ///   - workingHours: the ticket's team's working hours, if any.
    public init(rule: EscalationRule, waitingFor level: Int = 0, workingHours: EscalationWorkingHours? = nil) {
        self.rule = rule
        self.state = .waiting(level: level)
        self.workingHours = rule.actions.workingHours ? workingHours : nil
    }

    private func after(_ duration: EscalationDuration, from now: Date) -> Date {
        workingHours?.adding(duration, to: now) ?? now.addingTimeInterval(TimeInterval(duration.seconds))
    }

    /// The level that notifies for `level` (levels past the end are reminders to the last).
    public func levelDefinition(_ level: Int) -> EscalationLevel? {
        let chain = rule.actions.chain
        guard !chain.isEmpty, level >= 0 else { return nil }
        return chain[min(level, chain.count - 1)]
    }

    private func window(after level: Int) -> EscalationDuration? {
        let chain = rule.actions.chain
        if level + 1 < chain.count {
            return chain[level + 1].after ?? chain[level].within ?? rule.actions.acknowledgeWithin
        }
        guard let every = rule.actions.remindEvery, level - (chain.count - 1) < rule.actions.maxReminders else { return nil }
        if level == chain.count - 1, let within = chain[level].within { return within }
        return every
    }

    /// Level `level` fell due at `now`: notify it and schedule what follows.
    /// - Parameters:
    ///   - level: the level that fell due.
    ///   - now: the current time.
    public mutating func due(level: Int, now: Date) -> [Action] {
        guard case .waiting = state, let definition = levelDefinition(level) else { return [] }
        let chain = rule.actions.chain
        let reminder = max(0, level - (chain.count - 1))
        let next = window(after: level)
        var actions: [Action] = [
            .notify(level: level, target: definition.target, via: definition.via, reminder: reminder,
                    acknowledgeBy: next.map { after($0, from: now) })
        ]
        if let next, let following = levelDefinition(level + 1) {
            actions.append(.schedule(level: level + 1, target: following.target, dueAt: after(next, from: now)))
            state = .waiting(level: level + 1)
        } else {
            state = .exhausted
        }
        return actions
    }

    /// Someone acknowledged the ticket: the chain stops.
    public mutating func acknowledge() -> [Action] {
        guard case .waiting = state else {
            state = .acknowledged
            return []
        }
        state = .acknowledged
        return [.cancelPending]
    }
}
