import EscuchaCore
import Foundation

/// Name/value pairs from a URL-encoded query or form body, or a multipart form.
///
/// Values are kept as raw bytes after percent-decoding, because gateways send text in
/// UTF-8, Latin-1 or UTF-16BE; ``TextDecoding`` turns them into text.
public struct FormFields: Sendable, Equatable {
    /// The pairs in order of appearance (repeated names kept).
    public var pairs: [(name: String, value: [UInt8])]

    /// Creates fields from pairs.
    /// - Parameter pairs: name/value pairs in order.
    public init(pairs: [(name: String, value: [UInt8])] = []) { self.pairs = pairs }

    /// Parses `application/x-www-form-urlencoded` bytes (a query string or a form body).
    /// - Parameter bytes: the encoded bytes.
    public static func urlEncoded(_ bytes: [UInt8]) -> FormFields {
        var result: [(name: String, value: [UInt8])] = []
        for piece in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = piece.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = TextDecoding.lenientUTF8(percentDecode(Array(parts[0])))
            guard !name.isEmpty else { continue }
            let value = parts.count > 1 ? percentDecode(Array(parts[1])) : []
            result.append((name, value))
        }
        return FormFields(pairs: result)
    }

    /// Parses a `multipart/form-data` body; file parts are kept with their bytes.
    /// - Parameters:
    ///   - body: the body bytes.
    ///   - boundary: the boundary from the content type.
    public static func multipart(_ body: [UInt8], boundary: String) -> FormFields? {
        let delimiter = Array(("--" + boundary).utf8)
        var result: [(name: String, value: [UInt8])] = []
        var sections: [[UInt8]] = []
        var start: Int? = nil
        var i = 0
        while i + delimiter.count <= body.count {
            if body[i..<i + delimiter.count].elementsEqual(delimiter) {
                if let s = start { sections.append(Array(body[s..<i])) }
                i += delimiter.count
                start = i
            } else {
                i += 1
            }
        }
        guard !sections.isEmpty else { return nil }
        for var section in sections {
            // Strip the CRLF after the boundary and the one before the next boundary.
            if section.starts(with: [13, 10]) { section.removeFirst(2) }
            if section.suffix(2).elementsEqual([13, 10]) { section.removeLast(2) }
            guard let split = section.firstRange(of: [13, 10, 13, 10]) else { continue }
            let head = String(decoding: section[..<split.lowerBound], as: UTF8.self)
            let value = Array(section[split.upperBound...])
            guard let disposition = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition") }),
                  let nameRange = disposition.range(of: "name=\"") else { continue }
            let rest = disposition[nameRange.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            result.append((String(rest[..<end]), value))
        }
        return FormFields(pairs: result)
    }

    /// The last value named `name`.
    /// - Parameters:
    ///   - name: the field name.
    ///   - caseInsensitive: whether names match regardless of case.
    public func value(_ name: String, caseInsensitive: Bool = false) -> [UInt8]? {
        pairs.last { caseInsensitive ? $0.name.equalsIgnoringCase(name) : $0.name == name }?.value
    }

    /// Whether any field is present.
    public var isEmpty: Bool { pairs.isEmpty }

    /// Decodes `%XX` escapes and `+` (as space) to bytes; malformed escapes stay literal.
    /// - Parameter bytes: the encoded bytes.
    public static func percentDecode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    public static func == (lhs: FormFields, rhs: FormFields) -> Bool {
        lhs.pairs.map(\.name) == rhs.pairs.map(\.name) && lhs.pairs.map(\.value) == rhs.pairs.map(\.value)
    }
}
