import EscuchaCore
import Foundation
import Synchronization

/// Flags stigma, discrimination and protection risks in a message, and tells its feedback
/// type, sectors, language and the places it mentions.
///
/// Built once from `Config/` (lexicons, taxonomy, gazetteer) and shared: `classify` is
/// deterministic and safe to call from many tasks at once.
public final class Classifier: Sendable {
    /// The code's part of the version; bump when matching semantics change.
    static let engineVersion = "1"

    public let taxonomy: Taxonomy
    /// `engine+lexicon-hash`; changes whenever any lexicon file changes.
    public let version: String
    /// How long compiling the lexicons took.
    public let compileDuration: Duration

    let lexicons: [LexiconFile]
    let places: [Place]
    let common: CommonRules
    let automaton: Automaton
    let tokenizer: Tokenizer
    /// Per pattern: the flag entries (index, slot) that use it.
    let entrySlots: [[(entry: Int, slot: Int)]]
    let entries: [LexiconFile.FlagEntry]
    let entryLanguage: [String]
    let exclusionsByPattern: [[Int]]
    let exclusions: [LexiconFile.Exclusion]
    let negationByPattern: [[(language: String, scope: Int)]]
    let typeByPattern: [[(type: String, weight: Int)]]
    let sectorByPattern: [[String]]
    let placeByPattern: [[Int]]
    let typeQuestionMarkWeight: [String: Int]
    let functionWords: [String: [String]]
    let typePriority: [String]
    private let breakers: Mutex<[WordBreaker]>

    /// Compiles a classifier.
    public init(
        taxonomy: Taxonomy, lexicons: [LexiconFile], places: [Place], commonYAML: String = "", commonFile: String = "common.yaml",
        versionSeed: String = ""
    ) throws(ConfigError) {
        let clock = ContinuousClock()
        let began = clock.now
        self.taxonomy = taxonomy
        self.lexicons = lexicons
        self.places = places
        let common = try CommonRules.parse(commonYAML.isEmpty ? "{}" : commonYAML, file: commonFile)
        self.common = common
        typePriority = (try? ConfigNode.parse(commonYAML.isEmpty ? "{}" : commonYAML, file: commonFile))?.strings("type_priority") ?? []

        var tokenizer = Tokenizer()
        for lexicon in lexicons {
            for abbreviation in lexicon.abbreviations {
                let from = Self.foldWord(abbreviation.from)
                let to = abbreviation.to.split(separator: " ").map { Self.foldWord(String($0)) }
                if tokenizer.abbreviations[from] == nil { tokenizer.abbreviations[from] = to }
            }
        }
        self.tokenizer = tokenizer

        var automaton = Automaton()
        var entrySlots: [[(entry: Int, slot: Int)]] = []
        var exclusionsByPattern: [[Int]] = []
        var negationByPattern: [[(language: String, scope: Int)]] = []
        var typeByPattern: [[(type: String, weight: Int)]] = []
        var sectorByPattern: [[String]] = []
        var placeByPattern: [[Int]] = []
        var typeQuestionMark: [String: Int] = [:]
        func grow(_ id: Int32) {
            while entrySlots.count <= Int(id) {
                entrySlots.append([]); exclusionsByPattern.append([]); negationByPattern.append([])
                typeByPattern.append([]); sectorByPattern.append([]); placeByPattern.append([])
            }
        }
        func compile(_ text: String) -> Int32? {
            let words = Self.wordPatterns(text, tokenizer: tokenizer)
            guard !words.isEmpty else { return nil }
            let id = automaton.add(words)
            grow(id)
            return id
        }

        var entries: [LexiconFile.FlagEntry] = []
        var entryLanguage: [String] = []
        var exclusions: [LexiconFile.Exclusion] = []
        var functionWords: [String: [String]] = [:]
        for lexicon in lexicons {
            for entry in lexicon.flagEntries {
                guard taxonomy.flag(entry.flag) != nil else {
                    throw ConfigError(file: lexicon.file, line: entry.line, message: "unknown flag code '\(entry.flag)': add it to Config/taxonomy.yaml or fix the spelling")
                }
                let index = entries.count
                entries.append(entry)
                entryLanguage.append(lexicon.language)
                for (slot, patterns) in entry.slots.enumerated() {
                    for pattern in patterns {
                        if let id = compile(pattern) { entrySlots[Int(id)].append((index, slot)) }
                    }
                }
            }
            for exclusion in lexicon.exclusions {
                let index = exclusions.count
                exclusions.append(exclusion)
                for pattern in exclusion.patterns {
                    if let id = compile(pattern) { exclusionsByPattern[Int(id)].append(index) }
                }
            }
            for cue in lexicon.negation.cues {
                if let id = compile(cue) { negationByPattern[Int(id)].append((lexicon.language, lexicon.negation.scope)) }
            }
            for cue in lexicon.typeCues {
                guard taxonomy.types.contains(cue.type) else {
                    throw ConfigError(file: lexicon.file, line: cue.line, message: "unknown feedback type '\(cue.type)': use one of \(taxonomy.types.joined(separator: ", "))")
                }
                for pattern in cue.patterns {
                    if pattern.trimmingCharacters(in: .whitespaces) == "?" {
                        typeQuestionMark[cue.type] = max(typeQuestionMark[cue.type] ?? 0, cue.weight)
                    } else if let id = compile(pattern) {
                        typeByPattern[Int(id)].append((cue.type, cue.weight))
                    }
                }
            }
            for cue in lexicon.sectorCues {
                guard taxonomy.sectors.contains(cue.sector) else {
                    throw ConfigError(file: lexicon.file, line: cue.line, message: "unknown sector '\(cue.sector)': use one of \(taxonomy.sectors.joined(separator: ", "))")
                }
                for pattern in cue.patterns {
                    if let id = compile(pattern) { sectorByPattern[Int(id)].append(cue.sector) }
                }
            }
            for word in lexicon.functionWords {
                let folded = Self.foldWord(word)
                if !(functionWords[folded]?.contains(lexicon.language) ?? false) {
                    functionWords[folded, default: []].append(lexicon.language)
                }
            }
        }
        for (index, place) in places.enumerated() {
            for name in [place.name] + place.aliases {
                if let id = compile(name) { placeByPattern[Int(id)].append(index) }
            }
        }
        self.automaton = automaton
        self.entrySlots = entrySlots
        self.entries = entries
        self.entryLanguage = entryLanguage
        self.exclusions = exclusions
        self.exclusionsByPattern = exclusionsByPattern
        self.negationByPattern = negationByPattern
        self.typeByPattern = typeByPattern
        self.sectorByPattern = sectorByPattern
        self.placeByPattern = placeByPattern
        self.typeQuestionMarkWeight = typeQuestionMark
        self.functionWords = functionWords
        self.breakers = Mutex([])
        self.compileDuration = clock.now - began
        self.version = "\(Self.engineVersion)+\(Self.fnv1a(versionSeed))"
    }

    /// Folds one word the way message tokens are folded.
    static func foldWord(_ word: String) -> String {
        let folded = Array(ICUText.foldForMatching(word).utf8)
        return String(decoding: Tokenizer.squashAndDeleet(folded), as: UTF8.self)
    }

    /// Turns a pattern ("golpe* a mi hijo") into word patterns, through the same tokenizer
    /// as messages so both sides are folded alike.
    static func wordPatterns(_ text: String, tokenizer: Tokenizer) -> [Automaton.WordPattern] {
        guard let breaker = try? WordBreaker() else { return [] }
        var words: [Automaton.WordPattern] = []
        for piece in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let isPrefix = piece.hasSuffix("*")
            let core = isPrefix ? String(piece.dropLast()) : String(piece)
            var facts = TextFacts()
            let tokens = tokenizer.tokenize(core, breaker: breaker, facts: &facts)
            for (i, token) in tokens.enumerated() {
                words.append(.init(text: token.text, isPrefix: isPrefix && i == tokens.count - 1))
            }
        }
        return words
    }

    /// A 64-bit FNV-1a hash in hex, to tell lexicon versions apart.
    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    private func withBreaker<T>(_ body: (WordBreaker) -> T) -> T {
        let reused = breakers.withLock { $0.popLast() }
        let breaker: WordBreaker
        if let reused {
            breaker = reused
        } else if let fresh = try? WordBreaker() {
            breaker = fresh
        } else {
            fatalError("ICU cannot open a word break iterator: the ICU data library is missing")
        }
        let result = body(breaker)
        breakers.withLock { if $0.count < 64 { $0.append(breaker) } }
        return result
    }

    /// Classifies one message.
    /// - Parameters:
    ///   - text: the text as the person wrote it.
    ///   - languageHint: a language the channel suggests, used when the text does not tell.
    public func classify(_ text: String, languageHint: String? = nil) -> Classification {
        var facts = TextFacts()
        let tokens = withBreaker { tokenizer.tokenize(text, breaker: $0, facts: &facts) }
        let matches = automaton.matches(in: tokens)
        let (language, languages, script, present) = detectLanguage(tokens: tokens, facts: facts, hint: languageHint)
        let flagged = findFlags(tokens: tokens, matches: matches, languages: Set(languages), present: present, text: text)
        let flags = Array(Set(flagged.map(\.flag))).sorted()
        let type = decideType(matches: matches, facts: facts, flags: flags)
        var sectors = Set<String>()
        var placeMatches: [Automaton.Match] = []
        for match in matches {
            for sector in sectorByPattern[Int(match.pattern)] { sectors.insert(sector) }
            if !placeByPattern[Int(match.pattern)].isEmpty { placeMatches.append(match) }
        }
        // The longest name wins: "Santiago de los Caballeros" is not also Santiago, Chile.
        var placeIndexes: [Int] = []
        for match in placeMatches {
            let inside = placeMatches.contains { other in
                other.end - other.start > match.end - match.start && other.start <= match.start && match.end <= other.end
            }
            if inside { continue }
            for place in placeByPattern[Int(match.pattern)] where !placeIndexes.contains(place) { placeIndexes.append(place) }
        }
        for flag in flags { for sector in common.sectors(for: flag) { sectors.insert(sector) } }
        return Classification(
            flags: flags, evidence: flagged, type: type,
            sectors: taxonomy.sectors.filter { sectors.contains($0) },
            language: language, languages: languages, script: script,
            places: placeIndexes.map { places[$0] },
            severity: taxonomy.severity(of: flags), restricted: taxonomy.isRestricted(flags),
            classifierVersion: version)
    }

    // MARK: - Flags

    private func findFlags(tokens: [Token], matches: [Automaton.Match], languages: Set<String>, present: Set<String>, text: String) -> [Evidence] {
        // Negation cues and exclusions first.
        var negations: [(end: Int, scope: Int)] = []
        var excluded: [(start: Int, end: Int, exclusion: Int)] = []
        var slotHits: [Int: [[(start: Int, end: Int)]]] = [:]
        for match in matches {
            let p = Int(match.pattern)
            // Negation cues count only in a language the message is written in (Spanish "no"
            // is Portuguese "in the"); a cue right after "si"/"if" opens a condition
            // ("si no pagas te matan"), not a negation.
            for cue in negationByPattern[p] where languages.contains(cue.language) {
                let before = tokens[max(0, match.start - 2)..<match.start]
                if before.contains(where: { common.conditionalWords.contains($0.text) }) { continue }
                negations.append((match.end, cue.scope))
            }
            for exclusion in exclusionsByPattern[p] { excluded.append((match.start, match.end, exclusion)) }
            for use in entrySlots[p] where present.isEmpty || present.contains(entryLanguage[use.entry]) {
                var slots = slotHits[use.entry] ?? Array(repeating: [], count: entries[use.entry].slots.count)
                slots[use.slot].append((match.start, match.end))
                slotHits[use.entry] = slots
            }
        }
        var evidence: [Evidence] = []
        var seen = Set<String>()
        var utf16: [UInt16] = []
        for entryIndex in slotHits.keys.sorted() {
            let entry = entries[entryIndex]
            let slots = slotHits[entryIndex]!
            // Each span with the start of its later part, where a negation between the two
            // parts also counts ("the volunteer never asked me for sex").
            var spans: [(start: Int, end: Int, laterStart: Int, earlierEnd: Int)] = []
            if slots.count == 1 {
                spans = slots[0].map { ($0.start, $0.end, $0.start, $0.end) }
            } else {
                for a in slots[0] {
                    for b in slots[1] {
                        let gap = a.end < b.start ? b.start - a.end - 1 : (b.end < a.start ? a.start - b.end - 1 : -1)
                        guard gap >= 0, gap <= entry.within else { continue }
                        guard tokens[a.start].sentence == tokens[b.start].sentence else { continue }
                        let (earlier, later) = a.start <= b.start ? (a, b) : (b, a)
                        spans.append((earlier.start, max(a.end, b.end), later.start, earlier.end))
                    }
                }
            }
            for span in spans {
                if entry.negatable {
                    if isNegated((span.start, span.end), tokens: tokens, negations: negations) { continue }
                    if span.laterStart != span.start,
                        isNegated((span.laterStart, span.end), tokens: tokens, negations: negations.filter { $0.end > span.earlierEnd })
                    { continue }
                }
                if isExcluded((span.start, span.end), flag: entry.flag, tokens: tokens, excluded: excluded) { continue }
                let key = "\(entry.flag.rawValue)@\(span.start)-\(span.end)"
                guard seen.insert(key).inserted else { continue }
                let start = tokens[span.start].start
                let end = tokens[span.end].end
                if utf16.isEmpty { utf16 = Array(text.utf16) }
                evidence.append(Evidence(
                    flag: entry.flag, start: start, end: end,
                    text: String(decoding: utf16[start..<end], as: UTF16.self),
                    entry: entry.id, language: entryLanguage[entryIndex]))
            }
        }
        if !common.precedence.isEmpty {
            evidence = evidence.filter { loser in
                !evidence.contains { winner in
                    winner.flag != loser.flag && (common.precedence[winner.flag]?.contains(loser.flag) ?? false)
                        && winner.start <= loser.start && loser.end <= winner.end
                }
            }
        }
        return evidence.sorted { ($0.start, $0.flag) < ($1.start, $1.flag) }
    }

    private func isNegated(_ span: (start: Int, end: Int), tokens: [Token], negations: [(end: Int, scope: Int)]) -> Bool {
        for negation in negations where negation.end < span.start && span.start - negation.end <= negation.scope {
            if tokens[negation.end].clause == tokens[span.start].clause { return true }
        }
        return false
    }

    private func isExcluded(_ span: (start: Int, end: Int), flag: FlagCode, tokens: [Token], excluded: [(start: Int, end: Int, exclusion: Int)]) -> Bool {
        for hit in excluded {
            let exclusion = exclusions[hit.exclusion]
            guard exclusion.flags.isEmpty || exclusion.flags.contains(where: { $0 == flag || $0.rawValue == flag.family + ".*" }) else { continue }
            switch exclusion.scope {
            case .overlap:
                if hit.start <= span.end && span.start <= hit.end { return true }
            case .sentence:
                if tokens[hit.start].sentence == tokens[span.start].sentence { return true }
            }
        }
        return false
    }

    // MARK: - Type

    private func decideType(matches: [Automaton.Match], facts: TextFacts, flags: [FlagCode]) -> String {
        var scores: [String: Int] = [:]
        for match in matches {
            for cue in typeByPattern[Int(match.pattern)] { scores[cue.type, default: 0] += cue.weight }
        }
        if facts.hasQuestionMark {
            for (type, weight) in typeQuestionMarkWeight { scores[type, default: 0] += weight }
        }
        let best = scores.values.max() ?? 0
        if best <= 0 {
            return flags.isEmpty ? taxonomy.fallbackType : (taxonomy.types.contains("complaint") ? "complaint" : taxonomy.fallbackType)
        }
        let order = typePriority.isEmpty ? taxonomy.types : typePriority
        return order.first { scores[$0] == best } ?? scores.first { $0.value == best }!.key
    }

    // MARK: - Language

    private static let scriptLanguages: [String: String] = [
        "Arab": "ar", "Cyrl": "ru", "Hani": "zh", "Hira": "ja", "Kana": "ja", "Hang": "ko", "Thai": "th",
        "Deva": "hi", "Grek": "el", "Hebr": "he", "Ethi": "am", "Beng": "bn",
    ]

    private static let hintWeights: [Character: [(String, Double)]] = [
        "ñ": [("es", 1.5)], "¿": [("es", 1.5)], "¡": [("es", 1.5)],
        "ã": [("pt", 1.5)], "õ": [("pt", 1.5)], "ç": [("pt", 0.5), ("fr", 0.5)],
        "ê": [("pt", 0.5), ("fr", 0.5)], "â": [("pt", 0.3), ("fr", 0.5)], "ô": [("pt", 0.3), ("fr", 0.5)],
        "è": [("ht", 0.8), ("fr", 0.6)], "ò": [("ht", 1.2)], "à": [("fr", 0.6), ("pt", 0.3), ("ht", 0.2)],
        "ù": [("fr", 1)], "û": [("fr", 1)], "î": [("fr", 1)], "ï": [("fr", 1)], "ë": [("fr", 0.5)], "œ": [("fr", 1.5)],
    ]

    /// The main language, the clearly present ones, the script, and every language with at
    /// least one of its function words (whose lexicons may fire; empty = unknown, all may).
    private func detectLanguage(tokens: [Token], facts: TextFacts, hint: String?) -> (String, [String], String, Set<String>) {
        let letters = facts.scripts.filter { $0.key != "Zyyy" && $0.key != "Zinh" && $0.key != "Latn" }
        if let (script, count) = letters.max(by: { $0.value < $1.value }), count * 2 >= tokens.count {
            let language = Self.scriptLanguages[script] ?? "und"
            return (language, [language], script, [])
        }
        var scores: [String: Double] = [:]
        for token in tokens {
            guard let languages = functionWords[token.text] else { continue }
            let share = 1.0 / Double(languages.count)
            for language in languages { scores[language, default: 0] += share }
        }
        for (character, count) in facts.letterHints {
            for (language, weight) in Self.hintWeights[character] ?? [] { scores[language, default: 0] += weight * Double(min(count, 3)) }
        }
        let ranked = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        guard let top = ranked.first, top.value > 0 else {
            let language = hint ?? "und"
            return (language, hint.map { [$0] } ?? [], "Latn", [])
        }
        var languages = [top.key]
        for other in ranked.dropFirst() where other.value >= 2 && other.value >= top.value * 0.5 {
            languages.append(other.key)
        }
        // With weak evidence (a few words) every lexicon may fire: better a false alarm than
        // a missed person at risk.
        let present = top.value < 2 ? Set<String>() : Set(scores.filter { $0.value > 0 }.keys)
        return (top.key, languages, "Latn", present)
    }
}
