/// Token patterns compiled into two tries: one over the bytes of prefix patterns
/// (`golpe*`) and one over sequences of token symbols (phrases). Matching walks both from
/// each token, so the work per message grows with its length and the longest phrase, not
/// with the size of the lexicon.
struct Automaton: Sendable {
    /// A word pattern: an exact folded word, or a prefix of words.
    struct WordPattern: Hashable, Sendable {
        var text: String
        var isPrefix: Bool
    }

    private struct PrefixNode: Sendable {
        var children: [UInt8: Int32] = [:]
        var symbol: Int32 = -1
    }

    private struct PhraseNode: Sendable {
        var children: [Int32: Int32] = [:]
        var patterns: [Int32] = []
    }

    /// A pattern found in a message: token range `[start, end]` inclusive.
    struct Match: Sendable {
        var pattern: Int32
        var start: Int
        var end: Int
    }

    private var exactSymbols: [String: Int32] = [:]
    private var prefixNodes: [PrefixNode] = [PrefixNode()]
    private var phraseNodes: [PhraseNode] = [PhraseNode()]
    private var symbolCount: Int32 = 0
    private var patternIDs: [[WordPattern]: Int32] = [:]
    private(set) var patternCount = 0
    private(set) var longestPattern = 0

    /// Adds a pattern (a sequence of word patterns) and returns its id; the same sequence
    /// always gets the same id.
    mutating func add(_ words: [WordPattern]) -> Int32 {
        if let id = patternIDs[words] { return id }
        let id = Int32(patternCount)
        patternCount += 1
        patternIDs[words] = id
        longestPattern = max(longestPattern, words.count)
        var node: Int32 = 0
        for word in words {
            let symbol = symbolFor(word)
            if let next = phraseNodes[Int(node)].children[symbol] {
                node = next
            } else {
                phraseNodes.append(PhraseNode())
                let next = Int32(phraseNodes.count - 1)
                phraseNodes[Int(node)].children[symbol] = next
                node = next
            }
        }
        phraseNodes[Int(node)].patterns.append(id)
        return id
    }

    private mutating func symbolFor(_ word: WordPattern) -> Int32 {
        if !word.isPrefix {
            if let s = exactSymbols[word.text] { return s }
            let s = symbolCount
            symbolCount += 1
            exactSymbols[word.text] = s
            return s
        }
        var node = 0
        for byte in word.text.utf8 {
            if let next = prefixNodes[node].children[byte] {
                node = Int(next)
            } else {
                prefixNodes.append(PrefixNode())
                prefixNodes[node].children[byte] = Int32(prefixNodes.count - 1)
                node = prefixNodes.count - 1
            }
        }
        if prefixNodes[node].symbol < 0 {
            prefixNodes[node].symbol = symbolCount
            symbolCount += 1
        }
        return prefixNodes[node].symbol
    }

    /// The symbols a word matches: its exact symbol and every prefix symbol.
    private func symbols(of word: String, into out: inout [Int32]) {
        out.removeAll(keepingCapacity: true)
        if let s = exactSymbols[word] { out.append(s) }
        var node = 0
        for byte in word.utf8 {
            guard let next = prefixNodes[node].children[byte] else { return }
            node = Int(next)
            let s = prefixNodes[node].symbol
            if s >= 0 { out.append(s) }
        }
    }

    /// Every occurrence of every pattern in `tokens`.
    func matches(in tokens: [Token]) -> [Match] {
        var symbolsAt: [[Int32]] = []
        symbolsAt.reserveCapacity(tokens.count)
        var scratch: [Int32] = []
        for token in tokens {
            symbols(of: token.text, into: &scratch)
            symbolsAt.append(scratch)
        }
        var found: [Match] = []
        var active: [Int32] = []
        var next: [Int32] = []
        for i in 0..<tokens.count where !symbolsAt[i].isEmpty {
            active.removeAll(keepingCapacity: true)
            active.append(0)
            var j = i
            while j < tokens.count, j - i < longestPattern {
                next.removeAll(keepingCapacity: true)
                for node in active {
                    let children = phraseNodes[Int(node)].children
                    if children.isEmpty { continue }
                    for symbol in symbolsAt[j] {
                        if let child = children[symbol] {
                            next.append(child)
                            for pattern in phraseNodes[Int(child)].patterns {
                                found.append(Match(pattern: pattern, start: i, end: j))
                            }
                        }
                    }
                }
                if next.isEmpty { break }
                swap(&active, &next)
                j += 1
            }
        }
        return found
    }
}
