/// Short ticket references a person can read over the phone: 6 characters of Crockford
/// base32 (no I, L, O, U), e.g. `7KQ2XM`.
public enum TicketReference {
    /// Crockford's base32 alphabet.
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A reference made from 30 random bits.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> String {
        encode(UInt32.random(in: 0..<(1 << 30), using: &generator))
    }

    /// A reference made from the system's random source.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// The 6-character encoding of the low 30 bits of `value`.
    public static func encode(_ value: UInt32) -> String {
        var bytes = [UInt8](repeating: 0, count: 6)
        var v = value & ((1 << 30) - 1)
        for position in (0..<6).reversed() {
            bytes[position] = alphabetBytes[Int(v & 31)]
            v >>= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let alphabetBytes = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// The references a person may have typed in `text`: every word (a run of letters,
    /// marks and digits) that ``normalise(_:)`` accepts, in order.
    public static func candidates(in text: String) -> [String] {
        let scalars = text.unicodeScalars
        var found: [String] = []
        var word: [UInt8] = []
        var start = scalars.startIndex
        var plain = true  // ASCII only: checked from the bytes; other words go through normalise
        // A word with other characters can still be a reference only when each of them
        // upper-cases to ASCII (ı to I, ß to SS) and it has at most six scalars (every
        // scalar gives at least one character of the reference or rules the word out).
        var possible = true
        var scalarCount = 0
        func finish(at end: String.UnicodeScalarView.Index) {
            if plain {
                if word.count == 6, let reference = normaliseASCII(word) { found.append(reference) }
            } else if possible, scalarCount <= 6, let reference = normalise(String(scalars[start..<end])) {
                found.append(reference)
            }
            word.removeAll(keepingCapacity: true)
            plain = true
            possible = true
            scalarCount = 0
        }
        var index = scalars.startIndex
        while index != scalars.endIndex {
            let scalar = scalars[index]
            let isWordPart: Bool
            if scalar.isASCII {
                let byte = UInt8(scalar.value)
                isWordPart = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                if isWordPart { word.append(byte) }
            } else {
                switch scalar.properties.generalCategory {
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                    .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                    isWordPart = true
                    plain = false
                    if !upperCasesToASCII.contains(scalar.value) { possible = false }
                default:
                    isWordPart = false
                }
            }
            if isWordPart { scalarCount += 1 }
            if !isWordPart {
                if !word.isEmpty || !plain { finish(at: index) }
                start = scalars.index(after: index)  // the next word starts after this separator
            }
            index = scalars.index(after: index)
        }
        if !word.isEmpty || !plain { finish(at: scalars.endIndex) }
        return found
    }

    /// The non-ASCII scalars whose upper case is all ASCII: ß, ı, ſ and the Latin
    /// ligatures ﬀ–ﬆ (a test checks this against Unicode's case mappings).
    static let upperCasesToASCII: Set<UInt32> = [0xDF, 0x131, 0x17F, 0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06]

    /// ``normalise(_:)`` of six ASCII letters and digits: every one but U is in the alphabet
    /// once upper-cased and O, I and L are read as digits. Most six-letter words of a message
    /// come here, so it works on the bytes.
    static func normaliseASCII(_ word: [UInt8]) -> String? {
        var out = word
        for index in out.indices {
            var byte = out[index]
            if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }
            switch byte {
            case 0x55: return nil  // U
            case 0x4F: byte = 0x30  // O → 0
            case 0x49, 0x4C: byte = 0x31  // I, L → 1
            default: break
            }
            out[index] = byte
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Normalises what a person typed (lower case, O for 0, I/L for 1) and returns the
    /// reference, or `nil` when it cannot be one.
    public static func normalise(_ typed: some StringProtocol) -> String? {
        var out = ""
        for c in typed.uppercased() where c != "-" && c != " " {
            switch c {
            case "O": out.append("0")
            case "I", "L": out.append("1")
            case "U": return nil
            default:
                guard alphabet.contains(c) else { return nil }
                out.append(c)
            }
        }
        return out.count == 6 ? out : nil
    }
}
