import Foundation

/// The roles an officer can hold.
public enum OfficerRole: String, Sendable, Hashable, CaseIterable {
    /// Works tickets of the general queue.
    case handler
    /// Focal point of a team or sector.
    case focalPoint = "focal_point"
    /// PSEA focal point: sexual exploitation and abuse by aid workers.
    case pseaFocalPoint = "psea_focal_point"
    /// Protection focal point: child protection, trafficking, GBV.
    case protectionFocalPoint = "protection_focal_point"
    /// Duty officer: self-harm and medical emergencies, around the clock.
    case dutyOfficer = "duty_officer"
    /// CEA or protection coordinator: second level of escalation chains.
    case coordinator
    /// Head of operation: last level of escalation chains.
    case headOfOperation = "head_of_operation"
    /// Supervises a team's queue.
    case supervisor
    /// Sees aggregate reports only, never personal data.
    case reportViewer = "report_viewer"
    /// Configures the system.
    case admin
}

/// A team of `Config/teams.yaml`.
public struct EscalationTeam: Sendable, Hashable {
    /// Short key (`psea`, `cea-cucuta`).
    public var id: String
    /// Display name.
    public var name: String
    /// IANA time zone of the team's working hours.
    public var timeZone: String?
    /// Working hours, when configured.
    public var hours: EscalationWorkingHours?
}

/// An officer of `Config/teams.yaml`. Their own email and phone are work addresses, not
/// the personal data of people who write to us; they are still written to the outbox
/// encrypted.
public struct EscalationOfficer: Sendable, Hashable {
    /// Login (the session's officer for row-level security).
    public var login: String
    /// Display name.
    public var name: String
    /// Team key.
    public var team: String?
    /// Roles.
    public var roles: Set<OfficerRole>
    /// May see restricted tickets of their team.
    public var clearance: Bool
    /// Work email, for email notifications.
    public var email: String?
    /// Work phone, for SMS notifications.
    public var phone: String?
    /// Active officers are notified; inactive ones keep their history.
    public var active: Bool
}

/// One place a notification goes.
public struct EscalationRecipient: Sendable, Hashable {
    /// How.
    public var channel: EscalationChannel
    /// The officer's login, or the webhook's name.
    public var name: String
    /// Email address, phone number or URL.
    public var address: String
}

/// Teams, officers and webhooks: who escalation targets resolve to.
public struct EscalationDirectory: Sendable, Hashable {
    /// Teams.
    public var teams: [EscalationTeam]
    /// Officers.
    public var officers: [EscalationOfficer]
    /// Webhook URLs by name.
    public var webhooks: [String: String]
    /// The SMS channel (`Config/escucha.yaml` channel id) used to text officers.
    public var smsChannel: String?

    /// Creates a directory.
    public init(teams: [EscalationTeam] = [], officers: [EscalationOfficer] = [], webhooks: [String: String] = [:], smsChannel: String? = nil) {
        self.teams = teams
        self.officers = officers
        self.webhooks = webhooks
        self.smsChannel = smsChannel
    }

    /// Working hours by team id (teams that configure them).
    public var workingHours: [String: EscalationWorkingHours] {
        Dictionary(teams.compactMap { team in team.hours.map { (team.id, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    /// Active officers a target names.
    /// - Parameter target: the target.
    public func officers(for target: EscalationTarget) -> [EscalationOfficer] {
        officers.filter { officer in
            guard officer.active else { return false }
            switch target {
            case .role(let role): return officer.roles.contains { $0.rawValue == role }
            case .team(let team): return officer.team == team
            case .officer(let login): return officer.login == login
            case .webhook: return false
            }
        }
    }

    /// Where a notification to `target` by `via` goes (officers without the address are skipped).
    /// - Parameters:
    ///   - target: the target.
    ///   - via: the channels.
    public func recipients(for target: EscalationTarget, via: [EscalationChannel]) -> [EscalationRecipient] {
        if case .webhook(let name) = target {
            return webhooks[name].map { [EscalationRecipient(channel: .webhook, name: name, address: $0)] } ?? []
        }
        var result: [EscalationRecipient] = []
        for officer in officers(for: target) {
            for channel in via {
                switch channel {
                case .email: if let email = officer.email { result.append(.init(channel: .email, name: officer.login, address: email)) }
                case .sms: if let phone = officer.phone { result.append(.init(channel: .sms, name: officer.login, address: phone)) }
                case .webhook: break
                }
            }
        }
        return result
    }

    /// Problems of rules against this directory: targets nobody answers, unknown teams.
    /// - Parameter rules: the rules.
    public func problems(with rules: EscalationRuleSet) -> [ConfigError] {
        var problems: [ConfigError] = []
        let teamIDs = Set(teams.map(\.id))
        for rule in rules.rules {
            if let team = rule.actions.team, !teamIDs.contains(team) {
                problems.append(ConfigError(file: rule.file ?? "escalation.yaml", line: rule.line, message: "rule '\(rule.name)' routes to team '\(team)', which Config/teams.yaml does not list"))
            }
            for level in rule.actions.chain where recipients(for: level.target, via: level.via).isEmpty {
                problems.append(
                    ConfigError(
                        file: rule.file ?? "escalation.yaml", line: level.line,
                        message: "nobody answers \(level.target) by \(level.via.map(\.rawValue).joined(separator: "/")): add an active officer with that role and address (or the webhook) to Config/teams.yaml"))
            }
        }
        return problems
    }

    /// Reads `Config/teams.yaml`.
    /// - Parameter path: the file.
    public static func load(path: String) throws(ConfigError) -> EscalationDirectory {
        try read(ConfigNode.load(path: path))
    }

    /// Parses `teams.yaml` text.
    /// - Parameters:
    ///   - text: the YAML.
    ///   - file: the name used in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> EscalationDirectory {
        try read(ConfigNode.parse(text, file: file))
    }

    private static func read(_ root: ConfigNode) throws(ConfigError) -> EscalationDirectory {
        var directory = EscalationDirectory()
        for entry in root.entries where !["teams", "officers", "webhooks", "sms_channel"].contains(entry.key) {
            throw entry.keyNode.error("unknown key '\(entry.key)'; expected teams, officers, webhooks or sms_channel")
        }
        for item in root["teams"]?.items ?? [] {
            let id = try item.requireString("id")
            if id.range(of: "^[a-z0-9][a-z0-9_-]*$", options: .regularExpression) == nil {
                throw item.error("team id '\(id)' must be lower-case letters, digits, '-' or '_'")
            }
            let zone = item["timezone"]?.string
            if let zone, TimeZone(identifier: zone) == nil {
                throw item["timezone"]!.error("unknown time zone '\(zone)'; use an IANA name such as America/Bogota")
            }
            var hours: EscalationWorkingHours?
            if let node = item["hours"] {
                guard let zone else { throw node.error("working hours need the team's timezone: add `timezone: America/Bogota`") }
                hours = try EscalationWorkingHours.read(node, timeZone: zone)
            }
            directory.teams.append(EscalationTeam(id: id, name: item["name"]?.string ?? id, timeZone: zone, hours: hours))
        }
        let teamIDs = Set(directory.teams.map(\.id))
        var logins = Set<String>()
        for item in root["officers"]?.items ?? [] {
            let login = try item.requireString("login")
            guard logins.insert(login).inserted else { throw item.error("officer '\(login)' is listed twice") }
            var roles = Set<OfficerRole>()
            for role in item["roles"]?.items ?? [] {
                guard let value = role.string.flatMap(OfficerRole.init(rawValue:)) else {
                    throw role.error("unknown role '\(role.string ?? "")'; roles are: \(OfficerRole.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                roles.insert(value)
            }
            let team = item["team"]?.string
            if let team, !teamIDs.contains(team) { throw item["team"]!.error("team '\(team)' is not listed under teams:") }
            directory.officers.append(
                EscalationOfficer(
                    login: login, name: item["name"]?.string ?? login, team: team, roles: roles,
                    clearance: item["clearance"]?.bool ?? false, email: item["email"]?.string, phone: item["phone"]?.string,
                    active: item["active"]?.bool ?? true))
        }
        for entry in root["webhooks"]?.entries ?? [] {
            guard let url = entry.value.string, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw entry.value.error("webhook '\(entry.key)' needs an http(s) URL")
            }
            directory.webhooks[entry.key] = url
        }
        directory.smsChannel = root["sms_channel"]?.string
        return directory
    }
}
