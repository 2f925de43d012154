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
    static let engineVersion = "2"

    public let taxonomy: Taxonomy
    /// `engine+lexicon-hash`; changes whenever any lexicon file changes.
    public let version: String
    /// What makes the risk model's words besides the code: the abbreviations and speaker
    /// labels. A model trained under other ones would read other words.
    public let modelWordsFingerprint: String
    /// How long compiling the lexicons took.
    public let compileDuration: Duration

    let lexicons: [LexiconFile]
    /// Raises flags the lexicons missed and vetoes unlikely ones (`Config/model/risk.json`).
    public let riskModel: RiskModel?
    let places: [Place]
    let common: CommonRules
    let automaton: Automaton
    let tokenizer: Tokenizer
    let entries: [LexiconFile.FlagEntry]
    let exclusions: [LexiconFile.Exclusion]
    let typePriority: [String]
    /// Languages by index: every lexicon's and every language a letter hints at.
    let languageNames: [String]
    /// Per flag entry: the index of its lexicon's language.
    let entryLanguage: [Int32]
    /// Per flag entry, what matching reads, so it never copies the entry.
    let entryFlag: [FlagCode]
    let entrySlotCount: [Int]
    let entryWithin: [Int]
    let entryNegatable: [Bool]
    /// Per flag entry: a number per distinct flag (equal numbers, equal flags), its id and
    /// its language's name, so reporting evidence copies no entry.
    let entryFlagNumber: [Int32]
    let entryID: [String]
    let entryLanguageName: [String]
    /// Per flag any entry raises: what the result needs, looked up once here rather than
    /// by scanning the taxonomy for every flagged message.
    let flagFacts: [FlagCode: FlagFacts]
    /// `quiet_types` of common.yaml as the model's columns: a message whose probability for
    /// one reaches its value keeps only the critical flags the lexicons found.
    let quietTypeColumns: [(column: Int, probability: Double)]
    // Per pattern (automaton id), what it means.
    /// Flag entries (index, slot) that use it.
    let entrySlots: FlatLists<EntrySlot>
    let exclusionsByPattern: FlatLists<Int32>
    let negationByPattern: FlatLists<NegationCue>
    /// Per pattern: the languages in which it is a phrase that negates nothing after it.
    let notNegatingByPattern: FlatLists<Int32>
    let typeByPattern: FlatLists<TypeCue>
    /// Indexes in `taxonomy.sectors`.
    let sectorByPattern: FlatLists<Int32>
    let placeByPattern: FlatLists<Int32>
    /// Per pattern: which of the lists above are not empty (`PatternUse` bits). A byte per
    /// pattern stays in cache, so a match reads only the lists it has.
    let patternUses: [UInt8]
    /// Per exclusion and flag number (`entryFlagNumber`): whether it cancels that flag, at
    /// `exclusion * flagNumberCount + flag`.
    let exclusionCancels: [Bool]
    let flagNumberCount: Int
    /// Per exclusion, how many sentences from its own it reaches: 0 (its overlap only), 1
    /// (its sentence), 2 (its sentence and the next).
    let exclusionSentenceReach: [Int32]
    /// Per type in `taxonomy.types`: the weight a question mark adds, or nil.
    let typeQuestionMarkWeight: [Int?]
    /// Types in the order that breaks ties, as indexes in `taxonomy.types`.
    let typeOrder: [Int]
    // Per word of the tokenizer's table.
    /// What matching and language detection read of a word, in one record and one run of
    /// `wordItems`, so a token costs one or two cache misses instead of one per table.
    let wordFacts: [WordFacts]
    let wordItems: [Int32]
    /// The languages whose function word it is (indexes in `languageNames`).
    let wordLanguages: FlatLists<Int32>
    let wordIsConditional: [Bool]
    /// Per hint character: (language index, weight).
    let hintWeightsByIndex: [[(language: Int, weight: Double)]]
    /// Per sector: the index of its first listing (a sector listed twice is marked there).
    let sectorFirstIndex: [Int]
    /// Per sector of the risk model: its index in `taxonomy.sectors`.
    let modelSectorIndex: [Int]
    private let scratches: Mutex<[ScratchBox]>

    struct FlagFacts: Sendable {
        var severity: Severity
        var restricted: Bool
        /// Indexes in `taxonomy.sectors` of the sectors the flag implies.
        var sectors: [Int]
    }

    /// `wordItems[start...]` holds the word's automaton symbols, its first step
    /// (`Automaton.appendRootStep`: active nodes, then patterns) and the languages whose
    /// function word it is.
    struct WordFacts: Sendable {
        var start: Int32
        var symbols: UInt16
        var active: UInt16
        var patterns: UInt16
        var languages: UInt16
        /// Whether one of its symbols continues a phrase (`Automaton.continuesPhrase`).
        var continues: Bool
    }

    enum PatternUse {
        static let negation: UInt8 = 1
        static let exclusion: UInt8 = 2
        static let entrySlot: UInt8 = 4
        static let type: UInt8 = 8
        static let sector: UInt8 = 16
        static let place: UInt8 = 32
        static let notNegating: UInt8 = 64
    }

    struct EntrySlot: Sendable {
        var entry: Int32
        var slot: Int32
    }

    struct NegationCue: Sendable {
        var language: Int32
        var scope: Int32
    }

    struct TypeCue: Sendable {
        var type: Int32
        var weight: Int
    }

    /// Compiles a classifier.
    public init(
        taxonomy: Taxonomy, lexicons: [LexiconFile], places: [Place], commonYAML: String = "", commonFile: String = "common.yaml",
        versionSeed: String = "", riskModel: RiskModel? = nil
    ) throws(ConfigError) {
        self.riskModel = riskModel
        if let riskModel {
            let unknown = riskModel.types.filter { !taxonomy.types.contains($0) } + riskModel.sectors.filter { !taxonomy.sectors.contains($0) }
            if let name = unknown.first {
                throw ConfigError(file: "model/risk.json", line: nil, message: "the model knows type or sector '\(name)', which the taxonomy does not; train it again")
            }
        }
        modelSectorIndex = riskModel?.sectors.map { taxonomy.sectors.firstIndex(of: $0)! } ?? []
        let clock = ContinuousClock()
        let began = clock.now
        self.taxonomy = taxonomy
        self.lexicons = lexicons
        self.places = places
        let common = try CommonRules.parse(commonYAML.isEmpty ? "{}" : commonYAML, file: commonFile)
        if let unknown = common.negationBindsModel.sorted().first(where: { taxonomy.flag($0) == nil }) {
            throw ConfigError(
                file: commonFile, line: nil,
                message: "negation_binds_model names the unknown flag code '\(unknown.rawValue)': add it to Config/taxonomy.yaml or fix the spelling")
        }
        self.common = common
        if let unknown = common.quietTypes.first(where: { !taxonomy.types.contains($0.type) }) {
            throw ConfigError(
                file: commonFile, line: nil,
                message: "quiet_types names the unknown type '\(unknown.type)': use one of \(taxonomy.types.joined(separator: ", "))")
        }
        // A model that did not learn the type (or no model) leaves the rule inert.
        if let riskModel {
            quietTypeColumns = common.quietTypes.compactMap { quiet in
                riskModel.types.firstIndex(of: quiet.type).map { (riskModel.typeColumn($0), quiet.probability) }
            }
        } else {
            quietTypeColumns = []
        }
        typePriority = (try? ConfigNode.parse(commonYAML.isEmpty ? "{}" : commonYAML, file: commonFile))?.strings("type_priority") ?? []

        var tokenizer = Tokenizer()
        var wordSources: [String] = []
        for lexicon in lexicons {
            for abbreviation in lexicon.abbreviations {
                let from = Self.foldWord(abbreviation.from)
                let to = abbreviation.to.split(separator: " ").map { Self.foldWord(String($0)) }
                tokenizer.addAbbreviation(from, expansion: to)
                wordSources.append(from + "=" + to.joined(separator: " "))
            }
        }
        wordSources += common.speakerLabels.labels.map { ($0.agent ? "agent:" : "caller:") + $0.words.joined(separator: " ") }
        wordSources += common.speakerLabels.agentVerbs.sorted().map { "agent-verb:" + $0 } + common.speakerLabels.fillers.sorted().map { "filler:" + $0 }
        modelWordsFingerprint = Self.fnv1a(wordSources.sorted().joined(separator: "\n"))

        var languageNames: [String] = []
        func languageIndex(_ name: String) -> Int32 {
            if let i = languageNames.firstIndex(of: name) { return Int32(i) }
            languageNames.append(name)
            return Int32(languageNames.count - 1)
        }
        for lexicon in lexicons { _ = languageIndex(lexicon.language) }
        let hintWeightsByIndex = Tokenizer.hintCharacters.map { character in
            (Self.hintWeights[character] ?? []).map { (language: Int(languageIndex($0.0)), weight: $0.1) }
        }

        var automaton = Automaton()
        var entrySlots: [[EntrySlot]] = []
        var exclusionsByPattern: [[Int32]] = []
        var negationByPattern: [[NegationCue]] = []
        var notNegatingByPattern: [[Int32]] = []
        var typeByPattern: [[TypeCue]] = []
        var sectorByPattern: [[Int32]] = []
        var placeByPattern: [[Int32]] = []
        var typeQuestionMark: [Int?] = Array(repeating: nil, count: taxonomy.types.count)
        func grow(_ id: Int32) {
            while entrySlots.count <= Int(id) {
                entrySlots.append([]); exclusionsByPattern.append([]); negationByPattern.append([]); notNegatingByPattern.append([])
                typeByPattern.append([]); sectorByPattern.append([]); placeByPattern.append([])
            }
        }
        var patternBuffer = TokenBuffer()
        func compile(_ text: String) -> Int32? {
            let words = Self.wordPatterns(text, tokenizer: tokenizer, buffer: &patternBuffer)
            guard !words.isEmpty else { return nil }
            let id = automaton.add(words)
            grow(id)
            return id
        }

        var entries: [LexiconFile.FlagEntry] = []
        var entryLanguage: [Int32] = []
        var exclusions: [LexiconFile.Exclusion] = []
        var functionWords: [String: [Int32]] = [:]
        for lexicon in lexicons {
            let language = languageIndex(lexicon.language)
            for entry in lexicon.flagEntries {
                guard taxonomy.flag(entry.flag) != nil else {
                    throw ConfigError(file: lexicon.file, line: entry.line, message: "unknown flag code '\(entry.flag)': add it to Config/taxonomy.yaml or fix the spelling")
                }
                let index = Int32(entries.count)
                entries.append(entry)
                entryLanguage.append(language)
                for (slot, patterns) in entry.slots.enumerated() {
                    for pattern in patterns {
                        if let id = compile(pattern) { entrySlots[Int(id)].append(EntrySlot(entry: index, slot: Int32(slot))) }
                    }
                }
            }
            for exclusion in lexicon.exclusions {
                let index = Int32(exclusions.count)
                exclusions.append(exclusion)
                for pattern in exclusion.patterns {
                    if let id = compile(pattern) { exclusionsByPattern[Int(id)].append(index) }
                }
            }
            for cue in lexicon.negation.cues {
                if let id = compile(cue) { negationByPattern[Int(id)].append(NegationCue(language: language, scope: Int32(lexicon.negation.scope))) }
            }
            for phrase in lexicon.negation.notNegating {
                if let id = compile(phrase) { notNegatingByPattern[Int(id)].append(Int32(language)) }
            }
            for cue in lexicon.typeCues {
                guard let type = taxonomy.types.firstIndex(of: cue.type) else {
                    throw ConfigError(file: lexicon.file, line: cue.line, message: "unknown feedback type '\(cue.type)': use one of \(taxonomy.types.joined(separator: ", "))")
                }
                for pattern in cue.patterns {
                    if pattern.trimmingCharacters(in: .whitespaces) == "?" {
                        typeQuestionMark[type] = max(typeQuestionMark[type] ?? 0, cue.weight)
                    } else if let id = compile(pattern) {
                        typeByPattern[Int(id)].append(TypeCue(type: Int32(type), weight: cue.weight))
                    }
                }
            }
            for cue in lexicon.sectorCues {
                guard let sector = taxonomy.sectors.firstIndex(of: cue.sector) else {
                    throw ConfigError(file: lexicon.file, line: cue.line, message: "unknown sector '\(cue.sector)': use one of \(taxonomy.sectors.joined(separator: ", "))")
                }
                for pattern in cue.patterns {
                    if let id = compile(pattern) { sectorByPattern[Int(id)].append(Int32(sector)) }
                }
            }
            for word in lexicon.functionWords {
                let folded = Self.foldWord(word)
                if !(functionWords[folded]?.contains(language) ?? false) {
                    functionWords[folded, default: []].append(language)
                }
            }
        }
        for (index, place) in places.enumerated() {
            for name in [place.name] + place.aliases {
                if let id = compile(name) { placeByPattern[Int(id)].append(Int32(index)) }
            }
        }
        automaton.freeze()

        // Number every word a later stage asks about, so tokens carry the answer's index.
        for word in automaton.exactWords.sorted() { tokenizer.addWord(word) }
        for word in functionWords.keys.sorted() { tokenizer.addWord(word) }
        for word in common.conditionalWords.sorted() { tokenizer.addWord(word) }
        var wordFacts: [WordFacts] = []
        var wordItems: [Int32] = []
        var wordLanguages: [[Int32]] = []
        var wordIsConditional: [Bool] = []
        for index in 0..<Int32(tokenizer.words.count) {
            let word = tokenizer.words.string(index)
            var symbols: [Int32] = []
            automaton.symbols(of: word, into: &symbols)
            let start = wordItems.count
            wordItems += symbols
            let (active, patterns) = automaton.appendRootStep(to: &wordItems, symbolsFrom: start)
            let languages = functionWords[word] ?? []
            wordItems += languages
            precondition([symbols.count, active, patterns, languages.count].allSatisfy { $0 <= Int(UInt16.max) }, "the word '\(word)' has too many symbols, patterns or languages")
            wordFacts.append(WordFacts(
                start: Int32(start), symbols: UInt16(symbols.count), active: UInt16(active), patterns: UInt16(patterns), languages: UInt16(languages.count),
                continues: automaton.continuesPhrase(symbols[...])))
            wordLanguages.append(languages)
            wordIsConditional.append(common.conditionalWords.contains(word))
        }

        self.tokenizer = tokenizer
        self.automaton = automaton
        self.entries = entries
        self.exclusions = exclusions
        self.languageNames = languageNames
        self.entryLanguage = entryLanguage
        self.entryFlag = entries.map(\.flag)
        self.entrySlotCount = entries.map(\.slots.count)
        self.entryWithin = entries.map(\.within)
        self.entryNegatable = entries.map(\.negatable)
        var flagNumbers: [FlagCode: Int32] = [:]
        self.entryFlagNumber = entries.map { entry in
            if let n = flagNumbers[entry.flag] { return n }
            let n = Int32(flagNumbers.count)
            flagNumbers[entry.flag] = n
            return n
        }
        self.entryID = entries.map(\.id)
        self.entryLanguageName = entryLanguage.map { languageNames[Int($0)] }
        var flagFacts: [FlagCode: FlagFacts] = [:]
        for entry in entries where flagFacts[entry.flag] == nil {
            // Every entry's flag is in the taxonomy (checked above).
            guard let definition = taxonomy.flag(entry.flag) else { continue }
            flagFacts[entry.flag] = FlagFacts(
                severity: definition.severity, restricted: definition.restricted,
                sectors: common.sectors(for: entry.flag).compactMap { taxonomy.sectors.firstIndex(of: $0) })
        }
        self.flagFacts = flagFacts
        self.entrySlots = FlatLists(entrySlots)
        self.exclusionsByPattern = FlatLists(exclusionsByPattern)
        self.negationByPattern = FlatLists(negationByPattern)
        self.notNegatingByPattern = FlatLists(notNegatingByPattern)
        self.typeByPattern = FlatLists(typeByPattern)
        self.sectorByPattern = FlatLists(sectorByPattern)
        self.placeByPattern = FlatLists(placeByPattern)
        self.patternUses = (0..<entrySlots.count).map { p in
            var uses: UInt8 = 0
            if !negationByPattern[p].isEmpty { uses |= PatternUse.negation }
            if !notNegatingByPattern[p].isEmpty { uses |= PatternUse.notNegating }
            if !exclusionsByPattern[p].isEmpty { uses |= PatternUse.exclusion }
            if !entrySlots[p].isEmpty { uses |= PatternUse.entrySlot }
            if !typeByPattern[p].isEmpty { uses |= PatternUse.type }
            if !sectorByPattern[p].isEmpty { uses |= PatternUse.sector }
            if !placeByPattern[p].isEmpty { uses |= PatternUse.place }
            return uses
        }
        let flagNumberCount = flagNumbers.count
        var flagByNumber = [FlagCode](repeating: FlagCode(""), count: flagNumberCount)
        for (flag, n) in flagNumbers { flagByNumber[Int(n)] = flag }
        self.flagNumberCount = flagNumberCount
        self.exclusionCancels = exclusions.flatMap { exclusion in
            flagByNumber.map { flag in
                exclusion.flags.isEmpty || exclusion.flags.contains { $0 == flag || $0.rawValue == flag.family + ".*" }
            }
        }
        self.exclusionSentenceReach = exclusions.map { exclusion -> Int32 in
            switch exclusion.scope {
            case .overlap: 0
            case .sentence: 1
            case .nextSentence: 2
            }
        }
        self.typeQuestionMarkWeight = typeQuestionMark
        self.typeOrder = (typePriority.isEmpty ? taxonomy.types : typePriority).compactMap { taxonomy.types.firstIndex(of: $0) }
        self.wordFacts = wordFacts
        self.wordItems = wordItems
        self.wordLanguages = FlatLists(wordLanguages)
        self.wordIsConditional = wordIsConditional
        self.hintWeightsByIndex = hintWeightsByIndex
        self.sectorFirstIndex = taxonomy.sectors.map { taxonomy.sectors.firstIndex(of: $0)! }
        self.scratches = Mutex([])
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
    static func wordPatterns(_ text: String, tokenizer: Tokenizer, buffer: inout TokenBuffer) -> [Automaton.WordPattern] {
        var words: [Automaton.WordPattern] = []
        for piece in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let isPrefix = piece.hasSuffix("*")
            let core = isPrefix ? String(piece.dropLast()) : String(piece)
            tokenizer.tokenize(core, into: &buffer)
            for (i, token) in buffer.tokens.enumerated() {
                words.append(.init(text: buffer.string(of: token, words: tokenizer.words), isPrefix: isPrefix && i == buffer.tokens.count - 1))
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

    /// Buffers for one classification; reused so a message allocates little beyond its
    /// result. Passed `inout`, so the hot loops pay no dynamic exclusivity checks.
    struct Scratch: Sendable {
        var buffer = TokenBuffer()
        var steps: [Automaton.TokenStep] = []
        var items: [Int32] = []
        var frontier: [Int32] = []
        /// Whether a known word voted for a language (`languageScores`, by `findMatches`).
        var wordVotes = false
        var matches: [Automaton.Match] = []
        var languageScores: [Double] = []
        /// Per language index: among the message's languages / clearly present.
        var inLanguages: [Bool] = []
        var present: [Bool] = []
        var typeScores: [Int] = []
        var sectorHit: [Bool] = []
        var negations: [(end: Int, scope: Int)] = []
        /// Token spans of phrases whose cue negates nothing.
        var notNegating: [(start: Int, end: Int)] = []
        var excluded: [(start: Int, end: Int, exclusion: Int)] = []
        var hits: [(entry: Int32, slot: Int32, start: Int32, end: Int32, order: Int32)] = []
        var ranked: [Int] = []
        var hitKeys: [UInt64] = []
        /// Per flag entry: which of its slots have hits, valid where `entryStamp` is `stamp`.
        var entrySlotsHit: [UInt8] = []
        var entryStamp: [UInt32] = []
        var stamp: UInt32 = 0
        var spans: [(start: Int, end: Int, laterStart: Int, earlierEnd: Int)] = []
        var seen: [(flag: Int32, start: Int, end: Int)] = []
        /// Flags of `negation_binds_model` whose lexicon matches a negation cancelled ("no me
        /// quiero matar").
        var negatedFlags: [FlagCode] = []
        var model = RiskModel.Scratch()
        /// UTF-16 ranges an agent speaks in a transcript: they raise no flag.
        var agentRegions: [Range<Int>] = []

        /// Whether the agent speaks at UTF-16 offset `offset`.
        func spokenByAgent(_ offset: Int32) -> Bool {
            !agentRegions.isEmpty && agentRegions.contains { $0.contains(Int(offset)) }
        }
    }

    /// A scratch in the pool: handing out a reference copies none of its arrays.
    // @unchecked: the pool hands each box to one classification at a time.
    final class ScratchBox: @unchecked Sendable {
        var scratch = Scratch()
    }

    private func withScratch<T>(_ body: (inout Scratch) -> T) -> T {
        let box = scratches.withLock { $0.popLast() } ?? ScratchBox()
        let result = body(&box.scratch)
        scratches.withLock { if $0.count < 64 { $0.append(box) } }
        return result
    }

    /// Tokenizes `text` into the scratch and finds the turns an agent speaks.
    private func read(_ text: String, into scratch: inout Scratch) {
        tokenizer.tokenize(text, into: &scratch.buffer)
        scratch.agentRegions = common.speakerLabels.agentRegions(scratch.buffer.units)
    }

    /// The risk model's words: the tokens of the message outside an agent's turns. Returns
    /// their folded spellings when `spelled` (naming features for training), else nothing.
    @discardableResult
    private func modelWords(_ scratch: inout Scratch, spelled: Bool = false) -> [String] {
        var modelWords = scratch.model.words
        scratch.model.words = []
        modelWords.removeAll(keepingCapacity: true)
        defer { scratch.model.words = modelWords }
        var spellings: [String] = []
        let words = tokenizer.words
        let buffer = scratch.buffer
        buffer.text.withUnsafeBufferPointer { text in
            for token in buffer.tokens where !scratch.spokenByAgent(token.start) {
                let (start, end) = (Int(token.start), Int(token.end))
                if token.textEnd > token.textStart {
                    let bytes = UnsafeBufferPointer(rebasing: text[Int(token.textStart)..<Int(token.textEnd)])
                    modelWords.append(RiskModel.Word(folded: bytes, hash: token.hash, start: start, end: end))
                } else {
                    // An abbreviation's expansion: its bytes are in the word table.
                    modelWords.append(words.bytes(token.word).withUnsafeBufferPointer {
                        RiskModel.Word(folded: $0, hash: token.hash, start: start, end: end)
                    })
                }
                if spelled { spellings.append(buffer.string(of: token, words: words)) }
            }
        }
        return spellings
    }

    /// The risk model's words of `text` with their folded spellings (naming features).
    func modelWords(of text: String) -> [(word: RiskModel.Word, spelling: String)] {
        withScratch { scratch in
            read(text, into: &scratch)
            let spellings = modelWords(&scratch, spelled: true)
            return Array(zip(scratch.model.words, spellings))
        }
    }

    /// The lexicon entries' own examples, each text once, in file order, labelled with the
    /// flags the lexicons find in it (an example written for one flag often shows another
    /// too). More labelled messages for the risk model, in the wordings the lexicon writers
    /// foresaw, so that it learns their neighbours.
    public func lexiconExamples() -> [(text: String, flags: Set<FlagCode>)] {
        var seen: Set<String> = []
        var examples: [(text: String, flags: Set<FlagCode>)] = []
        for lexicon in lexicons {
            for entry in lexicon.flagEntries {
                for text in entry.examples where seen.insert(text).inserted {
                    examples.append((text, Set(classifyWithLexiconsOnly(text, languageHint: lexicon.language).flags)))
                }
            }
        }
        return examples
    }

    /// What `escucha model train` learns from: the labelled messages, then the lexicon
    /// examples (``lexiconExamples()``) that are not among them, unless `lexiconExamples` is
    /// false. A text both labelled and a lexicon example is counted once, with its label.
    public func riskModelTrainingSet(_ labelled: [(text: String, flags: Set<FlagCode>)], lexiconExamples: Bool = true)
        -> [(text: String, flags: Set<FlagCode>)]
    {
        riskModelTrainingSet(labelled: labelled.map { ($0.text, RiskModel.ModelLabels(flags: $0.flags)) }, lexiconExamples: lexiconExamples)
            .map { ($0.text, $0.labels.flags) }
    }

    /// ``riskModelTrainingSet(_:lexiconExamples:)`` for messages labelled with their type and
    /// sectors too; the lexicon examples come without them.
    public func riskModelTrainingSet(labelled: [(text: String, labels: RiskModel.ModelLabels)], lexiconExamples: Bool = true)
        -> [(text: String, labels: RiskModel.ModelLabels)]
    {
        guard lexiconExamples else { return labelled }
        let labelledTexts = Set(labelled.map(\.text))
        return labelled + self.lexiconExamples().filter { !labelledTexts.contains($0.text) }.map { ($0.text, RiskModel.ModelLabels(flags: $0.flags)) }
    }

    /// Trains the risk model on messages labelled with flags, read by this classifier's
    /// tokenizer.
    public func trainRiskModel(_ examples: [(text: String, flags: Set<FlagCode>)], flags: [FlagCode], settings: RiskModel.Settings = RiskModel.Settings())
        -> RiskModel
    {
        trainRiskModel(labelled: examples.map { ($0.text, RiskModel.ModelLabels(flags: $0.flags)) }, flags: flags, settings: settings)
    }

    /// Trains the risk model; it learns the taxonomy's feedback types and sectors too when
    /// `settings.typesAndSectors` and some messages are labelled with them.
    public func trainRiskModel(
        labelled examples: [(text: String, labels: RiskModel.ModelLabels)], flags: [FlagCode], settings: RiskModel.Settings = RiskModel.Settings()
    ) -> RiskModel {
        func unique(_ names: [String]) -> [String] {
            var seen: Set<String> = []
            return names.filter { seen.insert($0).inserted }
        }
        // A type or sector with too few labelled messages is left to the lexicons' cues: a
        // column that never saw it would never choose it, and would silence the cues.
        var typeCounts: [String: Int] = [:]
        var sectorCounts: [String: Int] = [:]
        for example in examples {
            if let type = example.labels.type { typeCounts[type, default: 0] += 1 }
            for sector in Set(example.labels.sectors ?? []) { sectorCounts[sector, default: 0] += 1 }
        }
        let minimum = settings.minimumLabelledExamples
        let types = settings.typesAndSectors ? unique(taxonomy.types).filter { typeCounts[$0, default: 0] >= minimum } : []
        let sectors = settings.typesAndSectors ? unique(taxonomy.sectors).filter { sectorCounts[$0, default: 0] >= minimum } : []
        return RiskModel.train(
            examples.map { (modelWords(of: $0.text), $0.labels) }, flags: flags, settings: settings,
            // One type alone is no choice.
            types: types.count > 1 ? types : [], sectors: sectors,
            wordsFingerprint: modelWordsFingerprint, critical: Set(taxonomy.criticalFlags))
    }

    /// Classifies one message.
    /// - Parameters:
    ///   - text: the text as the person wrote it.
    ///   - languageHint: a language the channel suggests, used when the text does not tell.
    public func classify(_ text: String, languageHint: String? = nil) -> Classification {
        withScratch { classify(text, languageHint: languageHint, withModel: true, scratch: &$0) }
    }

    /// What the risk model makes of a message, to study its errors and its thresholds.
    public struct ModelScores: Sendable {
        /// The words the model read (outside an agent's turns, abbreviations expanded), which
        /// decide whether its short-message rule applies.
        public var words: Int
        /// Each of the model's flags with its probability, whether the model raises it
        /// (whether or not the lexicons found it too), and whether the lexicons found it and
        /// the model vetoed it.
        public var flags: [(flag: FlagCode, probability: Double, raised: Bool, vetoed: Bool)]
        /// The probability of each type and each sector the model learnt (empty for a model
        /// of flags only).
        public var types: [(type: String, probability: Double)]
        public var sectors: [(sector: String, probability: Double)]
    }

    /// The risk model's view of `text` (read as ``classify(_:languageHint:)`` reads it);
    /// `nil` without a model.
    public func modelScores(_ text: String, languageHint: String? = nil) -> ModelScores? {
        guard let riskModel else { return nil }
        return withScratch { scratch in
            read(text, into: &scratch)
            findMatches(&scratch)
            let presentAll = detectLanguage(&scratch, hint: languageHint).presentAll
            let found = Set(findFlags(&scratch, presentAll: presentAll).map(\.flag))
            modelWords(&scratch)
            let results = riskModel.score(&scratch.model)
            let words = scratch.model.words.count
            let types = riskModel.types.enumerated().map { t, type in
                (type, riskModel.probability(column: riskModel.typeColumn(t), scratch.model))
            }
            let sectors = riskModel.sectors.enumerated().map { s, sector in
                (sector, riskModel.probability(column: riskModel.sectorColumn(s), scratch.model))
            }
            return ModelScores(
                words: words,
                flags: results.enumerated().map { k, result in
                    let flag = riskModel.flags[k]
                    let vetoed = found.contains(flag) && riskModel.vetoes(k, probability: result.probability, words: words)
                    return (flag, result.probability, result.raised, vetoed)
                },
                types: types, sectors: sectors)
        }
    }

    /// What the lexicons alone find: `lexicon check` and the lexicons' tests must not credit
    /// an entry with a flag the model raised.
    public func classifyWithLexiconsOnly(_ text: String, languageHint: String? = nil) -> Classification {
        withScratch { classify(text, languageHint: languageHint, withModel: false, scratch: &$0) }
    }

    private func classify(_ text: String, languageHint: String?, withModel: Bool, scratch: inout Scratch) -> Classification {
        read(text, into: &scratch)
        findMatches(&scratch)
        let (language, languages, script, presentAll) = detectLanguage(&scratch, hint: languageHint)
        var flagged = findFlags(&scratch, presentAll: presentAll)
        var modelType: String?
        var modelSectors: [Bool] = []
        if withModel, let riskModel {
            // The model reads the tokenizer's words, the caller's only.
            modelWords(&scratch)
            let scores = riskModel.score(&scratch.model)
            // The type and the sectors the model learnt are its to decide: on labelled sets it
            // had not seen, it chose the type of 87 % of messages where the lexicons' cues chose
            // 74 %, and sectors at F1 0.79 where the cues and the flags gave 0.66
            // (docs/lexicon.md). Where it is unsure of every type, the cues decide.
            if let (t, p) = riskModel.likeliestType(scratch.model), p >= riskModel.typeConfidence { modelType = riskModel.types[t] }
            modelSectors = riskModel.sectors.indices.map { riskModel.hasSector($0, scratch.model) }
            // A lexicon's flag below critical severity that the model finds very unlikely is
            // dropped with its evidence; a critical one always stays.
            let words = scratch.model.words.count
            if riskModel.vetoBelow > 0, !flagged.isEmpty {
                for (k, result) in scores.enumerated() where riskModel.vetoes(k, probability: result.probability, words: words) {
                    let flag = riskModel.flags[k]
                    flagged.removeAll { $0.flag == flag }
                }
            }
            for (k, result) in scores.enumerated() where result.raised {
                let flag = riskModel.flags[k]
                if flagged.contains(where: { $0.flag == flag }) { continue }
                // The person denied it in so many words ("no me quiero matar, solo estoy
                // cansado"): the model, which reads words and not negations, does not raise
                // it back. Only for the flags common.yaml names: for most flags the negation
                // is part of the risk ("no atendemos venecos", "no para de convulsionar").
                if scratch.negatedFlags.contains(flag) { continue }
                let word = result.word
                let span = word.map { Self.text(of: scratch.buffer.units, $0.start, $0.end) } ?? ""
                flagged.append(Evidence(
                    flag: flag, start: word?.start ?? 0, end: word?.end ?? 0, text: span,
                    entry: "model:\(flag.rawValue)", language: language))
            }
            // Thanks are not reports: over 20,470 labelled messages held out of the model's
            // training, flags on messages it took for praise were all wrong but the critical
            // ones the lexicons found ("ya compré las pastillas… gracias por todo"), which stay.
            if !flagged.isEmpty,
               quietTypeColumns.contains(where: { riskModel.probability(column: $0.column, scratch.model) >= $0.probability }) {
                flagged.removeAll { $0.entry.hasPrefix("model:") || taxonomy.flag($0.flag)?.severity != .critical }
            }
        }
        var flags: [FlagCode] = []
        if !flagged.isEmpty {
            // Sorted and unique.
            for flag in flagged.map(\.flag).sorted() where flags.last != flag { flags.append(flag) }
        }
        // Type cues, sectors and places in one pass over the matches.
        if scratch.typeScores.count != taxonomy.types.count { scratch.typeScores = Array(repeating: 0, count: taxonomy.types.count) }
        if scratch.sectorHit.count != taxonomy.sectors.count { scratch.sectorHit = Array(repeating: false, count: taxonomy.sectors.count) }
        var placeMatches: [Automaton.Match] = []
        for match in scratch.matches {
            let uses = patternUses[Int(match.pattern)]
            if uses & (PatternUse.type | PatternUse.sector | PatternUse.place) == 0 { continue }
            if uses & PatternUse.type != 0 { typeByPattern.forEach(Int(match.pattern)) { scratch.typeScores[Int($0.type)] += $0.weight } }
            if uses & PatternUse.sector != 0 { sectorByPattern.forEach(Int(match.pattern)) { scratch.sectorHit[Int($0)] = true } }
            if uses & PatternUse.place != 0 { placeMatches.append(match) }
        }
        // Called whatever the model says: it also clears the cue scores for the next message.
        let lexiconType = decideType(&scratch, flags: flags)
        let type = modelType ?? lexiconType
        // The longest name wins: "Santiago de los Caballeros" is not also Santiago, Chile.
        var placeIndexes: [Int] = []
        for match in placeMatches {
            let inside = placeMatches.contains { other in
                other.end - other.start > match.end - match.start && other.start <= match.start && match.end <= other.end
            }
            if inside { continue }
            placeByPattern.forEach(Int(match.pattern)) { place in
                if !placeIndexes.contains(Int(place)) { placeIndexes.append(Int(place)) }
            }
        }
        var severity: Severity?
        var restricted = false
        for flag in flags {
            if let facts = flagFacts[flag] {
                for i in facts.sectors { scratch.sectorHit[i] = true }
                severity = severity.map { max($0, facts.severity) } ?? facts.severity
                if facts.restricted { restricted = true }
            } else {
                for sector in common.sectors(for: flag) {
                    if let i = taxonomy.sectors.firstIndex(of: sector) { scratch.sectorHit[i] = true }
                }
                if let definition = taxonomy.flag(flag) {
                    severity = severity.map { max($0, definition.severity) } ?? definition.severity
                    if definition.restricted { restricted = true }
                }
            }
        }
        // The lexicons' cues and the flags only speak for the sectors the model does not know.
        for (s, known) in modelSectors.enumerated() { scratch.sectorHit[sectorFirstIndex[modelSectorIndex[s]]] = known }
        var sectors: [String] = []
        for (i, sector) in taxonomy.sectors.enumerated() where sectorFirstIndex[i] == i && scratch.sectorHit[i] {
            sectors.append(sector)
        }
        for i in scratch.sectorHit.indices { scratch.sectorHit[i] = false }
        return Classification(
            flags: flags, evidence: flagged, type: type,
            sectors: sectors,
            language: language, languages: languages, script: script,
            places: placeIndexes.map { places[$0] },
            severity: severity, restricted: restricted,
            classifierVersion: version)
    }

    /// The symbols and first step of every token, then every pattern occurrence, into the
    /// scratch. Also counts the votes of function words in `languageScores`, while each
    /// word's record is at hand.
    private func findMatches(_ scratch: inout Scratch) {
        let text = scratch.buffer.text
        let tokens = scratch.buffer.tokens
        scratch.steps.removeAll(keepingCapacity: true)
        scratch.items.removeAll(keepingCapacity: true)
        let languageCount = languageNames.count
        if scratch.languageScores.count != languageCount { scratch.languageScores = Array(repeating: 0, count: languageCount) }
        var scores = scratch.languageScores
        scratch.languageScores = []
        var wordVotes = false
        scores.withUnsafeMutableBufferPointer { scores in
            for i in 0..<languageCount { scores[i] = 0 }
            text.withUnsafeBufferPointer { text in
                wordFacts.withUnsafeBufferPointer { wordFacts in
                    wordItems.withUnsafeBufferPointer { wordItems in
                        for token in tokens {
                            let start = scratch.items.count
                            if token.word >= 0 {
                                let facts = wordFacts[Int(token.word)]
                                let to = Int(facts.start) + Int(facts.symbols) + Int(facts.active) + Int(facts.patterns)
                                scratch.steps.append(.init(
                                    start: facts.start, symbols: Int32(facts.symbols), active: Int32(facts.active), patterns: Int32(facts.patterns), inWordItems: true,
                                    continues: facts.continues))
                                if facts.languages > 0 {
                                    // 1 / the number of languages: the share of the word's vote each gets.
                                    let share = 1.0 / Double(facts.languages)
                                    for k in to..<to + Int(facts.languages) { scores[Int(wordItems[k])] += share }
                                    wordVotes = true
                                }
                            } else {
                                // Unknown words have no exact symbol, only perhaps prefix ones.
                                automaton.prefixSymbols(of: UnsafeBufferPointer(rebasing: text[Int(token.textStart)..<Int(token.textEnd)]), into: &scratch.items)
                                let symbols = scratch.items.count - start
                                let (active, patterns) = symbols == 0 ? (0, 0) : automaton.appendRootStep(to: &scratch.items, symbolsFrom: start)
                                scratch.steps.append(.init(
                                    start: Int32(start), symbols: Int32(symbols), active: Int32(active), patterns: Int32(patterns),
                                    continues: symbols > 0 && automaton.continuesPhrase(scratch.items[start..<start + symbols])))
                            }
                        }
                    }
                }
            }
        }
        scratch.languageScores = scores
        scratch.wordVotes = wordVotes
        automaton.matches(steps: scratch.steps, items: scratch.items, wordItems: wordItems, frontier: &scratch.frontier, into: &scratch.matches)
    }

    // MARK: - Flags

    private func findFlags(_ scratch: inout Scratch, presentAll: Bool) -> [Evidence] {
        let tokens = scratch.buffer.tokens
        // Negation cues and exclusions first.
        scratch.negations.removeAll(keepingCapacity: true)
        scratch.notNegating.removeAll(keepingCapacity: true)
        scratch.excluded.removeAll(keepingCapacity: true)
        scratch.hits.removeAll(keepingCapacity: true)
        scratch.negatedFlags.removeAll(keepingCapacity: true)
        // Held locally: read through `self` in the loop, each list costs a retain and a
        // release per match.
        let (patternUses, negationByPattern, exclusionsByPattern, entrySlots) = (self.patternUses, self.negationByPattern, self.exclusionsByPattern, self.entrySlots)
        let (entryLanguage, wordIsConditional) = (self.entryLanguage, self.wordIsConditional)
        for match in scratch.matches {
            let p = Int(match.pattern)
            let start = Int(match.start)
            // Negation cues count only in a language the message is written in (Spanish "no"
            // is Portuguese "in the"); a cue right after "si"/"if" opens a condition
            // ("si no pagas te matan"), not a negation.
            let uses = patternUses[p]
            if uses & PatternUse.negation != 0 { negationByPattern.forEach(p) { cue in
                guard scratch.inLanguages[Int(cue.language)] else { return }
                for t in max(0, start - 2)..<start {
                    let word = tokens[t].word
                    if word >= 0 && wordIsConditional[Int(word)] { return }
                }
                scratch.negations.append((Int(match.end), Int(cue.scope)))
            } }
            if uses & PatternUse.notNegating != 0 { notNegatingByPattern.forEach(p) { language in
                if scratch.inLanguages[Int(language)] { scratch.notNegating.append((start, Int(match.end))) }
            } }
            if uses & PatternUse.exclusion != 0 { exclusionsByPattern.forEach(p) { scratch.excluded.append((start, Int(match.end), Int($0))) } }
            if uses & PatternUse.entrySlot != 0 { entrySlots.forEach(p) { use in
                guard presentAll || scratch.present[Int(entryLanguage[Int(use.entry)])] else { return }
                scratch.hits.append((use.entry, use.slot, match.start, match.end, Int32(scratch.hits.count)))
            } }
        }
        if !scratch.notNegating.isEmpty {
            let phrases = scratch.notNegating
            scratch.negations.removeAll { cue in phrases.contains { cue.end >= $0.start && cue.end <= $0.end } }
        }
        if scratch.hits.isEmpty { return [] }
        dropIncompleteProximityHits(&scratch)
        if scratch.hits.isEmpty { return [] }
        // By entry, each entry's hits in match order (they come in match order, often
        // already by entry).
        var byEntry = true
        for k in scratch.hits.indices.dropFirst() where scratch.hits[k].entry < scratch.hits[k - 1].entry {
            byEntry = false
            break
        }
        if !byEntry {
            // Sorting plain integer keys (entry, then order = index) costs less than
            // comparing tuples.
            scratch.hitKeys.removeAll(keepingCapacity: true)
            for hit in scratch.hits { scratch.hitKeys.append(UInt64(UInt32(hit.entry)) << 32 | UInt64(UInt32(hit.order))) }
            scratch.hitKeys.sort()
            let unsorted = scratch.hits
            for (k, key) in scratch.hitKeys.enumerated() { scratch.hits[k] = unsorted[Int(key & 0xFFFF_FFFF)] }
        }
        let negations = scratch.negations
        let excluded = scratch.excluded
        let hits = scratch.hits
        var evidence: [Evidence] = []
        scratch.seen.removeAll(keepingCapacity: true)
        var groupStart = 0
        while groupStart < hits.count {
            let entryIndex = Int(hits[groupStart].entry)
            var groupEnd = groupStart
            while groupEnd < hits.count, hits[groupEnd].entry == hits[groupStart].entry { groupEnd += 1 }
            let group = hits[groupStart..<groupEnd]
            groupStart = groupEnd
            let flag = entryFlag[entryIndex]
            let within = entryWithin[entryIndex]
            // Each span with the start of its later part, where a negation between the two
            // parts also counts ("the volunteer never asked me for sex").
            scratch.spans.removeAll(keepingCapacity: true)
            if entrySlotCount[entryIndex] == 1 {
                for hit in group { scratch.spans.append((Int(hit.start), Int(hit.end), Int(hit.start), Int(hit.end))) }
            } else {
                for a in group where a.slot == 0 {
                    for b in group where b.slot == 1 {
                        let (aStart, aEnd, bStart, bEnd) = (Int(a.start), Int(a.end), Int(b.start), Int(b.end))
                        let gap = aEnd < bStart ? bStart - aEnd - 1 : (bEnd < aStart ? aStart - bEnd - 1 : -1)
                        guard gap >= 0, gap <= within else { continue }
                        guard tokens[aStart].sentence == tokens[bStart].sentence else { continue }
                        let (earlier, later) = aStart <= bStart ? ((aStart, aEnd), (bStart, bEnd)) : ((bStart, bEnd), (aStart, aEnd))
                        scratch.spans.append((earlier.0, max(aEnd, bEnd), later.0, earlier.1))
                    }
                }
            }
            let flagNumber = entryFlagNumber[entryIndex]
            for span in scratch.spans {
                if entryNegatable[entryIndex] {
                    if isNegated((span.start, span.end), tokens: tokens, negations: negations, endingAfter: -1)
                        || (span.laterStart != span.start
                            && isNegated((span.laterStart, span.end), tokens: tokens, negations: negations, endingAfter: span.earlierEnd))
                    {
                        if common.negationBindsModel.contains(flag), !scratch.spokenByAgent(tokens[span.start].start), !scratch.negatedFlags.contains(flag) {
                            scratch.negatedFlags.append(flag)
                        }
                        continue
                    }
                }
                if !excluded.isEmpty,
                    isExcluded((span.start, span.end), flagNumber: Int(flagNumber), tokens: tokens, excluded: excluded)
                {
                    continue
                }
                if scratch.spokenByAgent(tokens[span.start].start) { continue }
                if scratch.seen.contains(where: { $0.flag == flagNumber && $0.start == span.start && $0.end == span.end }) { continue }
                scratch.seen.append((flagNumber, span.start, span.end))
                let start = Int(tokens[span.start].start)
                let end = Int(tokens[span.end].end)
                evidence.append(Evidence(
                    flag: flag, start: start, end: end,
                    text: Self.text(of: scratch.buffer.units, start, end),
                    entry: entryID[entryIndex], language: entryLanguageName[entryIndex]))
            }
        }
        // One piece of evidence cannot lose to itself.
        if evidence.count > 1, !common.precedence.isEmpty {
            evidence = evidence.filter { loser in
                !evidence.contains { winner in
                    winner.flag != loser.flag && (common.precedence[winner.flag]?.contains(loser.flag) ?? false)
                        && winner.start <= loser.start && loser.end <= winner.end
                }
            }
        }
        return evidence.sorted { ($0.start, $0.flag) < ($1.start, $1.flag) }
    }

    /// Drops the hits of proximity entries that lack one of their two parts (they make no
    /// span), so common words used by many such entries cost no sorting and grouping.
    /// Keeps the others in order and renumbers their `order`.
    private func dropIncompleteProximityHits(_ scratch: inout Scratch) {
        if scratch.entryStamp.count != entries.count {
            scratch.entryStamp = Array(repeating: 0, count: entries.count)
            scratch.entrySlotsHit = Array(repeating: 0, count: entries.count)
        }
        // A stamp per message instead of clearing the per-entry marks.
        scratch.stamp &+= 1
        if scratch.stamp == 0 {
            for i in scratch.entryStamp.indices { scratch.entryStamp[i] = 0 }
            scratch.stamp = 1
        }
        let stamp = scratch.stamp
        for hit in scratch.hits {
            let entry = Int(hit.entry)
            if scratch.entryStamp[entry] != stamp {
                scratch.entryStamp[entry] = stamp
                scratch.entrySlotsHit[entry] = 0
            }
            scratch.entrySlotsHit[entry] |= 1 << UInt8(truncatingIfNeeded: hit.slot)
        }
        var kept = 0
        for k in scratch.hits.indices {
            var hit = scratch.hits[k]
            let entry = Int(hit.entry)
            guard entrySlotCount[entry] == 1 || scratch.entrySlotsHit[entry] & 3 == 3 else { continue }
            hit.order = Int32(kept)
            scratch.hits[kept] = hit
            kept += 1
        }
        scratch.hits.removeLast(scratch.hits.count - kept)
    }

    /// `units[start..<end]` as a String, transcoded here: the generic UTF-16 decoder costs
    /// more than the rest of reporting evidence. Lone surrogates become U+FFFD, as there.
    static func text(of units: [UInt16], _ start: Int, _ end: Int) -> String {
        units.withUnsafeBufferPointer { units in
            String(unsafeUninitializedCapacity: (end - start) * 3) { out in
                var o = 0
                var i = start
                while i < end {
                    var u = UInt32(units[i])
                    i += 1
                    if u < 0x80 {
                        out[o] = UInt8(u)
                        o += 1
                        continue
                    }
                    if u < 0x800 {
                        out[o] = UInt8(0xC0 | u >> 6)
                        out[o + 1] = UInt8(0x80 | u & 0x3F)
                        o += 2
                        continue
                    }
                    if u & 0xFC00 == 0xD800, i < end, units[i] & 0xFC00 == 0xDC00 {
                        let scalar = 0x10000 + ((u - 0xD800) << 10) + (UInt32(units[i]) - 0xDC00)
                        i += 1
                        out[o] = UInt8(0xF0 | scalar >> 18)
                        out[o + 1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
                        out[o + 2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
                        out[o + 3] = UInt8(0x80 | scalar & 0x3F)
                        o += 4
                        continue
                    }
                    if u & 0xF800 == 0xD800 { u = 0xFFFD }
                    out[o] = UInt8(0xE0 | u >> 12)
                    out[o + 1] = UInt8(0x80 | (u >> 6) & 0x3F)
                    out[o + 2] = UInt8(0x80 | u & 0x3F)
                    o += 3
                }
                return o
            }
        }
    }

    /// Whether a negation cue ending after token `endingAfter` negates the span.
    private func isNegated(_ span: (start: Int, end: Int), tokens: [Token], negations: [(end: Int, scope: Int)], endingAfter: Int) -> Bool {
        for negation in negations where negation.end > endingAfter && negation.end < span.start && span.start - negation.end <= negation.scope {
            if tokens[negation.end].clause == tokens[span.start].clause { return true }
        }
        return false
    }

    private func isExcluded(
        _ span: (start: Int, end: Int), flagNumber: Int, tokens: [Token], excluded: [(start: Int, end: Int, exclusion: Int)]
    ) -> Bool {
        for hit in excluded where exclusionCancels[hit.exclusion * flagNumberCount + flagNumber] {
            let reach = exclusionSentenceReach[hit.exclusion]
            if reach > 0 {
                let after = tokens[span.start].sentence - tokens[hit.start].sentence
                if after >= 0 && after < reach { return true }
            } else {
                if hit.start <= span.end && span.start <= hit.end { return true }
            }
        }
        return false
    }

    // MARK: - Type

    /// The feedback type from the type cues' scores (summed by `classify`), which it resets.
    private func decideType(_ scratch: inout Scratch, flags: [FlagCode]) -> String {
        defer { for i in scratch.typeScores.indices { scratch.typeScores[i] = 0 } }
        if scratch.buffer.facts.hasQuestionMark {
            for (type, weight) in typeQuestionMarkWeight.enumerated() {
                if let weight { scratch.typeScores[type] += weight }
            }
        }
        // Types no cue scored count as 0, which changes nothing: only a best above 0 is used.
        let best = scratch.typeScores.max() ?? 0
        if best <= 0 {
            return flags.isEmpty ? taxonomy.fallbackType : (taxonomy.types.contains("complaint") ? "complaint" : taxonomy.fallbackType)
        }
        let winner = typeOrder.first { scratch.typeScores[$0] == best } ?? scratch.typeScores.firstIndex(of: best)!
        return taxonomy.types[winner]
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

    /// The main language, the clearly present ones and the script; fills the scratch's
    /// `inLanguages` and `present` (every language with at least one of its function words,
    /// whose lexicons may fire; `presentAll` when unknown: all may).
    private func detectLanguage(_ scratch: inout Scratch, hint: String?) -> (String, [String], String, presentAll: Bool) {
        let count = languageNames.count
        // `findMatches` sized and filled `languageScores` with the words' votes.
        if scratch.inLanguages.count != count {
            scratch.inLanguages = Array(repeating: false, count: count)
            scratch.present = Array(repeating: false, count: count)
        }
        for i in 0..<count {
            scratch.inLanguages[i] = false
            scratch.present[i] = false
        }
        func finish(_ language: String, _ languages: [String], _ script: String, presentAll: Bool) -> (String, [String], String, presentAll: Bool) {
            for name in languages {
                if let i = languageNames.firstIndex(of: name) { scratch.inLanguages[i] = true }
            }
            return (language, languages, script, presentAll)
        }
        if !scratch.buffer.facts.scripts.isEmpty {
            let letters = scratch.buffer.facts.scripts.filter { $0.key != "Zyyy" && $0.key != "Zinh" && $0.key != "Latn" }
            // Ties between scripts go to the first by name: dictionary order changes per process,
            // and the output must not.
            if let (script, letterCount) = letters.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }), letterCount * 2 >= scratch.buffer.tokens.count {
                let language = Self.scriptLanguages[script] ?? "und"
                return finish(language, [language], script, presentAll: true)
            }
        }
        var anyScore = scratch.wordVotes
        for (hint, letterCount) in scratch.buffer.facts.letterHints.enumerated() where letterCount > 0 {
            for (language, weight) in hintWeightsByIndex[hint] {
                scratch.languageScores[language] += weight * Double(min(letterCount, 3))
                anyScore = true
            }
        }
        guard anyScore else {
            let language = hint ?? "und"
            return finish(language, hint.map { [$0] } ?? [], "Latn", presentAll: true)
        }
        // Languages with a score, best first, ties by name.
        // (Names are unique, so the order is total and any sort gives it.)
        scratch.ranked.removeAll(keepingCapacity: true)
        for i in 0..<count where scratch.languageScores[i] > 0 { scratch.ranked.append(i) }
        let scores = scratch.languageScores
        scratch.ranked.sort { a, b in
            let (x, y) = (scores[a], scores[b])
            return x != y ? x > y : languageNames[a] < languageNames[b]
        }
        let top = scratch.ranked[0]
        let topScore = scores[top]
        var languages = [languageNames[top]]
        scratch.inLanguages[top] = true
        for other in scratch.ranked.dropFirst() where scores[other] >= 2 && scores[other] >= topScore * 0.5 {
            languages.append(languageNames[other])
            scratch.inLanguages[other] = true
        }
        // With weak evidence (a few words) every lexicon may fire: better a false alarm than
        // a missed person at risk.
        if topScore >= 2 {
            for i in scratch.ranked { scratch.present[i] = true }
        }
        return (languageNames[top], languages, "Latn", topScore < 2)
    }
}
