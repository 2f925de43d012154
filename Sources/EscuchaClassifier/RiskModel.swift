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
    /// Feature hash → one weight per flag.
    let weights: [UInt64: [Double]]
    /// Feature hash → its row in `flatWeights` (a row of `flags.count` weights): one lookup
    /// per feature when scoring.
    let rows: FeatureTable
    let flatWeights: [Double]
    /// The features by name, for writing the model back.
    let names: [UInt64: String]

    init(flags: [FlagCode], bias: [Double], threshold: Double, weights: [UInt64: [Double]], names: [UInt64: String]) {
        self.flags = flags
        self.bias = bias
        self.threshold = threshold
        self.weights = weights
        self.names = names
        var flat: [Double] = []
        flat.reserveCapacity(weights.count * flags.count)
        let features = weights.keys.sorted()
        for feature in features { flat += weights[feature]! }
        self.rows = FeatureTable(features)
        self.flatWeights = flat
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
    static func words(of text: String) -> [Word] {
        var words: [Word] = []
        words.reserveCapacity(64)
        var hash = offsetBasis
        var prefixHash = offsetBasis
        var length = 0
        var start = 0
        var offset = 0
        // The letter being repeated and how many times: a run is hashed when it ends, once
        // when it is three or longer.
        var previous: UInt8 = 0
        var run = 0
        let folding = latinFolding
        for scalar in text.unicodeScalars {
            let value = scalar.value
            var byte: UInt8 = 0
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
            if byte != 0 && byte == previous {
                run += 1
            } else {
                // The previous run ends here.
                if run > 0 {
                    for _ in 0..<(run >= 3 ? 1 : run) {
                        hash = (hash ^ UInt64(previous)) &* prime
                        if length < 5 { prefixHash = (prefixHash ^ UInt64(previous)) &* prime }
                        length += 1
                    }
                }
                if byte == 0 {
                    if length > 0 { words.append(Word(hash: hash, length: length, prefixHash: prefixHash, start: start, end: offset)) }
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
            offset += value > 0xFFFF ? 2 : 1
        }
        if run > 0 {
            for _ in 0..<(run >= 3 ? 1 : run) {
                hash = (hash ^ UInt64(previous)) &* prime
                if length < 5 { prefixHash = (prefixHash ^ UInt64(previous)) &* prime }
                length += 1
            }
        }
        if length > 0 { words.append(Word(hash: hash, length: length, prefixHash: prefixHash, start: start, end: offset)) }
        return words
    }

    /// Hashes of a message's features, sorted and without repeats: each word, each pair
    /// of neighbouring words, and the first five letters of each longer word.
    static func features(of words: [Word]) -> [UInt64] {
        var features: [UInt64] = []
        features.reserveCapacity(words.count * 3)
        for (index, word) in words.enumerated() {
            features.append(word.hash)
            if index > 0 { features.append(pairHash(words[index - 1].hash, word.hash)) }
            if word.length > 5 { features.append(word.prefixHash ^ 0x9E37_79B9_7F4A_7C15) }
        }
        features.sort()
        var unique: [UInt64] = []
        unique.reserveCapacity(features.count)
        for feature in features where unique.last != feature { unique.append(feature) }
        return unique
    }

    static func pairHash(_ a: UInt64, _ b: UInt64) -> UInt64 {
        (a &* 0x0000_0100_0000_01B3) ^ (b &+ 0x2545_F491_4F6C_DD1D) ^ 0x5851_F42D_4C95_7F2D
    }

    /// The features of `text` by name, for training output.
    static func featureNames(of text: String) -> [UInt64: String] {
        var words: [(hash: UInt64, text: String)] = []
        for word in Self.words(of: text) {
            let utf16 = Array(text.utf16[text.utf16.index(text.utf16.startIndex, offsetBy: word.start)..<text.utf16.index(text.utf16.startIndex, offsetBy: word.end)])
            words.append((word.hash, folded(String(decoding: utf16, as: UTF16.self))))
        }
        var names: [UInt64: String] = [:]
        let all = Self.words(of: text)
        for (index, word) in all.enumerated() {
            names[word.hash] = words[index].text
            if index > 0 { names[pairHash(all[index - 1].hash, word.hash)] = words[index - 1].text + " " + words[index].text }
            if word.length > 5 { names[word.prefixHash ^ 0x9E37_79B9_7F4A_7C15] = String(words[index].text.prefix(5)) + "*" }
        }
        return names
    }

    /// `word` folded and squashed as ``words(of:)`` hashes it.
    static func folded(_ word: String) -> String {
        var bytes: [UInt8] = []
        for scalar in word.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                let b = UInt8(value)
                if b >= 0x41 && b <= 0x5A { bytes.append(b | 0x20) } else { bytes.append(b) }
            } else if value >= 0xC0 && value <= 0x24F, latinFolding[Int(value - 0xC0)] != 0 {
                bytes.append(latinFolding[Int(value - 0xC0)])
            }
        }
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            var end = index
            while end < bytes.count && bytes[end] == bytes[index] { end += 1 }
            if end - index >= 3 { out.append(bytes[index]) } else { out += bytes[index..<end] }
            index = end
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The name's hash as ``features(of:)`` computes it (`a b` for a pair, `abcde*` for a
    /// beginning).
    static func hash(ofName name: String) -> UInt64 {
        if name.hasSuffix("*") {
            // The beginning of a folded word has no run to squash: its own letters hash alike.
            return words(of: String(name.dropLast())).first.map { $0.prefixHash ^ 0x9E37_79B9_7F4A_7C15 } ?? 0
        }
        let parts = words(of: name)
        if parts.count == 2 { return pairHash(parts[0].hash, parts[1].hash) }
        return parts.first?.hash ?? 0
    }

    // MARK: - Scoring

    /// The probability of each of ``flags`` for `text`, and for each flag above the
    /// threshold the word that weighs most for it.
    func score(_ text: String) -> [(probability: Double, word: Word?)] {
        let words = Self.words(of: text)
        // The rows of the message's known features, each once: words, pairs, beginnings.
        var known: [Int32] = []
        known.reserveCapacity(words.count * 3)
        for (index, word) in words.enumerated() {
            if let row = rows.row(of: word.hash) { known.append(row) }
            if index > 0, let row = rows.row(of: Self.pairHash(words[index - 1].hash, word.hash)) { known.append(row) }
            if word.length > 5, let row = rows.row(of: word.prefixHash ^ 0x9E37_79B9_7F4A_7C15) { known.append(row) }
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
            for (hash, name) in featureNames(of: example.text) where names[hash] == nil { names[hash] = name }
            return features(of: words(of: example.text))
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
        var table: [UInt64: [Double]] = [:]
        var kept: [UInt64: String] = [:]
        for (f, feature) in vocabulary.enumerated() where weights[f].contains(where: { abs($0) >= 0.0005 }) {
            table[feature] = weights[f].map { ($0 * 10_000).rounded() / 10_000 }
            kept[feature] = names[feature] ?? String(feature, radix: 16)
        }
        return RiskModel(flags: flags, bias: bias.map { ($0 * 10_000).rounded() / 10_000 }, threshold: settings.threshold, weights: table, names: kept)
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
        for (hash, row) in weights { byName[names[hash] ?? String(hash, radix: 16)] = row }
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
        var weights: [UInt64: [Double]] = [:]
        var names: [UInt64: String] = [:]
        for (name, row) in stored.weights {
            let hash = hash(ofName: name)
            weights[hash] = row
            names[hash] = name
        }
        return RiskModel(flags: stored.flags.map { FlagCode($0) }, bias: stored.bias, threshold: stored.threshold, weights: weights, names: names)
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
