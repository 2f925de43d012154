public import EscuchaCore
import Foundation

extension GatewayDefinition {
    /// Reads a definition from YAML text (no IO).
    /// - Parameters:
    ///   - yaml: the YAML source.
    ///   - file: the file name used in errors.
    /// - Throws: ``ConfigError`` with file and line.
    public static func parse(yaml: String, file: String) throws(ConfigError) -> GatewayDefinition {
        try GatewayDefinition(node: try ConfigNode.parse(yaml, file: file))
    }

    /// Reads the definition file at `path`.
    /// - Parameter path: the file.
    /// - Throws: ``ConfigError`` with file and line.
    public static func load(path: String) throws(ConfigError) -> GatewayDefinition {
        try GatewayDefinition(node: try ConfigNode.load(path: path))
    }

    /// Builds a definition from a YAML node.
    /// - Parameter node: the document root.
    public init(node: ConfigNode) throws(ConfigError) {
        guard node.isMapping else { throw node.error("a gateway definition is a mapping with 'gateway:', 'routes:' …") }
        try DefinitionReader.checkKeys(node, ["gateway", "name", "kind", "body", "case_insensitive_fields", "verify", "respond", "routes", "reply", "notes"])
        id = try node.requireString("gateway")
        name = node["name"]?.string ?? id
        file = node.file
        warnings = []
        let kindText = node["kind"]?.string ?? "sms"
        guard let k = ChannelKind(rawValue: kindText) else { throw node["kind"]!.error("unknown kind '\(kindText)': use sms") }
        kind = k
        body = try DefinitionReader.enumValue(node["body"], default: .auto)
        caseInsensitiveFields = node["case_insensitive_fields"]?.bool ?? false
        verification = try node["verify"].map { n throws(ConfigError) in try DefinitionReader.verification(n) } ?? .none
        if let respond = node["respond"] {
            try DefinitionReader.checkKeys(respond, ["status", "content_type", "body", "rejected_status"])
            success = ResponseSpec(status: respond["status"]?.int ?? 200, contentType: respond["content_type"]?.string ?? "text/plain", body: respond["body"]?.string ?? "")
            rejectionStatus = respond["rejected_status"]?.int
        } else {
            success = ResponseSpec(status: 200, contentType: "text/plain", body: "")
            rejectionStatus = nil
        }
        guard let routesNode = node["routes"], !routesNode.items.isEmpty else {
            throw node.error("missing 'routes': add at least one route with 'rules:'")
        }
        var routes: [RouteSpec] = []
        for r in routesNode.items { routes.append(try DefinitionReader.route(r)) }
        self.routes = routes
        if let replyNode = node["reply"] {
            reply = try OutboundTemplate(node: replyNode)
        } else {
            reply = nil
            warnings.append(node.error("no 'reply:' template: acknowledgements cannot be sent through this gateway"))
        }
    }
}

/// Reading helpers shared by definition and instance loading.
enum DefinitionReader {
    static func checkKeys(_ node: ConfigNode, _ allowed: [String]) throws(ConfigError) {
        for entry in node.entries where !allowed.contains(entry.key) {
            throw entry.keyNode.error("unknown key '\(entry.key)': expected one of \(allowed.joined(separator: ", "))")
        }
    }

    static func enumValue<E: RawRepresentable & CaseIterable>(_ node: ConfigNode?, default value: E) throws(ConfigError) -> E where E.RawValue == String {
        guard let node else { return value }
        guard let text = node.string, let v = E(rawValue: text) else {
            throw node.error("'\(node.string ?? "?")' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    static func path(_ node: ConfigNode) throws(ConfigError) -> FieldPath {
        guard let text = node.string else { throw node.error("expected a path such as form:From or json:results[*].from") }
        do { return try FieldPath.parse(text) } catch { throw node.error(error.message) }
    }

    static func paths(_ node: ConfigNode?) throws(ConfigError) -> [FieldPath] {
        guard let node else { return [] }
        var out: [FieldPath] = []
        for item in node.items { out.append(try path(item)) }
        return out
    }

    static func conditions(_ node: ConfigNode?) throws(ConfigError) -> [Condition] {
        guard let node else { return [] }
        let list = node.isMapping ? [node] : node.items
        var out: [Condition] = []
        for c in list {
            guard c.isMapping, let p = c["path"] else { throw c.error("a condition is {path: …, equals|in|not_in|present|is_json: …}") }
            try checkKeys(c, ["path", "equals", "in", "not_equals", "not_in", "present", "exists", "is_json"])
            let fp = try path(p)
            let test: Condition.Test
            if let v = c["equals"] { test = .oneOf(v.items.compactMap(\.string)) }
            else if let v = c["in"] { test = .oneOf(v.items.compactMap(\.string)) }
            else if let v = c["not_equals"] ?? c["not_in"] { test = .noneOf(v.items.compactMap(\.string)) }
            else if let v = c["present"] ?? c["exists"] { test = .present(v.bool ?? true) }
            else if let v = c["is_json"] { test = .isJSON(v.bool ?? true) }
            else { test = .present(true) }
            out.append(Condition(path: fp, test: test))
        }
        return out
    }

    static let valueKeys = ["path", "paths", "template", "when", "default", "required", "strip_prefix", "normalize", "charset",
                            "charset_from", "percent_encoded", "decode", "format", "match"]

    static func alternative(_ node: ConfigNode) throws(ConfigError) -> ValueSpec.Alternative {
        if let text = node.string {
            if text.contains("{{") { return try templateAlternative(text, node: node, when: []) }
            return ValueSpec.Alternative(path: try path(node), template: nil, templatePaths: [], when: [])
        }
        guard node.isMapping else { throw node.error("expected a path, a template or {path: …, when: …}") }
        let when = try conditions(node["when"])
        if let t = node["template"]?.string { return try templateAlternative(t, node: node, when: when) }
        guard let p = node["path"] else { throw node.error("an alternative needs 'path:' or 'template:'") }
        return ValueSpec.Alternative(path: try path(p), template: nil, templatePaths: [], when: when)
    }

    static func templateAlternative(_ text: String, node: ConfigNode, when: [Condition]) throws(ConfigError) -> ValueSpec.Alternative {
        var paths: [FieldPath] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw node.error("template '\(text)' has '{{' without '}}'") }
            let inner = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            do { paths.append(try FieldPath.parse(inner)) } catch { throw node.error(error.message) }
            rest = rest[close.upperBound...]
        }
        return ValueSpec.Alternative(path: nil, template: text, templatePaths: paths, when: when)
    }

    static func value(_ node: ConfigNode?) throws(ConfigError) -> ValueSpec? {
        guard let node else { return nil }
        var spec = ValueSpec(path: nil)
        if node.string != nil {
            spec.alternatives = [try alternative(node)]
            return spec
        }
        if !node.isMapping {
            for item in node.items { spec.alternatives.append(try alternative(item)) }
            return spec
        }
        try checkKeys(node, valueKeys)
        if node["path"] != nil || node["template"] != nil {
            spec.alternatives = [try alternative(node)]
        } else if let list = node["paths"] {
            for item in list.items { spec.alternatives.append(try alternative(item)) }
        } else if node["default"] == nil {
            throw node.error("a value needs 'path:', 'paths:', 'template:' or 'default:'")
        }
        spec.defaultValue = node["default"]?.string
        spec.required = node["required"]?.bool ?? false
        spec.stripPrefixes = node.strings("strip_prefix")
        spec.normalize = try enumValue(node["normalize"], default: .none)
        spec.charset = node["charset"]?.string
        if let cf = node["charset_from"] { spec.charsetFrom = try path(cf) }
        spec.percentEncoded = node["percent_encoded"]?.bool ?? false
        if let d = node["decode"] {
            guard let s = d.string, ["base64", "base64_if_encoded"].contains(s) else { throw d.error("decode is base64 or base64_if_encoded") }
            spec.decode = s
        }
        spec.format = try enumValue(node["format"], default: .auto)
        if let m = node["match"]?.string {
            guard (try? NSRegularExpression(pattern: m)) != nil else { throw node["match"]!.error("'\(m)' is not a valid regular expression") }
            spec.match = m
        }
        return spec
    }

    static func media(_ node: ConfigNode?) throws(ConfigError) -> [MediaSpec] {
        guard let node else { return [] }
        var out: [MediaSpec] = []
        for m in node.items {
            guard m.isMapping else { throw m.error("a media entry is {each: …, url: …, content_type: …} or {url: form:MediaUrl{i}}") }
            try checkKeys(m, ["each", "url", "content_type", "latitude", "longitude"])
            let spec = MediaSpec(
                each: try m["each"].map { n throws(ConfigError) in try path(n) }, url: try value(m["url"]), contentType: try value(m["content_type"]),
                latitude: try value(m["latitude"]), longitude: try value(m["longitude"]))
            guard spec.url != nil || (spec.latitude != nil && spec.longitude != nil) else {
                throw m.error("a media entry needs 'url:' or both 'latitude:' and 'longitude:'")
            }
            out.append(spec)
        }
        return out
    }

    static func verification(_ node: ConfigNode) throws(ConfigError) -> VerificationSpec {
        if node.string == "none" { return .none }
        guard node.isMapping else { throw node.error("'verify' is 'none' or a mapping with 'type:'") }
        try checkKeys(node, ["type", "header", "algorithm", "encoding", "prefix", "message", "source", "timestamp", "max_age"])
        var spec = VerificationSpec.none
        spec.kind = try enumValue(node["type"], default: .none)
        spec.header = node["header"]?.string
        spec.algorithm = node["algorithm"]?.string ?? "sha256"
        guard ["sha256", "sha1", "md5", "sha512"].contains(spec.algorithm) else { throw node["algorithm"]!.error("algorithm is sha256, sha1, sha512 or md5") }
        spec.encoding = node["encoding"]?.string ?? "hex"
        guard ["hex", "base64"].contains(spec.encoding) else { throw node["encoding"]!.error("encoding is hex or base64") }
        spec.prefix = node["prefix"]?.string ?? ""
        spec.message = node["message"]?.string ?? "{body}"
        spec.sources = try paths(node["source"])
        spec.timestamp = try node["timestamp"].map { n throws(ConfigError) in try path(n) }
        spec.maxAge = node["max_age"]?.int ?? 0
        switch spec.kind {
        case .hmac, .twilioSignature, .messagebirdJWT, .plivoV2:
            if spec.header == nil { throw node.error("verify type '\(spec.kind.rawValue)' needs 'header:'") }
        case .token:
            if spec.sources.isEmpty { throw node.error("verify type 'token' needs 'source:' (e.g. header:X-Token or form:secret)") }
        default: break
        }
        return spec
    }

    static func route(_ node: ConfigNode) throws(ConfigError) -> RouteSpec {
        guard node.isMapping else { throw node.error("a route is a mapping with 'rules:'") }
        try checkKeys(node, ["name", "paths", "default", "methods", "verify", "rules", "otherwise"])
        var rules: [RuleSpec] = []
        guard let rulesNode = node["rules"], !rulesNode.items.isEmpty else { throw node.error("a route needs 'rules:'") }
        for r in rulesNode.items { rules.append(try rule(r)) }
        let otherwise = node["otherwise"]?.string ?? "reject"
        guard ["reject", "ignore"].contains(otherwise) else { throw node["otherwise"]!.error("'otherwise' is reject or ignore") }
        return RouteSpec(
            name: node["name"]?.string ?? node.strings("paths").first ?? "default", line: node.line, paths: node.strings("paths"),
            isDefault: node["default"]?.bool ?? false, methods: node.strings("methods").map { $0.uppercased() },
            verification: try node["verify"].map { n throws(ConfigError) in try verification(n) }, rules: rules, otherwise: otherwise)
    }

    static func guarded(_ node: ConfigNode?) throws(ConfigError) -> [(when: [Condition], reason: String)] {
        guard let node else { return [] }
        var out: [(when: [Condition], reason: String)] = []
        for item in node.items {
            guard item.isMapping, let whenNode = item["when"] else { throw item.error("expected {when: …, reason: …}") }
            out.append((try conditions(whenNode), item["reason"]?.string ?? "not a message"))
        }
        return out
    }

    static let statuses = ["queued", "sent", "delivered", "read", "failed", "errored", "ignore", "reject"]

    static func rule(_ node: ConfigNode) throws(ConfigError) -> RuleSpec {
        guard node.isMapping else { throw node.error("a rule is a mapping with 'kind:'") }
        try checkKeys(node, ["kind", "when", "each", "each_required", "require", "skip_when", "reject_when", "continue", "reason", "http_status",
                             "sender", "recipient", "text", "external_id", "received_at", "keyword", "media", "concat", "empty", "dedupe",
                             "reference", "status", "map", "unknown", "overrides", "at", "error_code", "event", "event_when", "address",
                             "token", "challenge", "address_must_match"])
        let kind: RuleSpec.Kind = try enumValue(node["kind"], default: .message)
        var rule = RuleSpec(
            kind: kind, line: node.line, when: try conditions(node["when"]), each: try node["each"].map { n throws(ConfigError) in try path(n) },
            eachRequired: node["each_required"]?.bool ?? false, require: try paths(node["require"]), skipWhen: try guarded(node["skip_when"]),
            rejectWhen: try guarded(node["reject_when"]), continues: node["continue"]?.bool ?? false, reason: node["reason"]?.string,
            httpStatus: node["http_status"]?.int ?? 400, message: nil, status: nil, event: node["event"]?.string,
            eventWhen: try conditions(node["event_when"]), eventAddress: try value(node["address"]),
            challengeToken: try value(node["token"]), challengeValue: try value(node["challenge"]),
            addressMustMatch: try value(node["address_must_match"]))
        switch kind {
        case .message:
            guard let sender = try value(node["sender"]) else { throw node.error("a message rule needs 'sender:'") }
            var concat: ConcatSpec? = nil
            if let c = node["concat"] {
                try checkKeys(c, ["when", "ref", "total", "part", "udh"])
                concat = ConcatSpec(when: try conditions(c["when"]), ref: try value(c["ref"]), total: try value(c["total"]), part: try value(c["part"]), udh: try value(c["udh"]))
                if concat?.udh == nil, concat?.ref == nil || concat?.total == nil || concat?.part == nil {
                    throw c.error("concat needs 'udh:' or all of 'ref:', 'total:' and 'part:'")
                }
            }
            let empty = node["empty"]?.string ?? "accept"
            guard ["accept", "ignore", "reject"].contains(empty) else { throw node["empty"]!.error("'empty' is accept, ignore or reject") }
            rule.message = MessageSpec(
                sender: sender, recipient: try value(node["recipient"]), text: try value(node["text"]), externalID: try value(node["external_id"]),
                receivedAt: try value(node["received_at"]), keyword: try value(node["keyword"]), media: try media(node["media"]),
                concat: concat, empty: empty, dedupe: node["dedupe"]?.bool ?? false)
        case .status:
            guard let status = try value(node["status"]) else { throw node.error("a status rule needs 'status:' (where the gateway's status is)") }
            var map: [String: String] = [:]
            for entry in node["map"]?.entries ?? [] {
                guard let v = entry.value.string, statuses.contains(v) else {
                    throw entry.value.error("'\(entry.value.string ?? "?")' is not one of \(statuses.joined(separator: ", "))")
                }
                map[entry.key] = v
            }
            let unknown = node["unknown"]?.string ?? "reject"
            guard statuses.contains(unknown) else { throw node["unknown"]!.error("'unknown' is one of \(statuses.joined(separator: ", "))") }
            var overrides: [(when: [Condition], status: String)] = []
            for o in node["overrides"]?.items ?? [] {
                guard let s = o["status"]?.string, statuses.contains(s) else { throw o.error("an override is {when: …, status: …}") }
                overrides.append((try conditions(o["when"]), s))
            }
            rule.status = StatusSpec(
                externalID: try value(node["external_id"]), reference: try value(node["reference"]), status: status, map: map,
                unknown: unknown, overrides: overrides, at: try value(node["at"]), errorCode: try value(node["error_code"]))
            if rule.status?.externalID == nil, rule.status?.reference == nil {
                throw node.error("a status rule needs 'external_id:' or 'reference:'")
            }
        case .event:
            guard let e = rule.event, ["opt_out", "new_conversation"].contains(e), rule.eventAddress != nil else {
                throw node.error("an event rule needs 'event: opt_out|new_conversation' and 'address:'")
            }
        case .challenge:
            guard rule.challengeToken != nil, rule.challengeValue != nil else { throw node.error("a challenge rule needs 'token:' and 'challenge:'") }
        case .ignore, .reject:
            if rule.reason == nil { throw node.error("an \(kind.rawValue) rule needs 'reason:' (it is shown to operators)") }
        }
        return rule
    }
}
