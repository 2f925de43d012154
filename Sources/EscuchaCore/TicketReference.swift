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
        var chars: [Character] = []
        var v = value & ((1 << 30) - 1)
        for _ in 0..<6 {
            chars.append(alphabet[Int(v & 31)])
            v >>= 5
        }
        return String(chars.reversed())
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
