import Foundation

/// A span of time written in configuration as `90s`, `30m`, `4h`, `2d` or `1w`.
public struct EscalationDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in seconds.
    public var seconds: Int

    /// Creates a duration.
    /// - Parameter seconds: the length in seconds.
    public init(seconds: Int) { self.seconds = seconds }

    /// `h` hours.
    public static func hours(_ h: Int) -> EscalationDuration { EscalationDuration(seconds: h * 3600) }
    /// `m` minutes.
    public static func minutes(_ m: Int) -> EscalationDuration { EscalationDuration(seconds: m * 60) }
    /// `d` days.
    public static func days(_ d: Int) -> EscalationDuration { EscalationDuration(seconds: d * 86_400) }

    /// Parses `30m`, `4h`, `2d`, `1w`, `90s` (or a bare number of seconds); `nil` when the text is not one.
    /// - Parameter text: the configuration text.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = trimmed.last else { return nil }
        let factor: Int
        var digits = String(trimmed.dropLast())
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        case "w": factor = 604_800
        default:
            factor = 1
            digits = trimmed
        }
        guard let value = Int(digits), value >= 0 else { return nil }
        self.seconds = value * factor
    }

    /// `4h`, `2d`, `90m` — the largest whole unit.
    public var description: String {
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    public static func < (lhs: EscalationDuration, rhs: EscalationDuration) -> Bool { lhs.seconds < rhs.seconds }
}

/// How a notification travels. Every one goes through the transactional outbox.
public enum EscalationChannel: String, Sendable, Hashable, CaseIterable {
    /// Email over SMTP to the officer's address.
    case email
    /// SMS through a configured gateway channel to the officer's phone.
    case sms
    /// A JSON POST to a configured webhook URL.
    case webhook
}

/// Who a chain level notifies: `role:NAME`, `team:ID`, `officer:LOGIN` or `webhook:NAME`
/// (names from `Config/teams.yaml`).
public enum EscalationTarget: Sendable, Hashable, CustomStringConvertible {
    /// Every active officer with the role.
    case role(String)
    /// Every active officer of the team.
    case team(String)
    /// One officer, by login.
    case officer(String)
    /// A webhook endpoint named in `Config/teams.yaml` `webhooks:`.
    case webhook(String)

    /// Parses `kind:name`; `nil` when the text is not one of the four kinds.
    /// - Parameter text: the configuration text.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[1].isEmpty else { return nil }
        switch parts[0] {
        case "role": self = .role(parts[1])
        case "team": self = .team(parts[1])
        case "officer": self = .officer(parts[1])
        case "webhook": self = .webhook(parts[1])
        default: return nil
        }
    }

    /// `role:psea_focal_point`, as written in configuration and stored in `escalations.target`.
    public var description: String {
        switch self {
        case .role(let name): "role:\(name)"
        case .team(let name): "team:\(name)"
        case .officer(let name): "officer:\(name)"
        case .webhook(let name): "webhook:\(name)"
        }
    }
}

/// One level of an escalation chain: who is told, how, and how long they have to
/// acknowledge before the next level is told.
public struct EscalationLevel: Sendable, Hashable {
    /// Who is notified.
    public var target: EscalationTarget
    /// How (default: email; webhook targets always use the webhook).
    public var via: [EscalationChannel]
    /// Delay before this level is notified, counted from the previous level (from intake
    /// for level 0). For levels after the first, the previous level's ``within`` is used
    /// when this is `nil`.
    public var after: EscalationDuration?
    /// How long this level has to acknowledge before the next level is notified; `nil`
    /// uses the rule's acknowledge deadline.
    public var within: EscalationDuration?
    /// The line in the rules file.
    public var line: Int?

    /// Creates a level.
    public init(
        target: EscalationTarget, via: [EscalationChannel] = [.email], after: EscalationDuration? = nil,
        within: EscalationDuration? = nil, line: Int? = nil
    ) {
        self.target = target
        self.via = via
        self.after = after
        self.within = within
        self.line = line
    }
}

/// When a rule applies. Every key given must hold (AND); a list holds when any of its
/// values holds (OR). An empty condition always holds.
public struct EscalationCondition: Sendable, Hashable {
    /// Any of these flags is raised.
    public var flags: Set<FlagCode> = []
    /// A flag of any of these families is raised (`protection`, `misconduct`, …).
    public var families: Set<String> = []
    /// The severity is one of these.
    public var severities: Set<Severity> = []
    /// The severity is at least this.
    public var minimumSeverity: Severity?
    /// The feedback type is one of these.
    public var types: Set<String> = []
    /// The ticket came by one of these channels (channel ids of `Config/escucha.yaml`).
    public var channels: Set<String> = []
    /// The ticket's location is one of these (case-insensitive).
    public var locations: Set<String> = []
    /// The language is one of these.
    public var languages: Set<String> = []
    /// The ticket's team is one of these.
    public var teams: Set<String> = []
    /// The ticket is (or is not) restricted.
    public var restricted: Bool?

    /// Creates a condition.
    public init(
        flags: Set<FlagCode> = [], families: Set<String> = [], severities: Set<Severity> = [],
        minimumSeverity: Severity? = nil, types: Set<String> = [], channels: Set<String> = [],
        locations: Set<String> = [], languages: Set<String> = [], teams: Set<String> = [], restricted: Bool? = nil
    ) {
        self.flags = flags
        self.families = families
        self.severities = severities
        self.minimumSeverity = minimumSeverity
        self.types = types
        self.channels = channels
        self.locations = locations
        self.languages = languages
        self.teams = teams
        self.restricted = restricted
    }
}

/// What a rule does when it applies.
public struct EscalationActions: Sendable, Hashable {
    /// Raise the severity to at least this.
    public var severity: Severity?
    /// Mark the ticket restricted (cleared officers of its team only).
    public var restricted: Bool = false
    /// Route the ticket to this team (the first rule that routes wins).
    public var team: String?
    /// Assign the ticket to this officer login (the first rule that assigns wins).
    public var assignee: String?
    /// Acknowledge deadline (the shortest of all applying rules wins).
    public var acknowledgeWithin: EscalationDuration?
    /// Resolve deadline (the shortest wins).
    public var resolveWithin: EscalationDuration?
    /// The chain: level 0 is notified first; each next level when the previous one's
    /// deadline passes without acknowledgement.
    public var chain: [EscalationLevel] = []
    /// After the last level, remind it this often until someone acknowledges.
    public var remindEvery: EscalationDuration?
    /// At most this many reminders (default 10).
    public var maxReminders: Int = 10
    /// Evaluate no further rules (used for PSEA: nobody else is told).
    public var stop: Bool = false
    /// Count deadlines in the working hours of the ticket's team (when it has them).
    public var workingHours: Bool = false

    /// Creates actions.
    public init(
        severity: Severity? = nil, restricted: Bool = false, team: String? = nil, assignee: String? = nil,
        acknowledgeWithin: EscalationDuration? = nil, resolveWithin: EscalationDuration? = nil,
        chain: [EscalationLevel] = [], remindEvery: EscalationDuration? = nil, maxReminders: Int = 10, stop: Bool = false,
        workingHours: Bool = false
    ) {
        self.workingHours = workingHours
        self.severity = severity
        self.restricted = restricted
        self.team = team
        self.assignee = assignee
        self.acknowledgeWithin = acknowledgeWithin
        self.resolveWithin = resolveWithin
        self.chain = chain
        self.remindEvery = remindEvery
        self.maxReminders = maxReminders
        self.stop = stop
    }
}

/// One rule of `Config/escalation.yaml`.
public struct EscalationRule: Sendable, Hashable {
    /// Unique name; stored in `escalations.rule`.
    public var name: String
    /// Why the rule exists, for people reading `rules explain`.
    public var summary: String
    /// When it applies.
    public var condition: EscalationCondition
    /// What it does.
    public var actions: EscalationActions
    /// The file and line it was read from.
    public var file: String?
    /// The 1-based line.
    public var line: Int?

    /// Creates a rule.
    public init(
        name: String, summary: String = "", condition: EscalationCondition, actions: EscalationActions,
        file: String? = nil, line: Int? = nil
    ) {
        self.name = name
        self.summary = summary
        self.condition = condition
        self.actions = actions
        self.file = file
        self.line = line
    }

    /// Where the rule is written, `file:line`.
    public var location: String {
        switch (file, line) {
        case (let file?, let line?): "\(file):\(line)"
        case (let file?, nil): file
        default: "rule \(name)"
        }
    }
}

/// All rules, in evaluation order.
public struct EscalationRuleSet: Sendable, Hashable {
    /// The rules, in file order.
    public var rules: [EscalationRule]

    /// Creates a rule set.
    /// - Parameter rules: the rules in evaluation order.
    public init(rules: [EscalationRule]) { self.rules = rules }

    /// The rule called `name`.
    /// - Parameter name: a rule name.
    public func rule(named name: String) -> EscalationRule? { rules.first { $0.name == name } }
}
