public import EscuchaCore
import Foundation

/// How to send a reply through a gateway's API: an HTTP request with placeholders.
///
/// Placeholders: `{{to}}`, `{{from}}`, `{{text}}`, `{{account}}`, `{{api_secret}}`,
/// `{{reference}}` (our outbox id) and `{{callback_url}}`. In the URL they are
/// percent-encoded, in form bodies form-encoded, in JSON bodies JSON-escaped.
public struct OutboundTemplate: Sendable, Equatable {
    /// The placeholders a template may use.
    public static let placeholders: Set<String> = ["to", "from", "text", "account", "api_secret", "reference", "callback_url"]

    /// The HTTP method.
    public var method: String
    /// The URL template.
    public var url: String
    /// Header templates.
    public var headers: [(name: String, value: String)]
    /// `form`, `json` or `none`.
    public var bodyEncoding: String
    /// The body: a mapping (form or JSON, nested mappings allowed for JSON).
    public var body: JSONValue?
    /// Basic-auth user and password templates.
    public var basicAuth: (user: String, password: String)?
    /// Bearer token template.
    public var bearer: String?
    /// The line of the template in its file.
    public var line: Int?

    public static func == (lhs: OutboundTemplate, rhs: OutboundTemplate) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.bodyEncoding == rhs.bodyEncoding && lhs.body == rhs.body
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
            && lhs.bearer == rhs.bearer && lhs.basicAuth?.user == rhs.basicAuth?.user && lhs.basicAuth?.password == rhs.basicAuth?.password
    }

    /// Reads a template from YAML.
    /// - Parameter node: the `reply:` mapping.
    public init(node: ConfigNode) throws(ConfigError) {
        guard node.isMapping else { throw node.error("'reply' is a mapping with 'method:', 'url:' and 'body:'") }
        try DefinitionReader.checkKeys(node, ["method", "url", "headers", "body_encoding", "body", "auth"])
        method = (node["method"]?.string ?? "POST").uppercased()
        url = try node.requireString("url")
        headers = (node["headers"]?.entries ?? []).map { ($0.key, $0.value.string ?? "") }
        bodyEncoding = node["body_encoding"]?.string ?? "form"
        guard ["form", "json", "none"].contains(bodyEncoding) else { throw node["body_encoding"]!.error("'body_encoding' is form, json or none") }
        body = node["body"].map(Self.json)
        line = node.line
        if let auth = node["auth"] {
            if let basic = auth["basic"] {
                basicAuth = (basic["user"]?.string ?? "", basic["password"]?.string ?? "")
            } else {
                basicAuth = nil
            }
            bearer = auth["bearer"]?.string
            if basicAuth == nil && bearer == nil { throw auth.error("'auth' is {basic: {user:, password:}} or {bearer: …}") }
        } else {
            basicAuth = nil
            bearer = nil
        }
    }

    static func json(_ node: ConfigNode) -> JSONValue {
        if node.isMapping {
            var o: [String: JSONValue] = [:]
            for e in node.entries { o[e.key] = json(e.value) }
            return .object(o)
        }
        if let s = node.string { return .string(s) }
        return .array(node.items.map(json))
    }

    /// Every placeholder used anywhere in the template.
    public var usedPlaceholders: Set<String> {
        var texts = [url] + headers.map(\.value) + [bearer ?? "", basicAuth?.user ?? "", basicAuth?.password ?? ""]
        func walk(_ v: JSONValue) {
            switch v {
            case .string(let s): texts.append(s)
            case .object(let o): o.values.forEach(walk); texts += o.keys
            case .array(let a): a.forEach(walk)
            default: break
            }
        }
        if let body { walk(body) }
        var found: Set<String> = []
        for t in texts {
            var rest = Substring(t)
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                found.insert(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
                rest = rest[close.upperBound...]
            }
        }
        return found
    }

    /// A rendered request, ready for the outbox sender.
    public struct Rendered: Sendable, Equatable, CustomStringConvertible {
        public var method: String
        public var url: String
        public var headers: [String: String]
        public var body: [UInt8]
        /// Leaves out the URL query, headers and body (they hold numbers, text and keys).
        public var description: String { "OutboundRequest(\(method), bodyBytes: \(body.count))" }
    }

    /// Fills the template.
    /// - Parameter values: placeholder values (`to`, `from`, `text`, …).
    public func render(_ values: [String: String]) -> Rendered {
        func fill(_ t: String, _ escape: (String) -> String) -> String {
            var out = ""
            var rest = Substring(t)
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                out += rest[..<open.lowerBound]
                let key = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                out += escape(values[key] ?? "")
                rest = rest[close.upperBound...]
            }
            return out + rest
        }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?/#")
        let urlEscape = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        var headerValues: [String: String] = [:]
        for h in headers { headerValues[h.name] = fill(h.value, { $0 }) }
        if let basicAuth {
            let pair = fill(basicAuth.user, { $0 }) + ":" + fill(basicAuth.password, { $0 })
            headerValues["Authorization"] = "Basic " + Data(pair.utf8).base64EncodedString()
        }
        if let bearer { headerValues["Authorization"] = "Bearer " + fill(bearer, { $0 }) }
        var bodyBytes: [UInt8] = []
        switch (bodyEncoding, body) {
        case ("form", .object(let o)?):
            bodyBytes = Array(o.keys.sorted().map { key in urlEscape(key) + "=" + urlEscape(fill(o[key]?.scalarText ?? "", { $0 })) }.joined(separator: "&").utf8)
            if headerValues["Content-Type"] == nil { headerValues["Content-Type"] = "application/x-www-form-urlencoded" }
        case ("json", let v?):
            func fillJSON(_ v: JSONValue) -> JSONValue {
                switch v {
                case .string(let s): return .string(fill(s, { $0 }))
                case .object(let o): return .object(o.mapValues(fillJSON))
                case .array(let a): return .array(a.map(fillJSON))
                default: return v
                }
            }
            bodyBytes = Array(fillJSON(v).serialized.utf8)
            if headerValues["Content-Type"] == nil { headerValues["Content-Type"] = "application/json" }
        default: break
        }
        return Rendered(method: method, url: fill(url, urlEscape), headers: headerValues, body: bodyBytes)
    }
}
