import Foundation

/// Turns the bytes gateways send into text: UTF-8 (lenient), Latin-1, UTF-16BE, Base64.
public enum TextDecoding {
    /// Decodes UTF-8; a truncated sequence at the very end is dropped (Twilio's
    /// base64 bodies end mid-character), and bytes that are not UTF-8 at all are read as
    /// Latin-1 (modems and Android gateways send Latin-1 percent-escapes).
    /// - Parameter bytes: the bytes to decode.
    public static func lenientUTF8(_ bytes: [UInt8]) -> String {
        utf8DroppingTruncatedTail(bytes) ?? latin1(bytes)
    }

    /// Decodes UTF-8, dropping an incomplete character at the very end; `nil` when the
    /// bytes are not UTF-8 otherwise.
    /// - Parameter bytes: the bytes to decode.
    public static func utf8DroppingTruncatedTail(_ bytes: [UInt8]) -> String? {
        if let s = String(validatingUTF8Bytes: bytes) { return s }
        for drop in 1...3 where drop <= bytes.count {
            let tail = bytes.suffix(drop)
            guard let lead = tail.first, lead >= 0xC0, tail.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }) else { continue }
            let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            guard drop < needed else { continue }
            return String(validatingUTF8Bytes: Array(bytes.dropLast(drop)))
        }
        return nil
    }

    /// Decodes ISO-8859-1 (each byte is the code point of the same value).
    /// - Parameter bytes: the bytes to decode.
    public static func latin1(_ bytes: [UInt8]) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    /// Decodes UTF-16 big-endian (UCS-2 is its subset); an odd trailing byte is dropped and
    /// unpaired surrogates become U+FFFD.
    /// - Parameter bytes: the bytes to decode.
    public static func utf16BE(_ bytes: [UInt8]) -> String {
        var units: [UInt16] = []
        var i = 0
        while i + 1 < bytes.count {
            units.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]))
            i += 2
        }
        return String(decoding: units, as: UTF16.self)
    }

    /// Decodes `bytes` in the named charset (`UTF-8`, `ISO-8859-1`/`Latin-1`,
    /// `UTF-16BE`/`UCS-2`, `ASCII`); `nil` when the charset is not known.
    /// - Parameters:
    ///   - bytes: the bytes to decode.
    ///   - charset: the charset name, case-insensitive.
    public static func decode(_ bytes: [UInt8], charset: String) -> String? {
        switch normalizedCharset(charset) {
        case "utf-8": lenientUTF8(bytes)
        case "iso-8859-1": latin1(bytes)
        case "utf-16be": utf16BE(bytes)
        case "utf-16le": String(decoding: stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0 + 1]) << 8 | UInt16(bytes[$0]) }, as: UTF16.self)
        default: nil
        }
    }

    /// The canonical name of a charset (`utf-8`, `iso-8859-1`, `utf-16be`, `utf-16le`), or the input lower-cased.
    /// - Parameter name: a charset name as gateways write it.
    public static func normalizedCharset(_ name: String) -> String {
        switch name.trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "utf-8", "utf8", "gsm", "gsm7", "0", "text": "utf-8"
        case "iso-8859-1", "iso8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "3": "iso-8859-1"
        case "utf-16be", "utf-16", "ucs-2", "ucs2", "unicode", "2", "8": "utf-16be"
        case "utf-16le": "utf-16le"
        case "ascii", "us-ascii": "utf-8"
        case let other: other
        }
    }

    /// Decodes standard or URL-safe Base64, with or without padding.
    /// - Parameter text: the encoded text.
    public static func base64(_ text: String) -> [UInt8]? {
        var s = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { Array($0) }
    }

    /// Twilio's heuristic: long bodies that are nothing but Base64 and decode to UTF-8
    /// text were concatenated SMS delivered as Base64 (courier: "Twilio sometimes sends
    /// concatenated sms as base64 encoded MMS"). Anything else is returned unchanged.
    /// - Parameter text: the body as received.
    public static func base64IfEncoded(_ text: String) -> String {
        guard text.count >= 60, text.count % 4 == 0 || text.hasSuffix("="),
              text.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "+/=".unicodeScalars.contains($0) }),
              let bytes = base64(text) else { return text }
        guard let decoded = utf8DroppingTruncatedTail(bytes),
              decoded.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\n" || $0 == "\r" || $0 == "\t" }) else { return text }
        return decoded
    }
}

extension String {
    /// Strict UTF-8 validation: `nil` when `bytes` are not valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let v): scalars.append(v)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self.init(scalars)
    }
}
