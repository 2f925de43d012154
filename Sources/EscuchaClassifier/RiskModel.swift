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
        /// The folded letters, only when asked for (naming features for the model file).
        var spelling: [UInt8] = []
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

    private static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The words of `text`: letters folded to ASCII lower case, runs of three or more equal
    /// letters squashed to one ("ayudaaa" → "ayuda"), anything else a separator.
    /// - Parameter spelled: whether to keep each word's folded letters.
    static func words(of text: String, spelled: Bool = false) -> [Word] {
        var words: [Word] = []
        words.reserveCapacity(64)
        var hash = offsetBasis
        var prefixHash = offsetBasis
        var length = 0
        var start = 0
        var offset = 0
        var spelling: [UInt8] = []
        // The letter being repeated and how many times: a run is hashed when it ends, once
        // when it is three or longer.
        var previous: UInt8 = 0
        var run = 0
        let folding = latinFolding
        var scalars = text.unicodeScalars.makeIterator()
        while true {
            // The end of the text is one more separator.
            let scalar = scalars.next()
            var byte: UInt8 = 0
            if let scalar {
                let value = scalar.value
                if value < 0x80 {
                    let b = UInt8(truncatingIfNeeded: value)
                    if b >= 0x41 && b <= 0x5A { byte = b | 0x20 } else if (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) { byte = b }
                } else if value >= 0xC0 && value <= 0x24F {
                    byte = folding[Int(value - 0xC0)]
                } else if value >= 0x300 && scalar.properties.generalCategory == .nonspacingMark {
                    // An accent typed as its own character stays inside the word.
                    offset += value > 0xFFFF ? 2 : 1
                    continue
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
                    if spelled { spelling.append(previous) }
                }
                if byte == 0 {
                    if length > 0 {
                        words.append(Word(hash: hash, length: length, prefixHash: prefixHash, start: start, end: offset, spelling: spelling))
                    }
                    hash = offsetBasis
                    prefixHash = offsetBasis
                    length = 0
                    spelling.removeAll(keepingCapacity: true)
                    previous = 0
                    run = 0
                } else {
                    if length == 0 && run == 0 { start = offset }
                    previous = byte
                    run = 1
                }
            }
            guard let scalar else { break }
            offset += scalar.value > 0xFFFF ? 2 : 1
        }
        return words
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
        let words = Self.words(of: text, spelled: true)
        var names: [UInt64: String] = [:]
        for index in words.indices {
            forEachFeature(ofWordAt: index, in: words) { hash, kind in
                let spelling = String(decoding: words[index].spelling, as: UTF8.self)
                switch kind {
                case .word: names[hash] = spelling
                case .pair: names[hash] = String(decoding: words[index - 1].spelling, as: UTF8.self) + " " + spelling
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

    /// The probability of each of ``flags`` for `text`, and for each flag above the
    /// threshold the word that weighs most for it.
    func score(_ text: String) -> [(probability: Double, word: Word?)] {
        let words = Self.words(of: text)
        // The rows of the message's known features, each once: words, pairs, beginnings.
        var known: [Int32] = []
        known.reserveCapacity(words.count * 3)
        for index in words.indices {
            Self.forEachFeature(ofWordAt: index, in: words) { hash, _ in
                if let row = rows.row(of: hash) { known.append(row) }
            }
        }
        known.sort()
        let count = flags.count
        var sums = [Double](repeating: 0, count: count)
        var distinct = 0
        flatWeights.withUnsafeBufferPointer { table in
            var last: Int32 = -1
            for row in known where row != last {
                last = row
                distinct += 1
                let base = Int(row) * count
                for k in 0..<count { sums[k] += table[base + k] }
            }
        }
        let scale = distinct > 0 ? 1 / Double(distinct).squareRoot() : 0
        var results: [(probability: Double, word: Word?)] = []
        results.reserveCapacity(count)
        for k in 0..<count {
            let z = bias[k] + sums[k] * scale
            let probability = 1 / (1 + exp(-max(-30, min(30, z))))
            var best: Word?
            if probability > threshold {
                var bestWeight = 0.0
                for word in words {
                    if let row = rows.row(of: word.hash), flatWeights[Int(row) * count + k] > bestWeight {
                        bestWeight = flatWeights[Int(row) * count + k]
                        best = word
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
