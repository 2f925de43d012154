import Foundation

/// Encodings several modules write: hex digests and JSON string literals.
public enum TextEncoding {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes`, two digits a byte.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        // Raw requests are stored as hex: written straight into the string's storage.
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            hexDigits.withUnsafeBufferPointer { digits in
                var o = 0
                for byte in bytes {
                    out[o] = digits[Int(byte >> 4)]
                    out[o + 1] = digits[Int(byte & 0x0F)]
                    o += 2
                }
                return o
            }
        }
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
        var value = value
        let plain = value.withUTF8 { bytes -> Bool in
            // Most values (hex of raw requests included) need no escape: one tight scan,
            // one append.
            var firstEscape = bytes.count
            for (index, byte) in bytes.enumerated() where byte == 0x22 || byte == 0x5C || byte < 0x20 {
                firstEscape = index
                break
            }
            if firstEscape == bytes.count { return true }
            text += "\""
            var escaped: [UInt8] = []
            escaped.reserveCapacity(bytes.count + 16)
            escaped.append(contentsOf: bytes[..<firstEscape])
            for byte in bytes[firstEscape...] {
                switch byte {
                case 0x22: escaped += [0x5C, 0x22]
                case 0x5C: escaped += [0x5C, 0x5C]
                case 0x0A: escaped += [0x5C, 0x6E]
                case 0x0D: escaped += [0x5C, 0x72]
                case 0x09: escaped += [0x5C, 0x74]
                case ..<0x20: escaped += Array("\\u00\(hex([byte]))".utf8)
                default: escaped.append(byte)
                }
            }
            escaped.append(0x22)
            text += String(decoding: escaped, as: UTF8.self)
            return false
        }
        if plain {
            text += "\""
            text += value
            text += "\""
        }
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
