import Foundation

/// A word or two-word phrase whose share of messages jumps against the baseline: the early
/// sign of a rumour.
public struct EmergingTerm: Sendable, Equatable, Codable {
    /// The term, folded (lower case, no accents).
    public var term: String
    /// Messages (tickets) of the current period that use it.
    public var current: Int
    /// Messages of the baseline period that use it.
    public var baseline: Int
    /// Current share over baseline share, with add-one-half smoothing.
    public var ratio: Double
    /// Exact Poisson p-value of `current` given the baseline share.
    public var pValue: Double
}

/// Finds emerging terms. Pure: callers pass the texts of the two periods.
public enum EmergingTerms {
    /// Splits a text into folded words (letters only, at least 3 long, no stop words, no
    /// words with digits, no e-mail addresses, no capitalised words inside a sentence —
    /// likely personal names) and adjacent two-word phrases, each counted once.
    public static func terms(of text: String) -> Set<String> {
        var words: [String?] = []  // nil breaks phrases
        var sentenceStart = true
        for raw in text.split(whereSeparator: { $0.isWhitespace }) {
            let token = String(raw)
            let endsSentence = token.last.map { ".!?".contains($0) } ?? false
            defer { sentenceStart = endsSentence }
            if token.contains("@") || token.contains(where: \.isNumber) {
                words.append(nil)
                continue
            }
            let letters = token.filter { $0.isLetter }
            guard !letters.isEmpty else {
                words.append(nil)
                continue
            }
            if !sentenceStart, letters.first?.isUppercase == true, letters.dropFirst().contains(where: \.isLowercase) {
                words.append(nil)  // probably a name: never published
                continue
            }
            let folded =
                letters.utf8.allSatisfy { $0 < 128 }
                ? letters.lowercased()
                : letters.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
            if folded.count < 3 || stopWords.contains(folded) {
                words.append(nil)
                continue
            }
            words.append(folded)
        }
        var out = Set<String>()
        for (i, word) in words.enumerated() {
            guard let word else { continue }
            out.insert(word)
            if i + 1 < words.count, let next = words[i + 1] { out.insert(word + " " + next) }
        }
        return out
    }

    /// Terms used in at least `k` current documents whose share rose at least `minimumRatio`
    /// times with a Poisson p-value below `alpha`, most significant first.
    ///
    /// - Parameters:
    ///   - current: term sets of the current period's documents.
    ///   - baseline: term sets of the baseline period's documents.
    ///   - k: disclosure threshold (a term in fewer documents is never published).
    public static func find(
        current: [Set<String>], baseline: [Set<String>], k: Int = Disclosure.defaultK,
        minimumRatio: Double = 3, alpha: Double = 0.001, limit: Int = 20
    ) -> [EmergingTerm] {
        guard !current.isEmpty else { return [] }
        var currentCounts: [String: Int] = [:]
        for doc in current { for term in doc { currentCounts[term, default: 0] += 1 } }
        var baselineCounts: [String: Int] = [:]
        for doc in baseline { for term in doc where currentCounts[term, default: 0] >= k { baselineCounts[term, default: 0] += 1 } }
        let nc = Double(current.count)
        let nb = Double(max(1, baseline.count))
        var found: [EmergingTerm] = []
        for (term, c) in currentCounts where c >= max(1, k) {
            let b = baselineCounts[term, default: 0]
            let ratio = ((Double(c) + 0.5) / nc) / ((Double(b) + 0.5) / nb)
            let expected = max(0.5, Double(b) * nc / nb)
            let p = PoissonTest.upperTail(observed: c, expected: expected)
            if ratio >= minimumRatio && p < alpha {
                found.append(EmergingTerm(term: term, current: c, baseline: b, ratio: ratio, pValue: p))
            }
        }
        // A phrase and its words often rise together; keep the phrase, drop words that
        // rise only because of it (same current count).
        let phrases = found.filter { $0.term.contains(" ") }
        found.removeAll { term in
            !term.term.contains(" ")
                && phrases.contains { $0.current == term.current && $0.term.split(separator: " ").contains(Substring(term.term)) }
        }
        found.sort { ($0.pValue, -$0.ratio, $0.term) < ($1.pValue, -$1.ratio, $1.term) }
        return Array(found.prefix(limit))
    }

    /// Function words of es, en, pt, fr and ht that never make a term.
    public static let stopWords: Set<String> = [
        "que", "los", "las", "del", "por", "para", "con", "una", "uno", "unos", "unas", "pero", "como", "mas", "muy",
        "esta", "este", "esto", "estan", "son", "hay", "nos", "les", "sus", "mis", "tus", "ellos", "ellas", "yo",
        "usted", "ustedes", "aqui", "alli", "donde", "cuando", "porque", "tambien", "ser", "estar", "fue", "era",
        "the", "and", "for", "are", "was", "were", "this", "that", "with", "from", "they", "them", "have", "has",
        "not", "but", "you", "your", "our", "there", "here", "what", "when", "where", "who", "why", "how",
        "uma", "voce", "nao", "sim", "ele", "ela", "eles", "elas", "isso", "isto", "aqui", "pelo", "pela",
        "les", "des", "est", "une", "pas", "pour", "avec", "sur", "dans", "nous", "vous", "ils", "elles", "qui",
        "mwen", "nou", "yo", "pou", "nan", "sou", "pa", "ak", "li", "gen", "ki", "kote", "sa",
    ]
}

/// Redaction of free text quoted in reports (only with `--examples`).
public enum Redaction {
    /// Replaces e-mail addresses with `[email]`, any run of digits (phone numbers, ids,
    /// dates) with `[number]`, and capitalised words inside a sentence (likely names) with
    /// `[name]`.
    public static func redact(_ text: String) -> String {
        var out: [String] = []
        var sentenceStart = true
        for raw in text.split(whereSeparator: { $0.isWhitespace }) {
            let token = String(raw)
            let endsSentence = token.last.map { ".!?".contains($0) } ?? false
            defer { sentenceStart = endsSentence }
            if token.contains("@") {
                out.append("[email]")
            } else if token.contains(where: \.isNumber) {
                if out.last != "[number]" { out.append("[number]") }
            } else if !sentenceStart, let first = token.first(where: \.isLetter), first.isUppercase,
                token.filter(\.isLetter).dropFirst().contains(where: \.isLowercase)
            {
                out.append("[name]")
            } else {
                out.append(token)
            }
        }
        return out.joined(separator: " ")
    }
}
