import EscuchaCore
import Foundation

/// A PostgreSQL type, by its OID (the `pg_type.oid` of the built-in types).
public struct PostgresDataType: RawRepresentable, Hashable, Sendable {
    /// The OID.
    public let rawValue: UInt32
    /// Creates a type from its OID.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Let the server infer the type from the context.
    public static let unspecified = PostgresDataType(rawValue: 0)
    /// `bool`
    public static let bool = PostgresDataType(rawValue: 16)
    /// `bytea`
    public static let bytea = PostgresDataType(rawValue: 17)
    /// `int8`
    public static let int8 = PostgresDataType(rawValue: 20)
    /// `int2`
    public static let int2 = PostgresDataType(rawValue: 21)
    /// `int4`
    public static let int4 = PostgresDataType(rawValue: 23)
    /// `text`
    public static let text = PostgresDataType(rawValue: 25)
    /// `json`
    public static let json = PostgresDataType(rawValue: 114)
    /// `float4`
    public static let float4 = PostgresDataType(rawValue: 700)
    /// `float8`
    public static let float8 = PostgresDataType(rawValue: 701)
    /// `bpchar` (`char(n)`)
    public static let bpchar = PostgresDataType(rawValue: 1042)
    /// `varchar`
    public static let varchar = PostgresDataType(rawValue: 1043)
    /// `timestamp` (without time zone)
    public static let timestamp = PostgresDataType(rawValue: 1114)
    /// `timestamptz`
    public static let timestamptz = PostgresDataType(rawValue: 1184)
    /// `numeric`
    public static let numeric = PostgresDataType(rawValue: 1700)
    /// `uuid`
    public static let uuid = PostgresDataType(rawValue: 2950)
    /// `jsonb`
    public static let jsonb = PostgresDataType(rawValue: 3802)
    /// `text[]`
    public static let textArray = PostgresDataType(rawValue: 1009)
    /// `int8[]`
    public static let int8Array = PostgresDataType(rawValue: 1016)
}

/// One bind parameter of a statement: its type and its value in text or binary format.
public struct PostgresBind: Sendable {
    enum Value: Sendable {
        case null
        case text(String)
        case binary([UInt8])
    }

    let value: Value
    /// The parameter's type.
    public let type: PostgresDataType

    /// SQL NULL of the given type.
    public static func null(_ type: PostgresDataType) -> PostgresBind { PostgresBind(value: .null, type: type) }
    /// A value in PostgreSQL's text input format.
    public static func text(_ text: String, type: PostgresDataType) -> PostgresBind {
        PostgresBind(value: .text(text), type: type)
    }
    /// Raw bytes sent in binary format (used for `bytea`).
    public static func binary(_ bytes: [UInt8], type: PostgresDataType) -> PostgresBind {
        PostgresBind(value: .binary(bytes), type: type)
    }

    /// The value in COPY text format before COPY escaping: `nil` for NULL.
    var copyText: String? {
        switch value {
        case .null: nil
        case .text(let text): text
        case .binary(let bytes): "\\x" + TextEncoding.hex(bytes)
        }
    }
}

/// A Swift value that can be sent as a bind parameter.
public protocol PostgresEncodable: Sendable {
    /// The type used for `NULL` when an optional of this type is `nil`.
    static var postgresDataType: PostgresDataType { get }
    /// The parameter for this value.
    var postgresBind: PostgresBind { get }
}

/// A Swift value that can be read from a result column.
public protocol PostgresDecodable: Sendable {
    /// Decodes a non-NULL column value.
    init(postgresCell cell: PostgresCell) throws(StoreError)
    /// The value for SQL NULL, or `nil` when NULL is not a valid value of this type.
    static var postgresNull: Self? { get }
}

extension PostgresDecodable {
    /// NULL is not valid for non-optional types.
    public static var postgresNull: Self? { nil }
}

/// One non-NULL column value of a result row, in PostgreSQL's text output format.
public struct PostgresCell: Sendable {
    /// The bytes the server sent.
    public let bytes: [UInt8]
    /// The column's type.
    public let type: PostgresDataType
    /// The column's name (for error messages).
    public let columnName: String

    /// The value as text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// An error for a value that is not of the expected type; never quotes the value.
    public func mismatch(_ expected: String) -> StoreError {
        StoreError(
            operation: "decoding column \(columnName)",
            message: "the value (type oid \(type.rawValue)) cannot be read as \(expected)")
    }
}

// MARK: - Conformances

extension String: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .text }
    public var postgresBind: PostgresBind { .text(self, type: .text) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) { self = cell.text }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind { .text(String(self), type: .int8) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        guard let value = Int64(cell.text) else { throw cell.mismatch("an integer") }
        self = value
    }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind { .text(String(self), type: .int8) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        guard let value = Int(cell.text) else { throw cell.mismatch("an integer") }
        self = value
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .int4 }
    public var postgresBind: PostgresBind { .text(String(self), type: .int4) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        guard let value = Int32(cell.text) else { throw cell.mismatch("a 32-bit integer") }
        self = value
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .bool }
    public var postgresBind: PostgresBind { .text(self ? "t" : "f", type: .bool) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        switch cell.bytes {
        case [UInt8(ascii: "t")]: self = true
        case [UInt8(ascii: "f")]: self = false
        default: throw cell.mismatch("a boolean")
        }
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .float8 }
    public var postgresBind: PostgresBind {
        let text: String =
            if isNaN { "NaN" } else if self == .infinity { "Infinity" } else if self == -.infinity { "-Infinity" } else {
                "\(self)"
            }
        return .text(text, type: .float8)
    }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        switch cell.text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        case let text:
            guard let value = Double(text) else { throw cell.mismatch("a floating-point number") }
            self = value
        }
    }
}

extension Date: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .timestamptz }
    public var postgresBind: PostgresBind { .text(PostgresTimestamp.format(self), type: .timestamptz) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        guard let date = PostgresTimestamp.parse(cell.bytes) else { throw cell.mismatch("a timestamp") }
        self = date
    }
}

extension Data: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .bytea }
    public var postgresBind: PostgresBind { .binary([UInt8](self), type: .bytea) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        self = Data(try [UInt8](postgresCell: cell))
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public static var postgresDataType: PostgresDataType { .uuid }
    public var postgresBind: PostgresBind { .text(uuidString, type: .uuid) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) {
        guard let uuid = UUID(uuidString: cell.text) else { throw cell.mismatch("a uuid") }
        self = uuid
    }
}

/// An element type whose arrays have a PostgreSQL form: `[UInt8]` is `bytea`, `[String]`
/// is `text[]`, `[Int]` is `int8[]`.
public protocol PostgresArrayElement: Sendable {
    /// The type of the array.
    static var postgresArrayDataType: PostgresDataType { get }
    /// The parameter for an array of this element type.
    static func postgresArrayBind(_ elements: [Self]) -> PostgresBind
    /// Decodes an array of this element type.
    static func postgresArray(from cell: PostgresCell) throws(StoreError) -> [Self]
}

extension Array: PostgresEncodable, PostgresDecodable where Element: PostgresArrayElement {
    public static var postgresDataType: PostgresDataType { Element.postgresArrayDataType }
    public var postgresBind: PostgresBind { Element.postgresArrayBind(self) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) { self = try Element.postgresArray(from: cell) }
}

extension UInt8: PostgresArrayElement {
    public static var postgresArrayDataType: PostgresDataType { .bytea }
    /// Bytes go in binary format, so NUL bytes and invalid UTF-8 arrive unchanged.
    public static func postgresArrayBind(_ elements: [UInt8]) -> PostgresBind { .binary(elements, type: .bytea) }
    /// Reads `bytea` (hex output format); other columns give their text bytes.
    public static func postgresArray(from cell: PostgresCell) throws(StoreError) -> [UInt8] {
        guard cell.type == .bytea else { return cell.bytes }
        guard let bytes = decodeByteaHex(cell.bytes) else { throw cell.mismatch("bytea in hex format") }
        return bytes
    }
}

extension String: PostgresArrayElement {
    public static var postgresArrayDataType: PostgresDataType { .textArray }
    public static func postgresArrayBind(_ elements: [String]) -> PostgresBind {
        .text(PostgresArrayLiteral.encode(elements), type: .textArray)
    }
    /// Reads a one-dimensional array; NULL elements are refused.
    public static func postgresArray(from cell: PostgresCell) throws(StoreError) -> [String] {
        guard let elements = PostgresArrayLiteral.decode(cell.bytes), !elements.contains(where: { $0 == nil }) else {
            throw cell.mismatch("an array of text without NULLs")
        }
        return elements.map { $0! }
    }
}

extension Int: PostgresArrayElement {
    public static var postgresArrayDataType: PostgresDataType { .int8Array }
    public static func postgresArrayBind(_ elements: [Int]) -> PostgresBind {
        .text("{" + elements.map { String($0) }.joined(separator: ",") + "}", type: .int8Array)
    }
    public static func postgresArray(from cell: PostgresCell) throws(StoreError) -> [Int] {
        guard let elements = PostgresArrayLiteral.decode(cell.bytes) else { throw cell.mismatch("an array of integers") }
        var values: [Int] = []
        for element in elements {
            guard let element, let value = Int(element) else { throw cell.mismatch("an array of integers") }
            values.append(value)
        }
        return values
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { Wrapped.postgresDataType }
    public var postgresBind: PostgresBind {
        switch self {
        case .none: .null(Wrapped.postgresDataType)
        case .some(let value): value.postgresBind
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws(StoreError) { self = .some(try Wrapped(postgresCell: cell)) }
    public static var postgresNull: Self? { .some(.none) }
}

/// A `jsonb` value, kept as its JSON text.
///
/// Bind it with `\(JSON(...))`; read it with `row.decode("details", as: JSON.self)` and
/// `json.decode(MyType.self)`.
public struct JSON: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    /// The JSON text.
    public var text: String

    /// A JSON value from its text (not validated here; the server validates it).
    public init(_ text: String) { self.text = text }
    /// A JSON value from UTF-8 bytes.
    public init(_ data: Data) { self.text = String(decoding: data, as: UTF8.self) }
    /// A JSON value encoding `value` with `JSONEncoder` (sorted keys).
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.init(try encoder.encode(value))
    }

    /// A JSON object of string members, written directly: on intake's path JSONEncoder
    /// cost more than the statement the document goes into. Keys are sorted, as
    /// `init(encoding:)` sorts them, so both give the same text.
    public init(strings members: [String: String]) {
        var object = JSONObjectText()
        for key in members.keys.sorted() { object.add(key, members[key]!) }
        self = object.json
    }

    /// Decodes the JSON text into `type`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    public static var postgresDataType: PostgresDataType { .jsonb }
    public var postgresBind: PostgresBind { .text(text, type: .jsonb) }
    public init(postgresCell cell: PostgresCell) throws(StoreError) { self.text = cell.text }
}

// MARK: - Formats

/// Text formats of `timestamptz` (ISO, as the session uses `DateStyle=ISO` and `TimeZone=UTC`).
enum PostgresTimestamp {
    /// `2024-05-01 12:34:56.123456+00`, always UTC, microsecond precision.
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var totalMicros = Int64(micros)
        var seconds = totalMicros / 1_000_000
        totalMicros -= seconds * 1_000_000
        if totalMicros < 0 {
            totalMicros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds - days * 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let date = CivilDate.civil(days: Int(days))
        let (year, month, day) = (Int64(date.year), Int64(date.month), Int64(date.day))
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let yearText = year > 0 ? pad(year, 4) : pad(1 - year, 4)
        let time = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        return "\(yearText)-\(pad(month, 2))-\(pad(day, 2)) \(time).\(pad(totalMicros, 6))+00\(year > 0 ? "" : " BC")"
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`; `nil` for anything else
    /// (including `infinity` and BC dates).
    static func parse(_ bytes: [UInt8]) -> Date? {
        var index = 0
        func number(_ digits: Int) -> Int64? {
            guard index + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<digits {
                let c = bytes[index + offset]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int64(c - 48)
            }
            index += digits
            return value
        }
        func expect(_ char: Character) -> Bool {
            guard index < bytes.count, bytes[index] == char.asciiValue! else { return false }
            index += 1
            return true
        }
        // Years may have more than four digits.
        var yearDigits = 0
        while index + yearDigits < bytes.count, (48...57).contains(bytes[index + yearDigits]) { yearDigits += 1 }
        guard yearDigits >= 4, let year = number(yearDigits), expect("-"), let month = number(2), expect("-"),
            let day = number(2), expect(" ") || expect("T"), let hour = number(2), expect(":"),
            let minute = number(2), expect(":"), let second = number(2)
        else { return nil }
        var micros: Int64 = 0
        if expect(".") {
            var scale: Int64 = 100_000
            while index < bytes.count, (48...57).contains(bytes[index]) {
                micros += Int64(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2) else { return nil }
            var total = hours * 3600
            if expect(":") {
                guard let minutes = number(2) else { return nil }
                total += minutes * 60
                if expect(":") {
                    guard let secs = number(2) else { return nil }
                    total += secs
                }
            }
            offsetSeconds = sign * total
        }
        guard index == bytes.count, (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = Int64(CivilDate.days(year: Int(year), month: Int(month), day: Int(day)))
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }
}

/// Text form of one-dimensional arrays: `{a,"b c",NULL}`.
enum PostgresArrayLiteral {
    static func encode(_ elements: [String]) -> String {
        var out = "{"
        for (i, element) in elements.enumerated() {
            if i > 0 { out += "," }
            out += "\""
            for c in element.unicodeScalars {
                if c == "\"" || c == "\\" { out += "\\" }
                out.unicodeScalars.append(c)
            }
            out += "\""
        }
        return out + "}"
    }

    /// Parses a one-dimensional array literal; `nil` elements are NULL.
    static func decode(_ bytes: [UInt8]) -> [String?]? {
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { return nil }
        var elements: [String?] = []
        var i = 1
        let end = bytes.count - 1
        if i == end { return [] }
        while i <= end {
            var element: [UInt8] = []
            var quoted = false
            if bytes[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while i < end, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    guard i < end else { return nil }
                    element.append(bytes[i])
                    i += 1
                }
                i += 1  // closing quote
            } else {
                while i < end, bytes[i] != UInt8(ascii: ",") {
                    guard bytes[i] != UInt8(ascii: "{") else { return nil }  // multi-dimensional
                    element.append(bytes[i])
                    i += 1
                }
            }
            let text = String(decoding: element, as: UTF8.self)
            elements.append(!quoted && text == "NULL" ? nil : text)
            guard i == end || bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return elements
    }
}


/// Decodes `\x0a1b…`.
func decodeByteaHex(_ text: [UInt8]) -> [UInt8]? {
    guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0 else {
        return nil
    }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(text.count / 2 - 1)
    var i = 2
    while i < text.count {
        guard let high = nibble(text[i]), let low = nibble(text[i + 1]) else { return nil }
        out.append(high << 4 | low)
        i += 2
    }
    return out
}

/// Text as PostgreSQL can hold it.
public enum PostgresText {
    /// `text` with U+0000 (which neither `text` nor `jsonb` can hold) as U+FFFD. The raw
    /// request keeps the exact bytes; this is for what is parsed out of it.
    public static func storable(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }
}

/// Writes a JSON object member by member, in the order given.
public struct JSONObjectText: Sendable {
    private var text = "{"

    public init() {}

    /// The finished object.
    public var json: JSON { JSON(text + "}") }

    /// Adds a string member; `nil` writes `null`.
    public mutating func add(_ key: String, _ value: String?) {
        member(key)
        if let value { TextEncoding.appendJSONString(value, to: &text) } else { text += "null" }
    }

    /// Adds a boolean member.
    public mutating func add(_ key: String, _ value: Bool) {
        member(key)
        text += value ? "true" : "false"
    }

    /// Adds an array of strings.
    public mutating func add(_ key: String, _ values: [String]) {
        member(key)
        text += "["
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            TextEncoding.appendJSONString(value, to: &text)
        }
        text += "]"
    }

    /// Adds an integer member; `nil` writes `null`.
    public mutating func add(_ key: String, _ value: Int64?) {
        member(key)
        text += value.map { String($0) } ?? "null"
    }

    /// Adds an array of integers.
    public mutating func add(_ key: String, _ values: [Int]) {
        member(key)
        text += "[" + values.map { String($0) }.joined(separator: ",") + "]"
    }

    /// Adds a time as PostgreSQL's `timestamptz` text (microseconds, UTC), which a cast
    /// reads back exactly; `nil` writes `null`.
    public mutating func add(_ key: String, _ date: Date?) {
        add(key, date.map(PostgresTimestamp.format))
    }

    /// Adds an array of times, as ``add(_:_:)-(String,Date?)`` writes them.
    public mutating func add(_ key: String, _ dates: [Date]) {
        add(key, dates.map(PostgresTimestamp.format))
    }

    /// Adds bytes as `bytea`'s hex text (`\x0a1b…`), which a cast or
    /// `jsonb_populate_record` reads back.
    public mutating func add(_ key: String, bytea bytes: Data) {
        add(key, "\\x" + TextEncoding.hex(bytes))
    }

    /// Adds a JSON document as the member's value; `nil` writes `null`.
    public mutating func add(_ key: String, json: JSON?) {
        member(key)
        text += json?.text ?? "null"
    }

    private mutating func member(_ key: String) {
        if text.utf8.count > 1 { text += "," }
        TextEncoding.appendJSONString(key, to: &text)
        text += ":"
    }
}
