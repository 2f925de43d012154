import EscuchaCore
import Foundation

/// A logistic regression per flag over the words of a message, their pairs and their first
/// five letters: a net under the lexicons for the critical flags.
///
/// Lexicon patterns find what they were written for and little else: on labelled sets
/// written apart from the lexicons they found 54–71 % of the critical cases (docs/lexicon.md).
/// People write about rape, exploitation and suicide in euphemisms no pattern list foresees;
/// a model trained on labelled messages weighs many weak words together instead. It only
/// adds flags (the lexicons' evidence stays), and its weights are data
/// (`Config/model/critical.json`, written by `escucha model train`).
public struct RiskModel: Sendable {
    /// The flags the model may raise, in the order of each feature's weights.
    public let flags: [FlagCode]
    public let bias: [Double]
    /// A flag is raised when its probability exceeds this.
    public let threshold: Double
    /// The model's features, sorted; feature `i`'s weights are row `i` of `flatWeights`.
    let features: [UInt64]
    /// One row of `flags.count` weights per feature.
    let flatWeights: [Double]
    /// Feature hash → its row: one probe per feature when scoring.
    let rows: FeatureTable
    /// Feature `i` by name ("pego", "me pego", "golpe*"), for writing the model back.
    let names: [String]

    /// `weights` holds each feature's hash, name and row of `flags.count` weights.
    init(flags: [FlagCode], bias: [Double], threshold: Double, weights: [(feature: UInt64, name: String, row: [Double])]) {
        self.flags = flags
        self.bias = bias
        self.threshold = threshold
        let sorted = weights.sorted { $0.feature < $1.feature }
        features = sorted.map(\.feature)
        names = sorted.map(\.name)
        flatWeights = sorted.flatMap(\.row)
        rows = FeatureTable(features)
    }

    /// How training runs. The threshold was chosen by training on two probe sets and the
    /// development set and measuring on the third (docs/lexicon.md).
    public struct Settings: Sendable {
        public var epochs = 30
        public var rate = 0.2
        public var l2 = 0.001
        /// Features seen in fewer training messages are left out.
        public var minimumCount = 2
        public var seed: UInt64 = 20261130
        public var threshold = 0.1
        public init() {}
    }

    /// One word of a message: its folded form's hash and where it stands (UTF-16 offsets).
    struct Word {
        var hash: UInt64
        var length: Int
        var prefixHash: UInt64
        var start: Int
        var end: Int
    }

    /// The kinds of feature a word adds.
    enum FeatureKind { case word, pair, beginning }

    // MARK: - Features

    /// Accented Latin letters (U+00C0–U+024F) as their base ASCII letter, lower case; 0 when
    /// the scalar is not a letter.
    private static let latinFolding: [UInt8] = (0xC0...0x24F).map { value -> UInt8 in
        guard let scalar = Unicode.Scalar(value), scalar.properties.isAlphabetic else { return 0 }
        let base = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars.first!
        guard base.isASCII, let byte = String(base).lowercased().utf8.first, byte >= 0x61, byte <= 0x7A else { return 0 }
        return byte
    }

    /// ASCII letters lower-cased and digits kept; 0 for anything else.
    private static let asciiFolding: [UInt8] = (0..<128).map { b -> UInt8 in
        switch b {
        case 0x41...0x5A: return UInt8(b) | 0x20
        case 0x61...0x7A, 0x30...0x39: return UInt8(b)
        default: return 0
        }
    }

    private static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The words of `text`: letters folded to ASCII lower case, runs of three or more equal
    /// letters squashed to one ("ayudaaa" → "ayuda"), anything else a separator.
    static func words(of text: String) -> [Word] {
        var words: [Word] = []
        var spelling = NoSpelling()
        scanWords(text, into: &words, spelling: &spelling)
        return words
    }

    /// The words of `text` with their folded letters (naming features for the model file).
    static func spelledWords(of text: String) -> [(word: Word, spelling: String)] {
        var words: [Word] = []
        var spelling = Spelling()
        scanWords(text, into: &words, spelling: &spelling)
        let letters = spelling.letters
        var start = 0
        return zip(words, spelling.ends).map { word, end in
            defer { start = end }
            return (word, String(decoding: letters[start..<end], as: UTF8.self))
        }
    }

    /// Where ``scanWords(_:into:spelling:)`` puts each word's folded letters.
    private protocol SpellingSink {
        mutating func append(_ letter: UInt8)
        mutating func endWord()
    }

    /// The folded letters of every word, one after another, and where each word ends.
    private struct Spelling: SpellingSink {
        var letters: [UInt8] = []
        var ends: [Int] = []
        mutating func append(_ letter: UInt8) { letters.append(letter) }
        mutating func endWord() { ends.append(letters.count) }
    }

    /// Scoring needs no letters: a generic specialization without them.
    private struct NoSpelling: SpellingSink {
        @inline(__always) func append(_ letter: UInt8) {}
        @inline(__always) func endWord() {}
    }

    /// Appends the words of `text` to `words`, and their letters to `spelling`. Reads the
    /// UTF-8 bytes directly: the scorer runs this on every message.
    @inline(__always)
    private static func scanWords<Sink: SpellingSink>(_ text: String, into words: inout [Word], spelling: inout Sink) {
        var text = text
        text.withUTF8 { bytes in
            let n = bytes.count
            var hash = offsetBasis
            var prefixHash = offsetBasis
            var length = 0
            var start = 0
            var offset = 0
            // The letter being repeated and how many times: a run is hashed when it ends, once
            // when it is three or longer.
            var previous: UInt8 = 0
            var run = 0
            var i = 0
            latinFolding.withUnsafeBufferPointer { folding in
                asciiFolding.withUnsafeBufferPointer { ascii in
                    while true {
                        // The end of the text is one more separator.
                        let atEnd = i >= n
                        var byte: UInt8 = 0
                        var units = 1
                        if !atEnd {
                            let b0 = bytes[i]
                            if b0 < 0x80 {
                                byte = ascii[Int(b0)]
                                i += 1
                            } else {
                                var value: UInt32
                                if b0 < 0xE0 {
                                    value = (UInt32(b0 & 0x1F) << 6) | UInt32(bytes[i + 1] & 0x3F)
                                    i += 2
                                } else if b0 < 0xF0 {
                                    value = (UInt32(b0 & 0x0F) << 12) | (UInt32(bytes[i + 1] & 0x3F) << 6) | UInt32(bytes[i + 2] & 0x3F)
                                    i += 3
                                } else {
                                    value = (UInt32(b0 & 0x07) << 18) | (UInt32(bytes[i + 1] & 0x3F) << 12)
                                        | (UInt32(bytes[i + 2] & 0x3F) << 6) | UInt32(bytes[i + 3] & 0x3F)
                                    i += 4
                                    units = 2
                                }
                                if value >= 0xC0 && value <= 0x24F {
                                    byte = folding[Int(value - 0xC0)]
                                } else if value >= 0x300, let scalar = Unicode.Scalar(value),
                                    scalar.properties.generalCategory == .nonspacingMark
                                {
                                    // An accent typed as its own character stays inside the word.
                                    offset += units
                                    continue
                                }
                            }
                        }
                        if byte != 0 && byte == previous {
                            run += 1
                        } else {
                            // The previous run ends here.
                            for _ in 0..<(run >= 3 ? 1 : run) {
                                hash = (hash ^ UInt64(previous)) &* prime
                                if length < 5 { prefixHash = (prefixHash ^ UInt64(previous)) &* prime }
                                length += 1
                                spelling.append(previous)
                            }
                            if byte == 0 {
                                if length > 0 {
                                    words.append(Word(hash: hash, length: length, prefixHash: prefixHash, start: start, end: offset))
                                    spelling.endWord()
                                }
                                hash = offsetBasis
                                prefixHash = offsetBasis
                                length = 0
                                previous = 0
                                run = 0
                            } else {
                                if length == 0 && run == 0 { start = offset }
                                previous = byte
                                run = 1
                            }
                        }
                        if atEnd { break }
                        offset += units
                    }
                }
            }
        }
    }

    /// Calls `body` with each feature word `index` adds: the word, its pair with the word
    /// before, and its first five letters when it is longer.
    @inline(__always)
    static func forEachFeature(ofWordAt index: Int, in words: [Word], _ body: (UInt64, FeatureKind) -> Void) {
        let word = words[index]
        body(word.hash, .word)
        if index > 0 { body(pairHash(words[index - 1], word), .pair) }
        if word.length > 5 { body(beginningHash(word), .beginning) }
    }

    private static func pairHash(_ first: Word, _ second: Word) -> UInt64 {
        (first.hash &* 0x0000_0100_0000_01B3) ^ (second.hash &+ 0x2545_F491_4F6C_DD1D) ^ 0x5851_F42D_4C95_7F2D
    }

    private static func beginningHash(_ word: Word) -> UInt64 { word.prefixHash ^ 0x9E37_79B9_7F4A_7C15 }

    /// The features of `text` by name: `pego`, `me pego` (a pair), `golpe*` (a beginning).
    static func featureNames(of text: String) -> [UInt64: String] {
        let spelled = Self.spelledWords(of: text)
        let words = spelled.map(\.word)
        var names: [UInt64: String] = [:]
        for index in words.indices {
            forEachFeature(ofWordAt: index, in: words) { hash, kind in
                let spelling = spelled[index].spelling
                switch kind {
                case .word: names[hash] = spelling
                case .pair: names[hash] = spelled[index - 1].spelling + " " + spelling
                case .beginning: names[hash] = String(spelling.prefix(5)) + "*"
                }
            }
        }
        return names
    }

    /// The hash of a name ``featureNames(of:)`` gave; `nil` when it is not one.
    static func hash(ofName name: String) -> UInt64? {
        // A name is folded already, so its words hash as they did; five folded letters have
        // no run to squash, so a beginning is the beginning of its own letters.
        if name.hasSuffix("*") {
            let words = Self.words(of: String(name.dropLast()))
            return words.count == 1 ? beginningHash(words[0]) : nil
        }
        let words = Self.words(of: name)
        switch words.count {
        case 1: return words[0].hash
        case 2: return pairHash(words[0], words[1])
        default: return nil
        }
    }

    // MARK: - Scoring

    /// Buffers for scoring, reused from message to message.
    struct Scratch: Sendable {
        var words: [Word] = []
        /// Per word: its own row, or -1.
        var wordRows: [Int32] = []
        /// Per row: the message that last counted it, so a feature counts once a message.
        var rowStamp: [UInt32] = []
        var stamp: UInt32 = 0
        var sums: [Double] = []
    }

    /// The probability of each of ``flags`` for `text`, and for each flag above the
    /// threshold the word that weighs most for it.
    func score(_ text: String) -> [(probability: Double, word: Word?)] {
        var scratch = Scratch()
        return score(text, scratch: &scratch)
    }

    func score(_ text: String, scratch: inout Scratch) -> [(probability: Double, word: Word?)] {
        scratch.words.removeAll(keepingCapacity: true)
        var noSpelling = NoSpelling()
        Self.scanWords(text, into: &scratch.words, spelling: &noSpelling)
        let count = flags.count
        if scratch.rowStamp.count != features.count { scratch.rowStamp = [UInt32](repeating: 0, count: features.count) }
        if scratch.sums.count != count { scratch.sums = [Double](repeating: 0, count: count) }
        for k in 0..<count { scratch.sums[k] = 0 }
        scratch.stamp &+= 1
        if scratch.stamp == 0 {
            for i in scratch.rowStamp.indices { scratch.rowStamp[i] = 0 }
            scratch.stamp = 1
        }
        scratch.wordRows.removeAll(keepingCapacity: true)
        // The rows of the message's known features, each once: words, pairs, beginnings.
        var distinct = 0
        let stamp = scratch.stamp
        flatWeights.withUnsafeBufferPointer { table in
            scratch.rowStamp.withUnsafeMutableBufferPointer { seen in
                scratch.sums.withUnsafeMutableBufferPointer { sums in
                    let words = scratch.words
                    for index in words.indices {
                        var own: Int32 = -1
                        Self.forEachFeature(ofWordAt: index, in: words) { hash, kind in
                            guard let row = rows.row(of: hash) else { return }
                            if kind == .word { own = row }
                            if seen[Int(row)] == stamp { return }
                            seen[Int(row)] = stamp
                            distinct += 1
                            let base = Int(row) * count
                            for k in 0..<count { sums[k] += table[base + k] }
                        }
                        scratch.wordRows.append(own)
                    }
                }
            }
        }
        let scale = distinct > 0 ? 1 / Double(distinct).squareRoot() : 0
        var results: [(probability: Double, word: Word?)] = []
        results.reserveCapacity(count)
        for k in 0..<count {
            let z = bias[k] + scratch.sums[k] * scale
            let probability = 1 / (1 + exp(-max(-30, min(30, z))))
            var best: Word?
            if probability > threshold {
                var bestWeight = 0.0
                for (index, row) in scratch.wordRows.enumerated() where row >= 0 {
                    let weight = flatWeights[Int(row) * count + k]
                    if weight > bestWeight {
                        bestWeight = weight
                        best = scratch.words[index]
                    }
                }
            }
            results.append((probability, best))
        }
        return results
    }

    // MARK: - Training

    /// Trains one logistic regression per flag on labelled messages (stochastic gradient
    /// descent, a seeded shuffle: the same messages give the same model).
    public static func train(_ examples: [(text: String, flags: Set<FlagCode>)], flags: [FlagCode], settings: Settings = Settings()) -> RiskModel {
        var names: [UInt64: String] = [:]
        let featureLists = examples.map { example -> [UInt64] in
            let named = featureNames(of: example.text)
            for (hash, name) in named where names[hash] == nil { names[hash] = name }
            return named.keys.sorted()
        }
        var counts: [UInt64: Int] = [:]
        for list in featureLists { for feature in list { counts[feature, default: 0] += 1 } }
        let vocabulary = counts.filter { $0.value >= settings.minimumCount }.keys.sorted()
        var index: [UInt64: Int] = [:]
        for (i, feature) in vocabulary.enumerated() { index[feature] = i }
        let rows = featureLists.map { list in list.compactMap { index[$0] } }
        var weights = [[Double]](repeating: [Double](repeating: 0, count: flags.count), count: vocabulary.count)
        var bias = [Double](repeating: 0, count: flags.count)
        for (k, flag) in flags.enumerated() {
            var w = [Double](repeating: 0, count: vocabulary.count)
            var b = 0.0
            var order = Array(examples.indices)
            var random = SeededRandom(seed: settings.seed &+ UInt64(k))
            for _ in 0..<settings.epochs {
                order.shuffle(using: &random)
                for i in order {
                    let row = rows[i]
                    let scale = row.isEmpty ? 0 : 1 / Double(row.count).squareRoot()
                    var z = b
                    for f in row { z += w[f] * scale }
                    let p = 1 / (1 + exp(-max(-30, min(30, z))))
                    let gradient = p - (examples[i].flags.contains(flag) ? 1 : 0)
                    for f in row { w[f] -= settings.rate * (gradient * scale + settings.l2 * w[f]) }
                    b -= settings.rate * gradient
                }
            }
            for f in vocabulary.indices { weights[f][k] = w[f] }
            bias[k] = b
        }
        // Every feature was named when its message was read.
        let kept = vocabulary.enumerated().filter { f, _ in weights[f].contains { abs($0) >= 0.0005 } }.map { f, feature in
            (feature: feature, name: names[feature]!, row: weights[f].map { ($0 * 10_000).rounded() / 10_000 })
        }
        return RiskModel(flags: flags, bias: bias.map { ($0 * 10_000).rounded() / 10_000 }, threshold: settings.threshold, weights: kept)
    }

    // MARK: - Storage

    private struct Stored: Codable {
        var threshold: Double
        var flags: [String]
        var bias: [Double]
        var weights: [String: [Double]]
    }

    /// The model as JSON, keys sorted: the same model always writes the same bytes.
    public func json() throws -> String {
        var byName: [String: [Double]] = [:]
        for (row, name) in names.enumerated() { byName[name] = Array(flatWeights[(row * flags.count)..<((row + 1) * flags.count)]) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Stored(threshold: threshold, flags: flags.map(\.rawValue), bias: bias, weights: byName))
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a model written by ``json()``.
    public static func parse(_ text: String, file: String, taxonomy: Taxonomy) throws(ConfigError) -> RiskModel {
        let stored: Stored
        do {
            stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
        } catch {
            throw ConfigError(file: file, line: nil, message: "not a model written by `escucha model train`; train it again")
        }
        for flag in stored.flags where taxonomy.flag(FlagCode(flag)) == nil {
            throw ConfigError(file: file, line: nil, message: "the model knows flag '\(flag)', which taxonomy.yaml does not; train it again")
        }
        guard stored.bias.count == stored.flags.count, stored.weights.values.allSatisfy({ $0.count == stored.flags.count }) else {
            throw ConfigError(file: file, line: nil, message: "the model's weights do not match its flags; train it again")
        }
        var weights: [(feature: UInt64, name: String, row: [Double])] = []
        for (name, row) in stored.weights {
            guard let hash = hash(ofName: name) else {
                throw ConfigError(file: file, line: nil, message: "'\(name)' is not a feature the model makes; train it again")
            }
            weights.append((hash, name, row))
        }
        return RiskModel(flags: stored.flags.map { FlagCode($0) }, bias: stored.bias, threshold: stored.threshold, weights: weights)
    }
}

/// Feature hashes and their rows, in an open-addressing table: a probe is a multiply and a
/// few comparisons, where a Dictionary would hash each key again.
struct FeatureTable: Sendable {
    private let keys: [UInt64]
    private let values: [Int32]
    private let shift: UInt64

    /// Row `i` for `features[i]`.
    init(_ features: [UInt64]) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < features.count * 2 { capacity *= 2; bits += 1 }
        var keys = [UInt64](repeating: 0, count: capacity)
        var values = [Int32](repeating: -1, count: capacity)
        let shift = 64 - bits
        for (row, feature) in features.enumerated() {
            var slot = Int((feature &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while values[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            keys[slot] = feature
            values[slot] = Int32(row)
        }
        self.keys = keys
        self.values = values
        self.shift = shift
    }

    func row(of feature: UInt64) -> Int32? {
        let mask = keys.count - 1
        var slot = Int((feature &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while values[slot] >= 0 {
            if keys[slot] == feature { return values[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }
}
