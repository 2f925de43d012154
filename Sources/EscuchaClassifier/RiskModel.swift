import EscuchaCore
import Foundation

/// A logistic regression per flag, per feedback type and per sector over the words of a
/// message, their pairs and their first five letters: a net under the lexicons for the
/// critical flags, a second opinion on the others, and the judge of the type and the
/// sectors (``likeliestType(_:)``, ``hasSector(_:_:)``).
///
/// Lexicon patterns find what they were written for and little else: on labelled sets
/// written apart from the lexicons they found 54–71 % of the critical cases (docs/lexicon.md).
/// People write about rape, exploitation and suicide in euphemisms no pattern list foresees;
/// a model trained on labelled messages weighs many weak words together instead. It adds
/// flags the lexicons missed; and where a lexicon raised a flag of ``vetoFlags`` (the flags
/// below critical severity) that the model finds very unlikely (under ``vetoBelow``), the
/// flag is dropped: a pattern firing in a sense its writer did not foresee. A critical flag
/// the lexicons found is never dropped. Its weights are data (`Config/model/risk.json`,
/// written by `escucha model train`).
public struct RiskModel: Sendable {
    /// The flags the model may raise, in the order of each feature's weights.
    public let flags: [FlagCode]
    public let bias: [Double]
    /// A flag is raised when its probability exceeds this, unless `flagThresholds` names it
    /// (and, in a short message, `shortMessageThreshold` if that is higher).
    public let threshold: Double
    /// Thresholds of their own for some flags.
    public let flagThresholds: [FlagCode: Double]
    /// The threshold of each of ``flags``, in order.
    let thresholds: [Double]
    /// A message of fewer words than this is thin evidence: a flag needs at least
    /// `shortMessageThreshold` there. 0: no such rule. The words are those the model reads:
    /// the tokenizer's words outside an agent's turns, an SMS abbreviation counted as the
    /// words of its expansion, emoji and punctuation not counted.
    public let shortMessageWords: Int
    public let shortMessageThreshold: Double
    /// A lexicon's flag among ``vetoFlags`` is dropped when the model's probability for it is
    /// below this, in a message of at least ``vetoMinimumWords`` words; 0: never.
    public let vetoBelow: Double
    /// In a shorter message the model knows too few words to contradict the lexicons: a lone
    /// "desaparecido" or "extorsión" scores the flag's base rate (about 0.01), and the veto
    /// would drop a plain report. Counted like ``shortMessageWords``.
    public let vetoMinimumWords: Int
    /// The flags the model may veto.
    public let vetoFlags: Set<FlagCode>
    /// Whether each of ``flags``, in order, is in ``vetoFlags``.
    private let vetoable: [Bool]

    /// Whether the model drops flag `k` (of ``flags``) when a lexicon raised it, the model's
    /// probability for it is `probability`, and it read `words` words of the message.
    func vetoes(_ k: Int, probability: Double, words: Int) -> Bool {
        vetoable[k] && probability < vetoBelow && words >= vetoMinimumWords
    }

    /// A flag the model may veto but would raise again, its own threshold being under the
    /// veto; `nil` when there is none. Training options and model files with one are refused.
    public var flagRaisedUnderItsVeto: (flag: FlagCode, threshold: Double)? {
        guard vetoBelow > 0 else { return nil }
        for (k, flag) in flags.enumerated() where vetoable[k] && thresholds[k] < vetoBelow { return (flag, thresholds[k]) }
        return nil
    }

    /// The feedback types the model also learns, one column each after the flags' in every
    /// row; empty for a model of flags only. ``likeliestType(_:)`` picks one.
    public let types: [String]
    /// The sectors the model also learns, after the types; a sector is the message's when
    /// its probability exceeds ``sectorThreshold``.
    public let sectors: [String]
    public let sectorThreshold: Double
    /// The type is the model's when its probability is at least this; else the lexicons'
    /// cues decide.
    public let typeConfidence: Double
    /// Columns per row: flags, then types, then sectors.
    let width: Int

    /// ``Classifier/modelWordsFingerprint`` of the classifier it was trained with.
    public let wordsFingerprint: String
    /// The model's features, sorted; feature `i`'s weights are row `i` of `flatWeights`.
    let features: [UInt64]
    /// One row of `width` weights per feature.
    let flatWeights: [Double]
    /// The same weights in single precision, which scoring reads: half the memory to walk.
    let scoringWeights: [Float]
    /// Feature hash → its row: one probe per feature when scoring.
    let rows: FeatureTable
    /// Feature `i` by name ("pego", "me pego", "golpe*"), for writing the model back.
    let names: [String]

    /// `weights` holds each feature's hash, name and row of `flags.count` weights.
    init(
        flags: [FlagCode], bias: [Double], threshold: Double, flagThresholds: [FlagCode: Double] = [:],
        shortMessage: (words: Int, threshold: Double) = (0, 0), veto: (below: Double, minimumWords: Int, flags: Set<FlagCode>) = (0, 0, []),
        types: [String] = [], sectors: [String] = [], sectorThreshold: Double = 0.25, typeConfidence: Double = 0.3,
        wordsFingerprint: String, weights: [(feature: UInt64, name: String, row: [Double])]
    ) {
        self.types = types
        self.sectors = sectors
        self.sectorThreshold = sectorThreshold
        self.typeConfidence = typeConfidence
        width = flags.count + types.count + sectors.count
        vetoBelow = veto.below
        vetoMinimumWords = veto.minimumWords
        vetoFlags = veto.flags
        vetoable = flags.map { veto.flags.contains($0) }
        shortMessageWords = shortMessage.words
        shortMessageThreshold = shortMessage.threshold
        self.wordsFingerprint = wordsFingerprint
        self.flags = flags
        self.bias = bias
        self.threshold = threshold
        self.flagThresholds = flagThresholds
        thresholds = flags.map { flagThresholds[$0] ?? threshold }
        let sorted = weights.sorted { $0.feature < $1.feature }
        features = sorted.map(\.feature)
        names = sorted.map(\.name)
        flatWeights = sorted.flatMap(\.row)
        scoringWeights = flatWeights.map { Float($0) }
        rows = FeatureTable(features)
    }

    /// How training runs. The threshold was chosen on probe sets the model and the lexicons
    /// had not seen (M and N in stop 13, docs/lexicon.md): 0.12 found as many critical cases
    /// as 0.1 with fewer false alarms. In stop 15, with 9,460 labelled messages, 0.15 found
    /// as many critical cases as 0.12 on AG, AH, AN and AO (the model had not seen them) with
    /// F1 0.902 → 0.913; leaving each of the 42 sets out in turn, F1 0.943 → 0.951, critical
    /// recall 0.996 → 0.994, false alarms 88 → 72 of 3,542; 0.18 lost critical cases.
    public struct Settings: Sendable {
        public var epochs = 30
        /// The weights are the average of those at the end of each of the last this many
        /// passes (0: the last pass's). With a constant rate the last pass's weights wander
        /// with the order of the last messages seen; the average does not (stop 19).
        public var averageEpochs = 0
        public var rate = 0.2
        public var l2 = 0.001
        /// Features seen in fewer training messages are left out.
        public var minimumCount = 2
        public var seed: UInt64 = 20261130
        public var threshold = 0.15
        /// See ``RiskModel/shortMessageWords``. In the held-out sets M, N, O and P (stop 13),
        /// in messages of under 25 words the model raised 5 right flags at 0.18–0.96 and 17
        /// wrong ones at 0.12–0.30; 20 words and 0.25, checked on the unseen Q and R, cut
        /// false alarms on flag-free messages from 6.0 to 1.2 % and 10.7 to 7.1 % and lost no
        /// critical case; on M–P it would have lost one of the five right flags, at 0.18
        /// (docs/lexicon.md). The 25-word count was of spaces; the 20 words of the rule are
        /// the model's, and were chosen by evaluating the rule itself.
        public var shortMessageWords = 20
        public var shortMessageThreshold = 0.25
        /// Thresholds of their own for some flags.
        public var flagThresholds: [FlagCode: Double] = [:]
        /// The threshold of the flags below critical severity the model learns, unless
        /// `flagThresholds` names them. The lexicons find most of these; the model adds the
        /// ones it is sure of. On the held-out AC and AD (stop 14, docs/lexicon.md) F1 rose
        /// by 0.015–0.02 with any value from 0.2 to 0.6, false alarms unchanged. 0.4 until stop
        /// 18; then on sets by new writers 0.3 found more: BL–BO and BP–BS, cold, F1 +0.006
        /// each with 2 and 0 more false alarms; AZ–BO each left out, +0.006 with 4 more of 1,345.
        public var otherThreshold = 0.3
        /// See ``RiskModel/vetoBelow``; for the flags below critical severity. On the held-out
        /// AC and AD (stop 14) 0.1 took out 22 of the lexicons' 37 wrong flags and 4 of their
        /// 323 right ones: F1 0.904 → 0.927 and 0.926 → 0.945, false alarms 3 → 2 of 160.
        /// Values from 0.03 to 0.2 did about as well.
        public var vetoBelow = 0.1
        /// See ``RiskModel/vetoMinimumWords``. On AE, AF, AI and AJ, cold, no veto in a message
        /// under 10 words was needed (F1 and false alarms the same with or without them); under
        /// 20 it would have cost 4 more false alarms.
        public var vetoMinimumWords = 10
        /// Whether the model also learns the feedback type and the sectors, from the
        /// labelled messages that give them.
        public var typesAndSectors = true
        /// See ``RiskModel/sectorThreshold``. In leave-one-set-out runs over the 40 labelled
        /// sets, 0.25 and 0.3 gave sector F1 0.794 and 0.793 (precision 0.79 and 0.82), 0.4
        /// gave 0.776; the lexicons' cues with the flags' sectors 0.663. 0.3 was shipped in
        /// stop 15 for precision; on the seven sets written since (AN to AT, each measured
        /// before the model had seen it) 0.25 was the better every time, by 0.002 to 0.018
        /// (docs/lexicon.md, "Stop 16"): recall, not precision, was what the sectors lacked.
        public var sectorThreshold = 0.25
        /// A type or sector is learnt when at least this many labelled messages have it;
        /// the lexicons' cues decide the others.
        public var minimumLabelledExamples = 5
        /// See ``RiskModel/typeConfidence``. In the same runs 0.3 typed 87.3 % of messages
        /// right, 0 (always the model) 86.8 %, 0.5 86.9 %; the cues alone 74.0 %.
        public var typeConfidence = 0.3
        public init() {}
    }

    /// One word of a message as the classifier's tokenizer folded it (accents and case
    /// folded, repeated letters squashed, SMS abbreviations expanded), and where it stands
    /// (UTF-16 offsets of the original text).
    struct Word {
        /// `ByteStringTable.hash` of the folded bytes.
        var hash: UInt64
        /// The hash of the first five folded bytes when they are ASCII letters or digits,
        /// else 0 (no beginning feature).
        var prefixHash: UInt64
        var start: Int
        var end: Int

        init(folded bytes: UnsafeBufferPointer<UInt8>, hash: UInt64, start: Int, end: Int) {
            self.hash = hash
            var prefix: UInt64 = 0
            if bytes.count > RiskModel.beginningLength {
                let head = UnsafeBufferPointer(rebasing: bytes[..<RiskModel.beginningLength])
                if head.allSatisfy({ $0 < 0x80 }) { prefix = ByteStringTable.hash(head) }
            }
            prefixHash = prefix
            self.start = start
            self.end = end
        }
    }

    /// What a training message is labelled with. `type` and `sectors` are nil when unknown
    /// (a lexicon example): such a message trains the flags' columns only.
    public struct ModelLabels: Sendable {
        public var flags: Set<FlagCode>
        public var type: String?
        public var sectors: [String]?
        public init(flags: Set<FlagCode>, type: String? = nil, sectors: [String]? = nil) {
            self.flags = flags
            self.type = type
            self.sectors = sectors
        }
    }

    /// A beginning feature is this many bytes of a longer word.
    static let beginningLength = 5

    /// The kinds of feature a word adds.
    enum FeatureKind { case word, pair, beginning }

    // MARK: - Features

    /// Calls `body` with each feature word `index` adds: the word, its pair with the word
    /// before, and its first five letters when it is longer.
    @inline(__always)
    static func forEachFeature(ofWordAt index: Int, in words: [Word], _ body: (UInt64, FeatureKind) -> Void) {
        let word = words[index]
        body(word.hash, .word)
        if index > 0 { body(pairHash(words[index - 1], word), .pair) }
        if word.prefixHash != 0 { body(beginningHash(word), .beginning) }
    }

    private static func pairHash(_ first: Word, _ second: Word) -> UInt64 {
        (first.hash &* 0x0000_0100_0000_01B3) ^ (second.hash &+ 0x2545_F491_4F6C_DD1D) ^ 0x5851_F42D_4C95_7F2D
    }

    private static let beginningSalt: UInt64 = 0x9E37_79B9_7F4A_7C15
    private static func beginningHash(_ word: Word) -> UInt64 { word.prefixHash ^ beginningSalt }

    /// The features of a message's words by name: `pego`, `me pego` (a pair), `golpe*` (a
    /// beginning).
    static func featureNames(of spelled: [(word: Word, spelling: String)]) -> [UInt64: String] {
        let words = spelled.map(\.word)
        var names: [UInt64: String] = [:]
        for index in words.indices {
            forEachFeature(ofWordAt: index, in: words) { hash, kind in
                let spelling = spelled[index].spelling
                switch kind {
                case .word: names[hash] = spelling
                case .pair: names[hash] = spelled[index - 1].spelling + " " + spelling
                case .beginning: names[hash] = String(decoding: spelling.utf8.prefix(beginningLength), as: UTF8.self) + "*"
                }
            }
        }
        return names
    }

    /// The hash of a name ``featureNames(of:)`` gave; `nil` when it is not one.
    static func hash(ofName name: String) -> UInt64? {
        func word(_ spelling: Substring) -> Word? {
            guard !spelling.isEmpty, !spelling.contains(" ") else { return nil }
            let bytes = Array(spelling.utf8)
            return bytes.withUnsafeBufferPointer { Word(folded: $0, hash: ByteStringTable.hash($0), start: 0, end: 0) }
        }
        if name.hasSuffix("*") {
            let head = Array(name.dropLast().utf8)
            guard head.count == beginningLength, head.allSatisfy({ $0 < 0x80 && $0 != 0x20 }) else { return nil }
            return head.withUnsafeBufferPointer { ByteStringTable.hash($0) } ^ beginningSalt
        }
        let parts = name.split(separator: " ", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return word(parts[0])?.hash
        case 2: return word(parts[0]).flatMap { first in word(parts[1]).map { pairHash(first, $0) } }
        default: return nil
        }
    }

    // MARK: - Scoring

    /// Buffers for scoring, reused from message to message.
    struct Scratch: Sendable {
        /// The message's words, filled by the caller.
        var words: [Word] = []
        /// Per word: its own row, or -1.
        var wordRows: [Int32] = []
        /// The rows of the message's known features, in the order they are counted.
        var featureRows: [Int32] = []
        /// Per row: the message that last counted it, so a feature counts once a message.
        var rowStamp: [UInt32] = []
        var stamp: UInt32 = 0
        var sums: [Double] = []
        /// What the sums are multiplied by (1 / √ features counted).
        var scale = 0.0
    }

    /// The column of type `t` (an index in ``types``) and of sector `s` (in ``sectors``).
    func typeColumn(_ t: Int) -> Int { flags.count + t }
    func sectorColumn(_ s: Int) -> Int { flags.count + types.count + s }

    /// The probability of column `column` (of all ``width``) after ``score(_:)``.
    func probability(column: Int, _ scratch: Scratch) -> Double {
        let z = bias[column] + scratch.sums[column] * scratch.scale
        return 1 / (1 + exp(-max(-30, min(30, z))))
    }

    /// After ``score(_:)``: the type whose column is likeliest (an index in ``types``) and
    /// its probability; `nil` for a model without types.
    func likeliestType(_ scratch: Scratch) -> (type: Int, probability: Double)? {
        guard !types.isEmpty else { return nil }
        var best = (type: 0, probability: -1.0)
        for t in types.indices {
            let p = probability(column: typeColumn(t), scratch)
            if p > best.probability { best = (t, p) }
        }
        return best
    }

    /// After ``score(_:)``: whether sector `s` (an index in ``sectors``) is the message's.
    func hasSector(_ s: Int, _ scratch: Scratch) -> Bool {
        probability(column: sectorColumn(s), scratch) > sectorThreshold
    }

    /// The probability of each of ``flags`` for the message whose words are in
    /// `scratch.words`, whether the flag is raised (above its threshold, or above
    /// `shortMessageThreshold` too in a short message), and for a raised flag the word that
    /// weighs most for it.
    func score(_ scratch: inout Scratch) -> [(probability: Double, raised: Bool, word: Word?)] {
        let count = flags.count
        let width = width
        if scratch.rowStamp.count != features.count { scratch.rowStamp = [UInt32](repeating: 0, count: features.count) }
        if scratch.sums.count != width { scratch.sums = [Double](repeating: 0, count: width) }
        for k in 0..<width { scratch.sums[k] = 0 }
        scratch.stamp &+= 1
        if scratch.stamp == 0 {
            for i in scratch.rowStamp.indices { scratch.rowStamp[i] = 0 }
            scratch.stamp = 1
        }
        scratch.wordRows.removeAll(keepingCapacity: true)
        scratch.featureRows.removeAll(keepingCapacity: true)
        // First the rows of the message's known features (words, pairs, beginnings), in a
        // loop of lookups alone: they do not depend on one another, so their cache misses
        // overlap instead of each waiting behind the previous feature's additions.
        let words = scratch.words
        for index in words.indices {
            var own: Int32 = -1
            Self.forEachFeature(ofWordAt: index, in: words) { hash, kind in
                guard let row = rows.row(of: hash) else { return }
                if kind == .word { own = row }
                scratch.featureRows.append(row)
            }
            scratch.wordRows.append(own)
        }
        // Then their weights, each row once, in the same order (the sums do not depend on
        // how the lookups were scheduled).
        var distinct = 0
        let stamp = scratch.stamp
        let featureRows = scratch.featureRows
        scoringWeights.withUnsafeBufferPointer { table in
            scratch.rowStamp.withUnsafeMutableBufferPointer { seen in
                scratch.sums.withUnsafeMutableBufferPointer { sums in
                    let into = sums.baseAddress!
                    for row in featureRows {
                        if seen[Int(row)] == stamp { continue }
                        seen[Int(row)] = stamp
                        distinct += 1
                        // Pointers, without overflow checks, so that the loop is vectorised.
                        let weights = table.baseAddress! + Int(row) &* width
                        for k in 0..<width { into[k] += Double(weights[k]) }
                    }
                }
            }
        }
        let scale = distinct > 0 ? 1 / Double(distinct).squareRoot() : 0
        scratch.scale = scale
        var results: [(probability: Double, raised: Bool, word: Word?)] = []
        results.reserveCapacity(count)
        let short = scratch.words.count < shortMessageWords
        for k in 0..<count {
            let z = bias[k] + scratch.sums[k] * scale
            let probability = 1 / (1 + exp(-max(-30, min(30, z))))
            let raised = probability > (short ? max(thresholds[k], shortMessageThreshold) : thresholds[k])
            var best: Word?
            if raised {
                var bestWeight = 0.0
                for (index, row) in scratch.wordRows.enumerated() where row >= 0 {
                    let weight = flatWeights[Int(row) * width + k]
                    if weight > bestWeight {
                        bestWeight = weight
                        best = scratch.words[index]
                    }
                }
            }
            results.append((probability, raised, best))
        }
        return results
    }

    // MARK: - Training

    /// Trains one logistic regression per flag on labelled messages, given as the words the
    /// classifier's tokenizer reads in them (stochastic gradient descent, a seeded shuffle:
    /// the same messages give the same model). ``Classifier/trainRiskModel(_:flags:settings:)``
    /// tokenizes the texts.
    static func train(
        _ examples: [(words: [(word: Word, spelling: String)], labels: ModelLabels)], flags: [FlagCode], settings: Settings = Settings(),
        types: [String] = [], sectors: [String] = [], wordsFingerprint: String, critical: Set<FlagCode>
    ) -> RiskModel {
        var names: [UInt64: String] = [:]
        let featureLists = examples.map { example -> [UInt64] in
            let named = featureNames(of: example.words)
            for (hash, name) in named where names[hash] == nil { names[hash] = name }
            return named.keys.sorted()
        }
        var counts: [UInt64: Int] = [:]
        for list in featureLists { for feature in list { counts[feature, default: 0] += 1 } }
        let vocabulary = counts.filter { $0.value >= settings.minimumCount }.keys.sorted()
        // Columns: flags, types, sectors. A message without a type (or sectors) trains no
        // type (or sector) column: a lexicon example says nothing about them.
        // Training runs before the model exists: the columns as ``typeColumn(_:)`` and
        // ``sectorColumn(_:)`` number them.
        let typeColumn = Dictionary(uniqueKeysWithValues: types.enumerated().map { ($1, flags.count + $0) })
        let sectorColumn = Dictionary(uniqueKeysWithValues: sectors.enumerated().map { ($1, flags.count + types.count + $0) })
        let labels = examples.map { example -> Set<Int> in
            var columns = Set(flags.indices.filter { example.labels.flags.contains(flags[$0]) })
            if let type = example.labels.type, let column = typeColumn[type] { columns.insert(column) }
            for sector in example.labels.sectors ?? [] { if let column = sectorColumn[sector] { columns.insert(column) } }
            return columns
        }
        let all = Array(examples.indices)
        let typed = examples.indices.filter { examples[$0].labels.type != nil }
        let sectored = examples.indices.filter { examples[$0].labels.sectors != nil }
        let trainedBy = flags.map { _ in all } + types.map { _ in typed } + sectors.map { _ in sectored }
        var (weights, bias) = fit(featureLists, labels: labels, trainedBy: trainedBy, vocabulary: vocabulary, settings: settings)
        // Features whose weights all stay near zero are left out of the file. Scoring divides
        // by the number of a message's features the file knows, so the weights are fitted
        // again on the kept features alone: scoring then sees what training saw.
        let kept = vocabulary.indices.filter { f in weights[f].contains { abs($0) >= 0.0005 } }.map { vocabulary[$0] }
        if kept.count < vocabulary.count {
            (weights, bias) = fit(featureLists, labels: labels, trainedBy: trainedBy, vocabulary: kept, settings: settings)
        }
        // Every feature was named when its message was read.
        let rows = kept.enumerated().map { f, feature in
            (feature: feature, name: names[feature]!, row: weights[f].map { ($0 * 10_000).rounded() / 10_000 })
        }
        let others = flags.filter { !critical.contains($0) }
        var thresholds = settings.flagThresholds
        for flag in others where thresholds[flag] == nil { thresholds[flag] = settings.otherThreshold }
        return RiskModel(
            flags: flags, bias: bias.map { ($0 * 10_000).rounded() / 10_000 }, threshold: settings.threshold,
            flagThresholds: thresholds, shortMessage: (settings.shortMessageWords, settings.shortMessageThreshold),
            veto: settings.vetoBelow > 0 && !others.isEmpty ? (settings.vetoBelow, settings.vetoMinimumWords, Set(others)) : (0, 0, []),
            types: types, sectors: sectors, sectorThreshold: settings.sectorThreshold, typeConfidence: settings.typeConfidence,
            wordsFingerprint: wordsFingerprint, weights: rows)
    }

    /// Stochastic gradient descent over the messages' features within `vocabulary`, one
    /// logistic regression per column, each on the messages `trainedBy` lists for it (`labels`:
    /// the columns a message is positive in); returns each feature's row of weights and the
    /// biases.
    private static func fit(
        _ featureLists: [[UInt64]], labels: [Set<Int>], trainedBy: [[Int]], vocabulary: [UInt64], settings: Settings
    ) -> (weights: [[Double]], bias: [Double]) {
        var index: [UInt64: Int] = [:]
        for (i, feature) in vocabulary.enumerated() { index[feature] = i }
        let rows = featureLists.map { list in list.compactMap { index[$0] } }
        let width = trainedBy.count
        var weights = [[Double]](repeating: [Double](repeating: 0, count: width), count: vocabulary.count)
        var bias = [Double](repeating: 0, count: width)
        for k in 0..<width {
            var w = [Double](repeating: 0, count: vocabulary.count)
            var b = 0.0
            var order = trainedBy[k]
            var random = SeededRandom(seed: settings.seed &+ UInt64(k))
            let averaged = min(max(settings.averageEpochs, 0), settings.epochs)
            var wSum = [Double](repeating: 0, count: averaged > 0 ? vocabulary.count : 0)
            var bSum = 0.0
            for epoch in 0..<settings.epochs {
                order.shuffle(using: &random)
                for i in order {
                    let row = rows[i]
                    let scale = row.isEmpty ? 0 : 1 / Double(row.count).squareRoot()
                    var z = b
                    for f in row { z += w[f] * scale }
                    let p = 1 / (1 + exp(-max(-30, min(30, z))))
                    let gradient = p - (labels[i].contains(k) ? 1 : 0)
                    for f in row { w[f] -= settings.rate * (gradient * scale + settings.l2 * w[f]) }
                    b -= settings.rate * gradient
                }
                if epoch >= settings.epochs - averaged {
                    for f in w.indices { wSum[f] += w[f] }
                    bSum += b
                }
            }
            if averaged > 0 {
                for f in w.indices { w[f] = wSum[f] / Double(averaged) }
                b = bSum / Double(averaged)
            }
            for f in vocabulary.indices { weights[f][k] = w[f] }
            bias[k] = b
        }
        return (weights, bias)
    }

    // MARK: - Storage

    /// What the features are made of: 2, the tokenizer's words (1 was a scan of its own).
    static let featureVersion = 2

    fileprivate struct ShortMessage: Codable {
        var words: Int
        var threshold: Double
    }

    fileprivate struct Veto: Codable {
        var below: Double
        var minimumWords: Int
        var flags: [String]
    }

    /// The file's members. Written with `JSONEncoder`; read through ``JSONValue`` (below),
    /// which is several times faster on tens of thousands of rows.
    fileprivate struct Stored: Encodable {
        var features: Int?
        var threshold: Double
        /// Absent when no flag has its own.
        var flagThresholds: [String: Double]?
        /// Absent when there is no short-message rule.
        var shortMessage: ShortMessage?
        /// Absent when the model vetoes nothing.
        var veto: Veto?
        var words: String?
        var flags: [String]
        /// Absent for a model of flags only.
        var types: [String]?
        var sectors: [String]?
        var sectorThreshold: Double?
        var typeConfidence: Double?
        var bias: [Double]
        var weights: [String: [Double]]
    }

    /// The model as JSON, keys sorted: the same model always writes the same bytes.
    public func json() throws -> String {
        var byName: [String: [Double]] = [:]
        for (row, name) in names.enumerated() { byName[name] = Array(flatWeights[(row * width)..<((row + 1) * width)]) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Stored(
            features: Self.featureVersion, threshold: threshold,
            flagThresholds: flagThresholds.isEmpty ? nil : Dictionary(uniqueKeysWithValues: flagThresholds.map { ($0.key.rawValue, $0.value) }),
            shortMessage: shortMessageWords > 0 ? ShortMessage(words: shortMessageWords, threshold: shortMessageThreshold) : nil,
            veto: vetoBelow > 0
                ? Veto(below: vetoBelow, minimumWords: vetoMinimumWords, flags: flags.filter { vetoFlags.contains($0) }.map(\.rawValue)) : nil,
            words: wordsFingerprint, flags: flags.map(\.rawValue), types: types.isEmpty ? nil : types,
            sectors: sectors.isEmpty ? nil : sectors, sectorThreshold: sectors.isEmpty ? nil : sectorThreshold,
            typeConfidence: types.isEmpty ? nil : typeConfidence, bias: bias, weights: byName))
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a model written by ``json()``.
    public static func parse(_ text: String, file: String, taxonomy: Taxonomy) throws(ConfigError) -> RiskModel {
        // JSONDecoder took 1.5 s over the 47,000 rows of weights of a model of flags only.
        guard let json = JSONValue.parse(text), let stored = Stored(json) else {
            throw ConfigError(file: file, line: nil, message: "not a model written by `escucha model train`; train it again")
        }
        guard stored.features == featureVersion else {
            throw ConfigError(file: file, line: nil, message: "the model was trained on features of another version; train it again")
        }
        for flag in stored.flags where taxonomy.flag(FlagCode(flag)) == nil {
            throw ConfigError(file: file, line: nil, message: "the model knows flag '\(flag)', which taxonomy.yaml does not; train it again")
        }
        guard Set(stored.flags).count == stored.flags.count else {
            throw ConfigError(file: file, line: nil, message: "the model lists a flag twice; train it again")
        }
        if let short = stored.shortMessage, short.words < 0 || !(0...1).contains(short.threshold) {
            throw ConfigError(
                file: file, line: nil,
                message: "the short-message rule (\(short.words) words, \(short.threshold)) needs a word count of 0 or more and a probability; train it again")
        }
        if let veto = stored.veto {
            guard (0...1).contains(veto.below), veto.minimumWords >= 0, veto.flags.allSatisfy({ stored.flags.contains($0) }) else {
                throw ConfigError(
                    file: file, line: nil,
                    message: "the veto (below \(veto.below), from \(veto.minimumWords) words, flags \(veto.flags)) needs a probability, a word count and flags the model knows; train it again")
            }
            // A critical flag the lexicons found always stays, whatever the file says.
            if let critical = veto.flags.first(where: { taxonomy.flag(FlagCode($0))?.severity == .critical }) {
                throw ConfigError(file: file, line: nil, message: "the model vetoes '\(critical)', a critical flag, which is never vetoed; train it again")
            }
        }
        let types = stored.types ?? [], sectors = stored.sectors ?? []
        if let type = types.first(where: { !taxonomy.types.contains($0) }) {
            throw ConfigError(file: file, line: nil, message: "the model knows feedback type '\(type)', which taxonomy.yaml does not; train it again")
        }
        if let sector = sectors.first(where: { !taxonomy.sectors.contains($0) }) {
            throw ConfigError(file: file, line: nil, message: "the model knows sector '\(sector)', which taxonomy.yaml does not; train it again")
        }
        guard Set(types).count == types.count, Set(sectors).count == sectors.count else {
            throw ConfigError(file: file, line: nil, message: "the model lists a type or a sector twice; train it again")
        }
        let sectorThreshold = stored.sectorThreshold ?? Settings().sectorThreshold
        let typeConfidence = stored.typeConfidence ?? Settings().typeConfidence
        guard (0...1).contains(sectorThreshold), (0...1).contains(typeConfidence) else {
            throw ConfigError(
                file: file, line: nil,
                message: "the sector threshold (\(sectorThreshold)) and the type confidence (\(typeConfidence)) must be probabilities; train it again")
        }
        let width = stored.flags.count + types.count + sectors.count
        guard stored.bias.count == width, stored.weights.values.allSatisfy({ $0.count == width }) else {
            throw ConfigError(file: file, line: nil, message: "the model's weights do not match its flags, types and sectors; train it again")
        }
        var weights: [(feature: UInt64, name: String, row: [Double])] = []
        for (name, row) in stored.weights {
            guard let hash = hash(ofName: name) else {
                throw ConfigError(file: file, line: nil, message: "'\(name)' is not a feature the model makes; train it again")
            }
            weights.append((hash, name, row))
        }
        var flagThresholds: [FlagCode: Double] = [:]
        for (flag, value) in stored.flagThresholds ?? [:] {
            guard stored.flags.contains(flag) else {
                throw ConfigError(file: file, line: nil, message: "a threshold is given for '\(flag)', which the model does not raise; train it again")
            }
            guard (0...1).contains(value) else {
                throw ConfigError(file: file, line: nil, message: "the threshold of '\(flag)' is \(value), not a probability; train it again")
            }
            flagThresholds[FlagCode(flag)] = value
        }
        let model = RiskModel(
            flags: stored.flags.map { FlagCode($0) }, bias: stored.bias, threshold: stored.threshold, flagThresholds: flagThresholds,
            shortMessage: stored.shortMessage.map { ($0.words, $0.threshold) } ?? (0, 0),
            veto: stored.veto.map { ($0.below, $0.minimumWords, Set($0.flags.map { FlagCode($0) })) } ?? (0, 0, []),
            types: types, sectors: sectors, sectorThreshold: sectorThreshold, typeConfidence: typeConfidence,
            wordsFingerprint: stored.words ?? "", weights: weights)
        if let (flag, threshold) = model.flagRaisedUnderItsVeto {
            throw ConfigError(
                file: file, line: nil,
                message: "the threshold of '\(flag.rawValue)' (\(threshold)) is under the veto's \(model.vetoBelow), so the model would raise what it vetoes; train it again")
        }
        return model
    }
}

/// Feature hashes and their rows, in an open-addressing table: a probe is a multiply and a
/// few comparisons, where a Dictionary would hash each key again. A slot holds its key and
/// row side by side, so a probe reads one cache line.
struct FeatureTable: Sendable {
    private struct Slot: Sendable {
        var key: UInt64
        /// The row, or -1 for an empty slot.
        var row: Int32
    }

    private let slots: [Slot]
    private let shift: UInt64
    /// Two bits a feature, set for every known one: most of a message's pairs are not in
    /// the model, and this 64 KiB filter answers for them from the near cache where a probe
    /// of the slots (16 bytes each, two for every feature) would go to the far one.
    private let filter: [UInt64]
    private static let filterBits = 19

    /// Row `i` for `features[i]`.
    init(_ features: [UInt64]) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < features.count * 2 { capacity *= 2; bits += 1 }
        var slots = [Slot](repeating: Slot(key: 0, row: -1), count: capacity)
        var filter = [UInt64](repeating: 0, count: (1 << Self.filterBits) / 64)
        let shift = 64 - bits
        for (row, feature) in features.enumerated() {
            let mixed = feature &* 0x9E37_79B9_7F4A_7C15
            var slot = Int(mixed >> shift)
            while slots[slot].row >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Slot(key: feature, row: Int32(row))
            let (first, second) = Self.filterPositions(mixed)
            filter[first >> 6] |= 1 << UInt64(first & 63)
            filter[second >> 6] |= 1 << UInt64(second & 63)
        }
        self.slots = slots
        self.filter = filter
        self.shift = shift
    }

    /// Bits of the mixed hash that the slot number (its top bits) does not use.
    @inline(__always)
    private static func filterPositions(_ mixed: UInt64) -> (Int, Int) {
        let mask: UInt64 = (1 << UInt64(filterBits)) - 1
        return (Int(truncatingIfNeeded: (mixed >> 4) & mask), Int(truncatingIfNeeded: (mixed >> 23) & mask))
    }

    @inline(__always)
    func row(of feature: UInt64) -> Int32? {
        let mixed = feature &* 0x9E37_79B9_7F4A_7C15
        let (first, second) = Self.filterPositions(mixed)
        let known = filter.withUnsafeBufferPointer { filter in
            (filter[first &>> 6] &>> UInt64(first & 63)) & (filter[second &>> 6] &>> UInt64(second & 63)) & 1 != 0
        }
        guard known else { return nil }
        return slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var slot = Int(mixed >> shift)
            while true {
                let entry = slots[slot]
                if entry.row < 0 { return nil }
                if entry.key == feature { return entry.row }
                slot = (slot &+ 1) & mask
            }
        }
    }
}

// Outside the type, so that `Stored` keeps its memberwise initializer.
extension RiskModel.Stored {
    /// What `Codable` would read, from a parsed document; nil when a member is missing or
    /// of the wrong kind.
    init?(_ json: JSONValue) {
        guard case .object(let top) = json else { return nil }
        /// A finite number (`1e400` reads as infinity, which would raise every flag).
        func number(_ value: JSONValue?) -> Double? {
            if case .number(let text) = value, let x = Double(text), x.isFinite { return x }
            return nil
        }
        func numbers(_ value: JSONValue?) -> [Double]? {
            guard case .array(let items) = value else { return nil }
            var result: [Double] = []
            result.reserveCapacity(items.count)
            for item in items {
                guard let x = number(item) else { return nil }
                result.append(x)
            }
            return result
        }
        func strings(_ value: JSONValue?) -> [String]? {
            guard case .array(let items) = value else { return nil }
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else { return nil }
                result.append(text)
            }
            return result
        }
        func object(_ value: JSONValue?) -> [String: JSONValue]? {
            if case .object(let members) = value { return members }
            return nil
        }
        /// An optional member: absent or null is nil, present but unreadable fails.
        func optional<T>(_ key: String, _ read: (JSONValue?) -> T?) -> T?? {
            guard let value = top[key], value != .null else { return .some(nil) }
            return read(value).map { .some($0) }
        }
        guard let threshold = number(top["threshold"]), let flags = strings(top["flags"]), let bias = numbers(top["bias"]),
              let weightMembers = object(top["weights"])
        else { return nil }
        var weights: [String: [Double]] = [:]
        weights.reserveCapacity(weightMembers.count)
        // Scoring reads the weights in single precision: each must fit one.
        for (name, row) in weightMembers {
            guard let row = numbers(row), row.allSatisfy({ abs($0) <= Double(Float.greatestFiniteMagnitude) }) else { return nil }
            weights[name] = row
        }
        guard let features = optional("features", { number($0).flatMap { Int(exactly: $0) } }),
              let flagThresholds = optional("flagThresholds", { value -> [String: Double]? in
                  guard let members = object(value) else { return nil }
                  var result: [String: Double] = [:]
                  for (flag, x) in members {
                      guard let x = number(x) else { return nil }
                      result[flag] = x
                  }
                  return result
              }),
              let shortMessage = optional("shortMessage", { value -> RiskModel.ShortMessage? in
                  guard let members = object(value), let words = number(members["words"]).flatMap({ Int(exactly: $0) }),
                        let threshold = number(members["threshold"])
                  else { return nil }
                  return RiskModel.ShortMessage(words: words, threshold: threshold)
              }),
              let veto = optional("veto", { value -> RiskModel.Veto? in
                  guard let members = object(value), let below = number(members["below"]),
                        let minimumWords = number(members["minimumWords"]).flatMap({ Int(exactly: $0) }), let flags = strings(members["flags"])
                  else { return nil }
                  return RiskModel.Veto(below: below, minimumWords: minimumWords, flags: flags)
              }),
              let words = optional("words", { value -> String? in
                  if case .string(let text) = value { return text }
                  return nil
              }),
              let types = optional("types", strings), let sectors = optional("sectors", strings),
              let sectorThreshold = optional("sectorThreshold", number), let typeConfidence = optional("typeConfidence", number)
        else { return nil }
        self.init(
            features: features, threshold: threshold, flagThresholds: flagThresholds, shortMessage: shortMessage, veto: veto, words: words,
            flags: flags, types: types, sectors: sectors, sectorThreshold: sectorThreshold, typeConfidence: typeConfidence, bias: bias,
            weights: weights)
    }
}
