/// A word of a message after normalisation, with its place in the original text.
struct Token: Sendable {
    /// The folded form used for matching.
    var text: String
    /// UTF-16 offsets of the word in the original text.
    var start: Int
    var end: Int
    /// Sentences end at `.`, `!`, `?`, `;` and line breaks.
    var sentence: Int
    /// Clauses also end at commas, colons and brackets; negation does not cross them.
    var clause: Int
}

/// What the tokenizer learnt about a text besides its words.
struct TextFacts: Sendable {
    var hasQuestionMark = false
    /// Counts of letters per ISO 15924 script, for script detection.
    var scripts: [String: Int] = [:]
    /// Characters that hint at a language (ñ, ã, ç, è, ò, …), counted by hint.
    var letterHints: [Character: Int] = [:]
}

/// Splits text into normalised tokens with ICU's word break rules.
///
/// Normalisation: NFKC case folding, diacritics removed, apostrophes split
/// (`l'hôpital` → `l` `hopital`), runs of a repeated letter squashed to one
/// (`ayudaaaa` → `ayuda`, and also `llamar` → `lamar`: lexicons go through the same
/// steps, so both sides agree), digits inside words read as letters (`m4t4r` → `matar`),
/// and SMS abbreviations expanded from the lexicons (`xq` → `porque`).
struct Tokenizer {
    /// Abbreviation → expansion (both already folded).
    var abbreviations: [String: [String]] = [:]

    /// Characters that hint at a language, looked for before folding removes them.
    static let hintCharacters: Set<Character> = ["ñ", "ã", "õ", "ç", "è", "ò", "ê", "â", "ô", "à", "ù", "û", "î", "ï", "ë", "œ", "¿", "¡", "é", "á", "í", "ó", "ú"]

    /// Tokenizes `text`.
    func tokenize(_ text: String, breaker: WordBreaker, facts: inout TextFacts) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(32)
        var units = Array(text.utf16)
        var sentence = 0
        var clause = 0
        units.withUnsafeMutableBufferPointer { buffer in
            let readOnly = UnsafeBufferPointer(buffer)
            breaker.segments(of: readOnly) { start, end, status in
                if status < 100 {
                    // Spaces, punctuation, symbols, emoji.
                    for i in start..<end {
                        switch readOnly[i] {
                        case 0x2E, 0x21, 0x3F, 0x3B, 0x0A, 0x0D, 0xBF, 0xA1, 0x2026:  // . ! ? ; \n \r ¿ ¡ …
                            if readOnly[i] == 0x3F || readOnly[i] == 0xBF { facts.hasQuestionMark = true }
                            sentence += 1
                            clause += 1
                        case 0x2C, 0x3A, 0x28, 0x29, 0x2D, 0x2014, 0x2013:  // , : ( ) - — –
                            if readOnly[i] != 0x2D || end - start > 1 || isSpaceAround(readOnly, i) { clause += 1 }
                        default:
                            break
                        }
                    }
                    return
                }
                appendWord(readOnly, start, end, sentence: sentence, clause: clause, into: &tokens, facts: &facts)
            }
        }
        return tokens
    }

    private func isSpaceAround(_ units: UnsafeBufferPointer<UInt16>, _ i: Int) -> Bool {
        (i > 0 && units[i - 1] == 0x20) || (i + 1 < units.count && units[i + 1] == 0x20)
    }

    private func appendWord(
        _ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, sentence: Int, clause: Int,
        into tokens: inout [Token], facts: inout TextFacts
    ) {
        // Split at apostrophes: ' ’ ʼ `
        var partStart = start
        var i = start
        while i <= end {
            if i == end || units[i] == 0x27 || units[i] == 0x2019 || units[i] == 0x02BC || units[i] == 0x60 {
                if i > partStart {
                    appendPart(units, partStart, i, sentence: sentence, clause: clause, into: &tokens, facts: &facts)
                }
                partStart = i + 1
            }
            i += 1
        }
    }

    private func appendPart(
        _ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, sentence: Int, clause: Int,
        into tokens: inout [Token], facts: inout TextFacts
    ) {
        let slice = UnsafeBufferPointer(rebasing: units[start..<end])
        var ascii = true
        for u in slice where u >= 0x80 { ascii = false; break }
        var folded: [UInt8] = []
        folded.reserveCapacity(slice.count)
        if ascii {
            for u in slice {
                let b = UInt8(u)
                folded.append(b >= 0x41 && b <= 0x5A ? b + 32 : b)
            }
        } else {
            noteScriptsAndHints(slice, facts: &facts)
            let f = ICUText.foldForMatching(slice)
            folded = Array(String(decoding: f, as: UTF16.self).utf8)
        }
        let normalised = Self.squashAndDeleet(folded)
        if normalised.isEmpty { return }
        let word = String(decoding: normalised, as: UTF8.self)
        if let expansion = abbreviations[word] {
            for part in expansion {
                tokens.append(Token(text: part, start: start, end: end, sentence: sentence, clause: clause))
            }
        } else {
            tokens.append(Token(text: word, start: start, end: end, sentence: sentence, clause: clause))
        }
    }

    /// Lower-case hint characters by UTF-16 code unit (upper case is folded by `| 0x20`
    /// for Latin-1 letters).
    private static let hintUnits: [UInt16: Character] = {
        var table: [UInt16: Character] = [:]
        for c in hintCharacters { if let u = c.utf16.first { table[u] = c } }
        return table
    }()

    private func noteScriptsAndHints(_ slice: UnsafeBufferPointer<UInt16>, facts: inout TextFacts) {
        var i = 0
        while i < slice.count {
            let unit = slice[i]
            if unit < 0x250 {
                // Latin-1 upper-case letters À–Þ differ from their lower case by 0x20.
                let lower = (unit >= 0xC0 && unit <= 0xDE && unit != 0xD7) ? unit | 0x20 : unit
                if let hint = Self.hintUnits[lower] { facts.letterHints[hint, default: 0] += 1 }
                i += 1
                continue
            }
            var value = UInt32(unit)
            if UTF16.isLeadSurrogate(unit), i + 1 < slice.count, UTF16.isTrailSurrogate(slice[i + 1]) {
                value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(slice[i + 1]) - 0xDC00)
                i += 1
            }
            i += 1
            guard let scalar = Unicode.Scalar(value), !ICUText.isNonspacingMark(scalar) else { continue }
            facts.scripts[ICUText.script(of: scalar), default: 0] += 1
        }
    }

    /// Squashes runs of a repeated letter and reads digits inside words as letters.
    static func squashAndDeleet(_ bytes: [UInt8]) -> [UInt8] {
        var hasDigit = false
        var hasLetter = false
        for b in bytes {
            if b >= 0x30 && b <= 0x39 { hasDigit = true } else if b >= 0x61 && b <= 0x7A || b >= 0x80 { hasLetter = true }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for var b in bytes {
            if hasDigit && hasLetter {
                switch b {
                case UInt8(ascii: "0"): b = UInt8(ascii: "o")
                case UInt8(ascii: "1"): b = UInt8(ascii: "i")
                case UInt8(ascii: "3"): b = UInt8(ascii: "e")
                case UInt8(ascii: "4"): b = UInt8(ascii: "a")
                case UInt8(ascii: "5"): b = UInt8(ascii: "s")
                case UInt8(ascii: "7"): b = UInt8(ascii: "t")
                default: break
                }
            }
            let isLetter = (b >= 0x61 && b <= 0x7A)
            if isLetter, let last = out.last, last == b { continue }
            out.append(b)
        }
        return out
    }
}
