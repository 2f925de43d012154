import Foundation

/// Encodings several modules write: hex digests and JSON string literals.
public enum TextEncoding {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes`, two digits a byte.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `value` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else (non-ASCII included) as it is.
    public static func jsonString(_ value: String) -> String {
        var text = ""
        appendJSONString(value, to: &text)
        return text
    }

    /// Appends `value` as a JSON string literal to `text`.
    public static func appendJSONString(_ value: String, to text: inout String) {
        text += "\""
        // Most values need no escape at all: one scan, one append.
        guard value.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) else {
            text += value
            text += "\""
            return
        }
        let utf8 = value.utf8
        var plainStart = utf8.startIndex
        var index = plainStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 {
                text += String(Substring(utf8[plainStart..<index]))
                switch byte {
                case 0x22: text += "\\\""
                case 0x5C: text += "\\\\"
                case 0x0A: text += "\\n"
                case 0x0D: text += "\\r"
                case 0x09: text += "\\t"
                default: text += "\\u00" + hex([byte])
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        text += String(Substring(utf8[plainStart..<utf8.endIndex]))
        text += "\""
    }
}

extension String {
    /// Whether the two are equal regardless of case. Header, field and path names are
    /// ASCII: those compare byte by byte (Foundation's comparison took a visible share of
    /// every webhook); anything else goes to Foundation.
    public func equalsIgnoringCase(_ other: String) -> Bool {
        let a = utf8
        let b = other.utf8
        if a.allSatisfy({ $0 < 0x80 }) && b.allSatisfy({ $0 < 0x80 }) {
            guard a.count == b.count else { return false }
            return zip(a, b).allSatisfy { x, y in
                x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
            }
        }
        return caseInsensitiveCompare(other) == .orderedSame
    }
}
