import EscuchaCore
import Foundation

/// A location in a webhook request, written `source:path`.
///
/// Sources: `form:Name` (form or multipart body), `query:Name`, `param:Name` (form body,
/// top-level JSON key, then query), `header:Name`, `json:a.b[*].c` (from the JSON root),
/// `@.a.b` (relative to the current `each` item; `@^` is the enclosing object),
/// `xml://name` (text of the first element with that local name) and `const:text`.
/// JSON segments: `name`, `[*]` (every element), `[n]` (index, negative from the end),
/// `[?key=value]`, `[?key!=value]`, `[?key]` (elements that match), `^` (enclosing object).
/// Form names may contain `{i}` for numbered fields (`MediaUrl{i}`).
public struct FieldPath: Sendable, Equatable, CustomStringConvertible {
    /// Where the value is read.
    public enum Source: String, Sendable, Equatable {
        case form, query, param, header, json, item, xml, const
    }

    /// One step through JSON.
    public enum Segment: Sendable, Equatable {
        case key(String)
        case all
        case index(Int)
        case filter(key: String, equals: String?, negated: Bool)
        case parent
    }

    /// The source.
    public var source: Source
    /// The field name for form, query, param, header, xml and const sources.
    public var name: String
    /// The JSON steps for json and item sources.
    public var segments: [Segment]
    /// The text as written.
    public var description: String

    /// Parses a path.
    /// - Parameter text: the path, e.g. `json:results[*].from`.
    /// - Throws: a message saying what is wrong.
    public static func parse(_ text: String) throws(PathSyntaxError) -> FieldPath {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@") {
            return FieldPath(source: .item, name: "", segments: try parseSegments(String(trimmed.dropFirst()), in: trimmed), description: trimmed)
        }
        guard let colon = trimmed.firstIndex(of: ":"), let source = Source(rawValue: String(trimmed[..<colon])), source != .item else {
            throw PathSyntaxError(message: "'\(trimmed)' does not start with a source: write form:, query:, param:, header:, json:, xml:, const: or @")
        }
        let rest = String(trimmed[trimmed.index(after: colon)...])
        switch source {
        case .json:
            return FieldPath(source: .json, name: "", segments: try parseSegments(rest, in: trimmed), description: trimmed)
        case .xml:
            let name = rest.hasPrefix("//") ? String(rest.dropFirst(2)) : rest
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) }) else {
                throw PathSyntaxError(message: "'\(trimmed)': write xml://element-name")
            }
            return FieldPath(source: .xml, name: name, segments: [], description: trimmed)
        case .const:
            return FieldPath(source: .const, name: rest, segments: [], description: trimmed)
        default:
            guard !rest.isEmpty else { throw PathSyntaxError(message: "'\(trimmed)' names no field after '\(source.rawValue):'") }
            return FieldPath(source: source, name: rest, segments: [], description: trimmed)
        }
    }

    static func parseSegments(_ text: String, in whole: String) throws(PathSyntaxError) -> [Segment] {
        var segments: [Segment] = []
        var chars = Array(text)
        var i = 0
        if chars.first == "." { chars.removeFirst() }
        var name = ""
        func flush() { if !name.isEmpty { segments.append(.key(name)); name = "" } }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case ".":
                flush()
            case "^":
                flush(); segments.append(.parent)
            case "[":
                flush()
                guard let close = chars[i...].firstIndex(of: "]") else {
                    throw PathSyntaxError(message: "'\(whole)': '[' without ']'")
                }
                let inner = String(chars[(i + 1)..<close])
                if inner == "*" {
                    segments.append(.all)
                } else if let n = Int(inner) {
                    segments.append(.index(n))
                } else if inner.hasPrefix("?") {
                    let body = inner.dropFirst()
                    if let r = body.range(of: "!=") {
                        segments.append(.filter(key: String(body[..<r.lowerBound]), equals: String(body[r.upperBound...]), negated: true))
                    } else if let r = body.range(of: "=") {
                        segments.append(.filter(key: String(body[..<r.lowerBound]), equals: String(body[r.upperBound...]), negated: false))
                    } else {
                        segments.append(.filter(key: String(body), equals: nil, negated: false))
                    }
                } else {
                    throw PathSyntaxError(message: "'\(whole)': '[\(inner)]' is not [*], [n], [?key=value] or [?key]")
                }
                i = close
            default:
                name.append(c)
            }
            i += 1
        }
        flush()
        return segments
    }

    /// Whether the name holds the `{i}` placeholder for numbered form fields.
    public var isIndexed: Bool { name.contains("{i}") }

    /// This path with `{i}` replaced by `index`.
    /// - Parameter index: the number to substitute.
    public func indexed(_ index: Int) -> FieldPath {
        var copy = self
        copy.name = name.replacingOccurrences(of: "{i}", with: String(index))
        return copy
    }
}

/// A path that cannot be read; the message says how to write it.
public struct PathSyntaxError: Error, Sendable, Equatable {
    /// What is wrong.
    public var message: String
}

/// A value found at a path: raw bytes (form, query, header) or JSON.
public enum FieldValue: Sendable, Equatable {
    case bytes([UInt8])
    case json(JSONValue)

    /// The value as text: bytes are decoded as lenient UTF-8; JSON scalars give their text;
    /// JSON null, arrays and objects give `nil`.
    public var text: String? {
        switch self {
        case .bytes(let b): TextDecoding.lenientUTF8(b)
        case .json(let j): j.scalarText
        }
    }

    /// The raw bytes of the value (UTF-8 for JSON scalars).
    public var bytes: [UInt8]? {
        switch self {
        case .bytes(let b): b
        case .json(let j): j.scalarText.map { Array($0.utf8) }
        }
    }
}

/// A position inside a JSON document with the chain of enclosing values, so `^` can climb.
public struct JSONCursor: Sendable, Equatable {
    /// The value here.
    public var value: JSONValue
    /// The enclosing values, outermost first.
    public var ancestors: [JSONValue]
}

/// Everything a path can read from one request.
struct RequestContext: Sendable {
    let request: RawRequest
    let query: FormFields
    let form: FormFields
    let json: JSONValue?
    let caseInsensitive: Bool
    var item: JSONCursor?

    func values(_ path: FieldPath) -> [FieldValue] {
        switch path.source {
        case .const: return [.bytes(Array(path.name.utf8))]
        case .form: return form.value(path.name, caseInsensitive: caseInsensitive).map { [.bytes($0)] } ?? []
        case .query: return query.value(path.name, caseInsensitive: caseInsensitive).map { [.bytes($0)] } ?? []
        case .param:
            if let v = form.value(path.name, caseInsensitive: caseInsensitive) { return [.bytes(v)] }
            if case .object(let o)? = json, let v = o[path.name], v != .null { return [.json(v)] }
            if let v = query.value(path.name, caseInsensitive: caseInsensitive) { return [.bytes(v)] }
            return []
        case .header: return request.header(path.name).map { [.bytes(Array($0.utf8))] } ?? []
        case .xml: return XMLText.elements(named: path.name, in: request.body).map { .bytes(Array($0.utf8)) }
        case .json, .item: return cursors(path).map { .json($0.value) }
        }
    }

    func cursors(_ path: FieldPath) -> [JSONCursor] {
        let start: JSONCursor
        switch path.source {
        case .json:
            guard let json else { return [] }
            start = JSONCursor(value: json, ancestors: [])
        case .item:
            guard let item else { return [] }
            start = item
        default:
            return []
        }
        var current = [start]
        for segment in path.segments {
            var next: [JSONCursor] = []
            for cursor in current {
                switch (segment, cursor.value) {
                case (.key(let k), .object(let o)):
                    if let v = o[k] { next.append(JSONCursor(value: v, ancestors: cursor.ancestors + [cursor.value])) }
                case (.all, .array(let a)):
                    next += a.map { JSONCursor(value: $0, ancestors: cursor.ancestors + [cursor.value]) }
                case (.index(let n), .array(let a)):
                    let i = n < 0 ? a.count + n : n
                    if a.indices.contains(i) { next.append(JSONCursor(value: a[i], ancestors: cursor.ancestors + [cursor.value])) }
                case (.filter(let key, let equals, let negated), .array(let a)):
                    for element in a {
                        guard case .object(let o) = element else { continue }
                        let field = o[key]
                        let hit: Bool
                        if let equals { hit = (field?.scalarText == equals) != negated } else { hit = field != nil && field != .null }
                        if hit { next.append(JSONCursor(value: element, ancestors: cursor.ancestors + [cursor.value])) }
                    }
                case (.parent, _):
                    // Climb to the nearest enclosing object, skipping arrays.
                    var ancestors = cursor.ancestors
                    while let last = ancestors.popLast() {
                        if case .object = last { next.append(JSONCursor(value: last, ancestors: ancestors)); break }
                    }
                default:
                    break
                }
            }
            current = next
        }
        return current.filter { $0.value != .null }
    }
}

/// Just enough XML to read the text of an element by local name (SOAP-style gateways).
enum XMLText {
    static func elements(named name: String, in body: [UInt8]) -> [String] {
        let text = TextDecoding.lenientUTF8(body)
        let escaped = NSRegularExpression.escapedPattern(for: name)
        let pattern = "<(?:[A-Za-z0-9_.-]+:)?\(escaped)(?:\\s[^>]*)?>(.*?)</(?:[A-Za-z0-9_.-]+:)?\(escaped)\\s*>"
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).compactMap { match in
            Range(match.range(at: 1), in: text).map { unescape(String(text[$0])) }
        }
    }

    static func unescape(_ s: String) -> String {
        var s = s
        if s.hasPrefix("<![CDATA["), s.hasSuffix("]]>") { return String(s.dropFirst(9).dropLast(3)) }
        for (entity, char) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] {
            s = s.replacingOccurrences(of: entity, with: char)
        }
        return s
    }
}
