/// Counts SMS segments for a text: GSM 03.38 7-bit (160, or 153 per part) or UCS-2
/// (70, or 67 per part). Extension-table characters (`€ [ ] { } \ ~ ^ |` and form feed)
/// take two septets.
public enum SMSSegments {
    /// The on-air encoding.
    public enum Encoding: String, Sendable, Equatable {
        case gsm7 = "GSM-7"
        case ucs2 = "UCS-2"
    }

    /// The count for a text.
    public struct Count: Sendable, Equatable {
        /// The encoding the text needs.
        public var encoding: Encoding
        /// How many segments it is sent as (0 for an empty text).
        public var segments: Int
        /// Characters (septets for GSM-7, UTF-16 units for UCS-2) left in the last segment.
        public var charactersLeft: Int
        /// Characters that force UCS-2, in order of appearance, for warnings.
        public var nonGSMCharacters: [Character]
    }

    static let basic: Set<Character> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
    static let extended: Set<Character> = Set("\u{0C}^{}\\[~]|€")

    /// Counts the segments of `text`.
    /// - Parameter text: the message text.
    public static func count(_ text: String) -> Count {
        var septets = 0
        var offending: [Character] = []
        for c in text {
            if basic.contains(c) { septets += 1 } else if extended.contains(c) { septets += 2 } else { offending.append(c) }
        }
        if offending.isEmpty {
            if septets == 0 { return Count(encoding: .gsm7, segments: 0, charactersLeft: 160, nonGSMCharacters: []) }
            if septets <= 160 { return Count(encoding: .gsm7, segments: 1, charactersLeft: 160 - septets, nonGSMCharacters: []) }
            // An extension character never straddles two segments.
            var segments = 1, used = 0
            for c in text {
                let w = extended.contains(c) ? 2 : 1
                if used + w > 153 { segments += 1; used = 0 }
                used += w
            }
            return Count(encoding: .gsm7, segments: segments, charactersLeft: 153 - used, nonGSMCharacters: [])
        }
        let units = text.utf16.count
        if units <= 70 { return Count(encoding: .ucs2, segments: 1, charactersLeft: 70 - units, nonGSMCharacters: offending) }
        // A surrogate pair never straddles two segments.
        var segments = 1, used = 0
        for scalar in text.unicodeScalars {
            let w = scalar.value > 0xFFFF ? 2 : 1
            if used + w > 67 { segments += 1; used = 0 }
            used += w
        }
        return Count(encoding: .ucs2, segments: segments, charactersLeft: 67 - used, nonGSMCharacters: offending)
    }
}
