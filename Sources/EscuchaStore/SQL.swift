import Foundation

/// A SQL statement whose interpolated values become bind parameters.
///
/// ```swift
/// let rows = try conn.query("SELECT id FROM tickets WHERE reference = \(reference)")
/// ```
/// turns into `SELECT id FROM tickets WHERE reference = $1` with `reference` bound as
/// `$1`. Only ``PostgresEncodable`` values can be interpolated, so values never become SQL
/// text. Text that must become SQL (an identifier chosen by code, a fragment) has to say so:
/// `SQL(unsafeSQL: …)` or `\(unsafeSQL: …)`; `\(fragment)` splices another ``SQL`` with its
/// binds renumbered.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Part: Sendable {
        case raw(String)
        case bind(PostgresBind)
    }

    var parts: [Part]

    /// Raw SQL text, taken as it is. Never build it from input.
    public init(unsafeSQL text: String) { parts = [.raw(text)] }

    /// A literal statement without parameters.
    public init(stringLiteral value: String) { parts = [.raw(value)] }

    /// A statement built by interpolation.
    public init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    /// The statement text with `$n` placeholders and the binds in order.
    public var rendered: (text: String, binds: [PostgresBind]) {
        var text = ""
        var binds: [PostgresBind] = []
        for part in parts {
            switch part {
            case .raw(let raw): text += raw
            case .bind(let bind):
                binds.append(bind)
                text += "$\(binds.count)"
            }
        }
        return (text, binds)
    }

    /// The statement text with placeholders; never the bound values (safe to log).
    public var description: String { rendered.text }

    /// Appends another statement fragment.
    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var out = lhs
        out.parts += rhs.parts
        return out
    }

    /// Joins fragments with a separator, e.g. for a dynamic `WHERE` clause.
    public static func joined(_ fragments: [SQL], separator: String) -> SQL {
        var out = SQL(unsafeSQL: "")
        for (i, fragment) in fragments.enumerated() {
            if i > 0 { out.parts.append(.raw(separator)) }
            out.parts += fragment.parts
        }
        return out
    }

    /// Builds the interpolated statement.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            parts.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { parts.append(.raw(literal)) }
        }

        /// A value, sent as a bind parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            parts.append(.bind(value.postgresBind))
        }

        /// An optional value: NULL when `nil`.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            parts.append(.bind(value.postgresBind))
        }

        /// A prepared bind parameter.
        public mutating func appendInterpolation(bind: PostgresBind) {
            parts.append(.bind(bind))
        }

        /// Another statement fragment; its binds keep their values and are renumbered.
        public mutating func appendInterpolation(_ fragment: SQL) {
            parts += fragment.parts
        }

        /// Raw SQL text. Never pass input here.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            parts.append(.raw(text))
        }

        /// A quoted identifier (`"name"`, with inner quotes doubled), for names chosen by code.
        public mutating func appendInterpolation(identifier: String) {
            parts.append(.raw(quoteIdentifier(identifier)))
        }
    }
}

/// `"name"` with inner double quotes doubled.
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
