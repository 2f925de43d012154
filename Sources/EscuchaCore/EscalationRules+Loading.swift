import Foundation

extension EscalationRuleSet {
    /// Reads `Config/escalation.yaml`.
    ///
    /// ```yaml
    /// rules:
    ///   - name: psea
    ///     summary: SEA by aid workers goes to the PSEA focal point only
    ///     when: {flags: [misconduct.sexual_exploitation]}
    ///     then: {severity: critical, restricted: true, team: psea, acknowledge_within: 4h, stop: true}
    ///     chain:
    ///       - {notify: "role:psea_focal_point", via: [email], within: 4h}
    ///       - {notify: "role:psea_coordinator"}
    /// ```
    /// - Parameters:
    ///   - path: the file.
    ///   - taxonomy: when given, flag codes and families are checked against it.
    /// - Throws: the first problem, with file and line.
    public static func load(path: String, taxonomy: Taxonomy? = nil) throws(ConfigError) -> EscalationRuleSet {
        let (rules, problems) = check(try ConfigNode.load(path: path), taxonomy: taxonomy)
        if let first = problems.first { throw first }
        return rules
    }

    /// Parses rules from YAML text.
    /// - Parameters:
    ///   - text: the YAML.
    ///   - file: the name used in errors.
    ///   - taxonomy: when given, flag codes and families are checked against it.
    /// - Throws: the first problem, with file and line.
    public static func parse(_ text: String, file: String, taxonomy: Taxonomy? = nil) throws(ConfigError) -> EscalationRuleSet {
        let (rules, problems) = check(try ConfigNode.parse(text, file: file), taxonomy: taxonomy)
        if let first = problems.first { throw first }
        return rules
    }

    /// Reads every rule it can and reports every problem (for `escucha rules check`).
    /// - Parameters:
    ///   - root: the parsed file.
    ///   - taxonomy: when given, flag codes and families are checked against it.
    /// - Returns: the rules that could be read, and the problems in file order.
    public static func check(_ root: ConfigNode, taxonomy: Taxonomy? = nil) -> (EscalationRuleSet, [ConfigError]) {
        var problems: [ConfigError] = []
        var rules: [EscalationRule] = []
        unknownKeys(in: root, allowed: ["rules", "version"], problems: &problems)
        guard let list = root["rules"] else {
            problems.append(root.error("missing 'rules': add `rules:` with a list of rules"))
            return (EscalationRuleSet(rules: []), problems)
        }
        var names: [String: Int] = [:]
        for item in list.items {
            guard item.isMapping else {
                problems.append(item.error("a rule is a mapping with name, when, then and chain"))
                continue
            }
            if let rule = readRule(item, taxonomy: taxonomy, problems: &problems) {
                if let previous = names[rule.name] {
                    problems.append(item.error("rule name '\(rule.name)' is already used on line \(previous); rule names must be unique"))
                }
                names[rule.name] = item.line ?? 0
                rules.append(rule)
            }
        }
        return (EscalationRuleSet(rules: rules), problems)
    }

    private static func unknownKeys(in node: ConfigNode, allowed: Set<String>, problems: inout [ConfigError]) {
        for entry in node.entries where !allowed.contains(entry.key) {
            problems.append(entry.keyNode.error("unknown key '\(entry.key)'; expected one of: \(allowed.sorted().joined(separator: ", "))"))
        }
    }

    private static func duration(_ node: ConfigNode?, _ key: String, problems: inout [ConfigError]) -> EscalationDuration? {
        guard let node else { return nil }
        guard let text = node.string, let value = EscalationDuration(parsing: text) else {
            problems.append(node.error("'\(key)' is not a duration; write e.g. 30m, 4h, 2d or 1w"))
            return nil
        }
        return value
    }

    private static func severity(_ node: ConfigNode, problems: inout [ConfigError]) -> Severity? {
        guard let text = node.string, let value = Severity(rawValue: text) else {
            problems.append(node.error("'\(node.string ?? "")' is not a severity; use low, medium, high or critical"))
            return nil
        }
        return value
    }

    private static func readRule(_ node: ConfigNode, taxonomy: Taxonomy?, problems: inout [ConfigError]) -> EscalationRule? {
        unknownKeys(in: node, allowed: ["name", "summary", "when", "then", "chain"], problems: &problems)
        guard let name = node["name"]?.string, !name.isEmpty else {
            problems.append(node.error("missing 'name': add `name: …` (stored with every escalation)"))
            return nil
        }
        if name.range(of: "^[a-z0-9][a-z0-9_.-]*$", options: .regularExpression) == nil {
            problems.append(node["name"]!.error("rule name '\(name)' must be lower-case letters, digits, '-', '_' or '.'"))
        }
        var condition = EscalationCondition()
        if let when = node["when"] {
            unknownKeys(
                in: when,
                allowed: ["flags", "families", "severity", "min_severity", "types", "channels", "locations", "languages", "teams", "restricted"],
                problems: &problems)
            for item in when["flags"]?.items ?? [] {
                guard let code = item.string else { continue }
                if let taxonomy, taxonomy.flag(FlagCode(code)) == nil {
                    problems.append(item.error("unknown flag '\(code)'; flags are listed in Config/taxonomy.yaml"))
                }
                condition.flags.insert(FlagCode(code))
            }
            for item in when["families"]?.items ?? [] {
                guard let family = item.string else { continue }
                if let taxonomy, !taxonomy.families.contains(family) {
                    problems.append(item.error("unknown flag family '\(family)'; families are: \(taxonomy.families.joined(separator: ", "))"))
                }
                condition.families.insert(family)
            }
            for item in when["severity"]?.items ?? [] {
                if let value = severity(item, problems: &problems) { condition.severities.insert(value) }
            }
            if let item = when["min_severity"] { condition.minimumSeverity = severity(item, problems: &problems) }
            condition.types = Set(when.strings("types"))
            if let taxonomy {
                for item in when["types"]?.items ?? [] where !taxonomy.types.contains(item.string ?? "") {
                    problems.append(item.error("unknown type '\(item.string ?? "")'; types are: \(taxonomy.types.joined(separator: ", "))"))
                }
            }
            condition.channels = Set(when.strings("channels"))
            condition.locations = Set(when.strings("locations"))
            condition.languages = Set(when.strings("languages"))
            condition.teams = Set(when.strings("teams"))
            if let item = when["restricted"] {
                if let value = item.bool { condition.restricted = value } else { problems.append(item.error("'restricted' must be true or false")) }
            }
        }
        var actions = EscalationActions()
        if let then = node["then"] {
            unknownKeys(
                in: then,
                allowed: ["severity", "restricted", "team", "assign", "acknowledge_within", "resolve_within", "remind_every", "max_reminders", "stop", "working_hours"],
                problems: &problems)
            if let item = then["severity"] { actions.severity = severity(item, problems: &problems) }
            if let item = then["restricted"] {
                if let value = item.bool { actions.restricted = value } else { problems.append(item.error("'restricted' must be true or false")) }
            }
            actions.team = then["team"]?.string
            actions.assignee = then["assign"]?.string
            actions.acknowledgeWithin = duration(then["acknowledge_within"], "acknowledge_within", problems: &problems)
            actions.resolveWithin = duration(then["resolve_within"], "resolve_within", problems: &problems)
            actions.remindEvery = duration(then["remind_every"], "remind_every", problems: &problems)
            if let item = then["max_reminders"] {
                if let value = item.int, value >= 0 { actions.maxReminders = value } else { problems.append(item.error("'max_reminders' must be a whole number ≥ 0")) }
            }
            if let item = then["working_hours"] {
                if let value = item.bool { actions.workingHours = value } else { problems.append(item.error("'working_hours' must be true or false")) }
            }
            if let item = then["stop"] {
                if let value = item.bool { actions.stop = value } else { problems.append(item.error("'stop' must be true or false")) }
            }
            if let within = actions.acknowledgeWithin, let resolve = actions.resolveWithin, resolve < within {
                problems.append(then.error("resolve_within (\(resolve)) is shorter than acknowledge_within (\(within))"))
            }
            if let every = actions.remindEvery, every.seconds < 300 {
                problems.append(then["remind_every"]!.error("remind_every (\(every)) is shorter than 5m; people stop reading reminders that come that often"))
            }
        }
        for item in node["chain"]?.items ?? [] {
            guard item.isMapping else {
                problems.append(item.error("a chain level is a mapping: {notify: \"role:NAME\", via: [email], within: 4h}"))
                continue
            }
            unknownKeys(in: item, allowed: ["notify", "via", "after", "within"], problems: &problems)
            guard let text = item["notify"]?.string else {
                problems.append(item.error("missing 'notify': add `notify: role:NAME` (or team:ID, officer:LOGIN, webhook:NAME)"))
                continue
            }
            guard let target = EscalationTarget(parsing: text) else {
                problems.append(item["notify"]!.error("'\(text)' is not a target; write role:NAME, team:ID, officer:LOGIN or webhook:NAME"))
                continue
            }
            var via: [EscalationChannel] = []
            for channel in item["via"]?.items ?? [] {
                guard let value = channel.string.flatMap(EscalationChannel.init(rawValue:)) else {
                    problems.append(channel.error("'\(channel.string ?? "")' is not a channel; use email, sms or webhook"))
                    continue
                }
                via.append(value)
            }
            if case .webhook = target { via = [.webhook] } else if via.isEmpty { via = [.email] }
            actions.chain.append(
                EscalationLevel(
                    target: target, via: via, after: duration(item["after"], "after", problems: &problems),
                    within: duration(item["within"], "within", problems: &problems), line: item.line))
        }
        if actions.remindEvery != nil && actions.chain.isEmpty {
            problems.append(node.error("rule '\(name)' has remind_every but no chain: add a chain level to remind"))
        }
        if actions.chain.count > 1 {
            for (index, level) in actions.chain.enumerated().dropLast() where level.within == nil && actions.acknowledgeWithin == nil && actions.chain[index + 1].after == nil {
                problems.append(
                    ConfigError(file: node.file, line: level.line, message: "level \(index) has no deadline: add `within:` here or `acknowledge_within:` under then, so the next level knows when to act"))
            }
        }
        return EscalationRule(
            name: name, summary: node["summary"]?.string ?? "", condition: condition, actions: actions, file: node.file, line: node.line)
    }
}
