/// Token patterns compiled into two tries: one over the bytes of prefix patterns
/// (`golpe*`) and one over sequences of token symbols (phrases). Matching walks both from
/// each token, so the work per message grows with its length and the longest phrase, not
/// with the size of the lexicon.
///
/// Patterns are added with `add`; `freeze` then lays both tries out in flat arrays with
/// one integer-keyed hash table for the edges, which is what matching reads.
struct Automaton: Sendable {
    /// A word pattern: an exact folded word, or a prefix of words.
    struct WordPattern: Hashable, Sendable {
        var text: String
        var isPrefix: Bool
    }

    /// A pattern found in a message: token range `[start, end]` inclusive.
    struct Match: Sendable {
        var pattern: Int32
        var start: Int32
        var end: Int32
    }

    // Building.
    private var exactSymbols: [String: Int32] = [:]
    private var prefixChildren: [[UInt8: Int32]] = [[:]]
    private var prefixSymbol: [Int32] = [-1]
    private var phraseChildren: [[Int32: Int32]] = [[:]]
    private var phrasePatterns: [[Int32]] = [[]]
    private var symbolCount: Int32 = 0
    private var patternIDs: [[WordPattern]: Int32] = [:]
    private(set) var patternCount = 0
    private(set) var longestPattern = 0

    // Matching (after `freeze`).
    private var prefixEdges = EdgeTable()
    /// Edges of the phrase nodes with more than one child.
    private var phraseEdges = EdgeTable()
    private var phraseNodes: [PhraseNode] = []
    /// Pattern ids, `phrasePatternItems[node.patternStart..<node.patternEnd]` per node.
    private var phrasePatternItems: [Int32] = []
    /// Per symbol: the root's child, or -1; the first step of every walk is an array read.
    private var rootChild: [Int32] = []
    /// Per symbol: whether it labels an edge below the root. Most words never continue a
    /// phrase, so a walk ends at them without looking at its nodes.
    private var continues: [Bool] = []

    /// What a matching step reads of a phrase node, side by side so it touches one cache
    /// line: most nodes have at most one child, which then needs no hash probe.
    struct PhraseNode: Sendable {
        /// With several children: a bit per label modulo 64, so most labels that lead
        /// nowhere cost no probe of `phraseEdges`.
        var labelBits: UInt64
        /// The only child's label; -1 without children; -2 with several (in `phraseEdges`).
        var label: Int32
        var child: Int32
        var patternStart: Int32
        var patternEnd: Int32

        var hasChildren: Bool { label != -1 }

        @inline(__always)
        static func labelBit(_ label: Int32) -> UInt64 { 1 << (UInt64(truncatingIfNeeded: label) & 63) }
    }

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
            if let next = phraseChildren[Int(node)][symbol] {
                node = next
            } else {
                phraseChildren.append([:])
                phrasePatterns.append([])
                let next = Int32(phraseChildren.count - 1)
                phraseChildren[Int(node)][symbol] = next
                node = next
            }
        }
        phrasePatterns[Int(node)].append(id)
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
            if let next = prefixChildren[node][byte] {
                node = Int(next)
            } else {
                prefixChildren.append([:])
                prefixSymbol.append(-1)
                prefixChildren[node][byte] = Int32(prefixChildren.count - 1)
                node = prefixChildren.count - 1
            }
        }
        if prefixSymbol[node] < 0 {
            prefixSymbol[node] = symbolCount
            symbolCount += 1
        }
        return prefixSymbol[node]
    }

    /// The words that have an exact symbol; the tokenizer numbers them.
    var exactWords: [String] { Array(exactSymbols.keys) }

    /// Lays the tries out for matching.
    mutating func freeze() {
        prefixEdges = EdgeTable(capacity: prefixChildren.count)
        for (node, children) in prefixChildren.enumerated() {
            for (byte, child) in children { prefixEdges.insert(node: Int32(node), label: Int32(byte), child: child) }
        }
        phraseEdges = EdgeTable(capacity: phraseChildren.filter { $0.count > 1 }.reduce(0) { $0 + $1.count })
        phraseNodes = []
        phrasePatternItems = []
        for (node, children) in phraseChildren.enumerated() {
            var info = PhraseNode(labelBits: 0, label: -1, child: -1, patternStart: Int32(phrasePatternItems.count), patternEnd: 0)
            phrasePatternItems += phrasePatterns[node]
            info.patternEnd = Int32(phrasePatternItems.count)
            if children.count == 1, let (symbol, child) = children.first {
                info.label = symbol
                info.child = child
            } else if children.count > 1 {
                info.label = -2
                for (symbol, child) in children {
                    phraseEdges.insert(node: Int32(node), label: symbol, child: child)
                    info.labelBits |= PhraseNode.labelBit(symbol)
                }
            }
            phraseNodes.append(info)
        }
        rootChild = Array(repeating: -1, count: Int(symbolCount))
        for (symbol, child) in phraseChildren[0] { rootChild[Int(symbol)] = child }
        continues = Array(repeating: false, count: Int(symbolCount))
        for children in phraseChildren.dropFirst() {
            for symbol in children.keys { continues[Int(symbol)] = true }
        }
    }

    /// Appends the symbols a known word matches: its exact symbol and every prefix symbol.
    func symbols(of word: String, into out: inout [Int32]) {
        if let s = exactSymbols[word] { out.append(s) }
        Array(word.utf8).withUnsafeBufferPointer { prefixSymbols(of: $0, into: &out) }
    }

    /// A token's first step from the root: appends to `items`, after its symbols
    /// `items[start...]`, the root's children it reaches that have children (they stay
    /// active), then the patterns it completes, both in symbol order. Returns their counts.
    func appendRootStep(to items: inout [Int32], symbolsFrom start: Int) -> (active: Int, patterns: Int) {
        let end = items.count
        for k in start..<end {
            let child = rootChild[Int(items[k])]
            if child >= 0, phraseNodes[Int(child)].hasChildren { items.append(child) }
        }
        let active = items.count - end
        for k in start..<end {
            let child = rootChild[Int(items[k])]
            if child < 0 { continue }
            let info = phraseNodes[Int(child)]
            items += phrasePatternItems[Int(info.patternStart)..<Int(info.patternEnd)]
        }
        return (active, items.count - end - active)
    }

    /// A token's symbols and first step (`appendRootStep`) in a list of items: the
    /// classifier's per-word list for known words (read in place), else the message's.
    struct TokenStep: Sendable {
        var start: Int32
        var symbols: Int32
        var active: Int32
        var patterns: Int32
        var inWordItems = false
        /// False when none of its symbols continues a phrase (`continuesPhrase`): a walk
        /// ends at the token without reading its symbols.
        var continues = true
    }

    /// Whether any of `symbols` labels an edge below the root.
    func continuesPhrase(_ symbols: ArraySlice<Int32>) -> Bool {
        symbols.contains { continues[Int($0)] }
    }

    /// Appends the prefix symbols of a word.
    func prefixSymbols(of bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var node: Int32 = 0
        for byte in bytes {
            let next = prefixEdges.child(of: node, label: Int32(byte))
            if next < 0 { return }
            node = next
            let s = prefixSymbol[Int(node)]
            if s >= 0 { out.append(s) }
        }
    }

    /// Every occurrence of every pattern, given each token's symbols and first step
    /// (`steps[i]` for token `i`, its lists in `items`), into `found`.
    ///
    /// The walk from a token keeps its active nodes in `frontier`, step after step
    /// (`frontier[lo..<hi]` is the current step), written through one pointer for the
    /// whole message; a walk that outgrows it doubles it and starts over at that token.
    func matches(steps: [TokenStep], items: [Int32], wordItems: [Int32], frontier: inout [Int32], into found: inout [Match]) {
        found.removeAll(keepingCapacity: true)
        if frontier.count < 256 { frontier = Array(repeating: 0, count: 256) }
        var resume = 0
        while true {
            let stopped = frontier.withUnsafeMutableBufferPointer { frontier in
                matches(steps: steps, from: resume, items: items, wordItems: wordItems, frontier: frontier, into: &found)
            }
            guard let stopped else { return }
            resume = stopped
            frontier += repeatElement(0, count: frontier.count)
        }
    }

    /// `matches` from token `first` on; returns the token whose walk outgrew `frontier`
    /// (its matches removed), or nil when done.
    private func matches(
        steps: [TokenStep], from first: Int, items: [Int32], wordItems: [Int32], frontier: UnsafeMutableBufferPointer<Int32>, into found: inout [Match]
    ) -> Int? {
        steps.withUnsafeBufferPointer { steps in
            wordItems.withUnsafeBufferPointer { wordItems in
                items.withUnsafeBufferPointer { messageItems in
                    phraseNodes.withUnsafeBufferPointer { nodes in
                        phrasePatternItems.withUnsafeBufferPointer { patterns in
                            continues.withUnsafeBufferPointer { continues -> Int? in
                                let tokenCount = steps.count
                                for i in first..<tokenCount where steps[i].symbols > 0 {
                                    let step = steps[i]
                                    let items = step.inWordItems ? wordItems : messageItems
                                    let activeStart = Int(step.start + step.symbols)
                                    let patternStart = activeStart + Int(step.active)
                                    let foundBefore = found.count
                                    for p in patternStart..<patternStart + Int(step.patterns) {
                                        found.append(Match(pattern: items[p], start: Int32(i), end: Int32(i)))
                                    }
                                    if step.active == 0 { continue }
                                    func outgrown() -> Int {
                                        found.removeSubrange(foundBefore...)
                                        return i
                                    }
                                    if patternStart - activeStart > frontier.count { return outgrown() }
                                    var hi = 0
                                    for k in activeStart..<patternStart {
                                        frontier[hi] = items[k]
                                        hi += 1
                                    }
                                    var lo = 0
                                    var j = i + 1
                                    while lo < hi, j < tokenCount, j - i < longestPattern {
                                        let from = Int(steps[j].start)
                                        let to = from + Int(steps[j].symbols)
                                        let labels = steps[j].inWordItems ? wordItems : messageItems
                                        // A token none of whose symbols labels an edge below the root ends every walk.
                                        if from == to || !steps[j].continues { break }
                                        if hi + (hi - lo) * (to - from) > frontier.count { return outgrown() }
                                        var end = hi
                                        for a in lo..<hi {
                                            let node = frontier[a]
                                            let info = nodes[Int(node)]
                                            for k in from..<to {
                                                let label = labels[k]
                                                let child: Int32
                                                if info.label >= 0 {
                                                    if info.label != label { continue }
                                                    child = info.child
                                                } else {
                                                    if info.labelBits & PhraseNode.labelBit(label) == 0 || !continues[Int(label)] { continue }
                                                    child = phraseEdges.child(of: node, label: label)
                                                    if child < 0 { continue }
                                                }
                                                let reached = nodes[Int(child)]
                                                // Only nodes with children stay active.
                                                if reached.hasChildren {
                                                    frontier[end] = child
                                                    end += 1
                                                }
                                                for p in Int(reached.patternStart)..<Int(reached.patternEnd) {
                                                    found.append(Match(pattern: patterns[p], start: Int32(i), end: Int32(j)))
                                                }
                                            }
                                        }
                                        lo = hi
                                        hi = end
                                        j += 1
                                    }
                                }
                                return nil
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Trie edges `(node, label) → child` in one open-addressing table. Key and child sit
/// side by side, so a probe touches one cache line.
struct EdgeTable: Sendable {
    private struct Slot: Sendable {
        var key: UInt64
        var child: Int32
    }

    private static let empty = Slot(key: UInt64.max, child: -1)
    private var slots: [Slot] = [EdgeTable.empty]

    init() {}

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = Array(repeating: Self.empty, count: size)
    }

    @inline(__always)
    private static func key(_ node: Int32, _ label: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: node)) << 32 | UInt64(UInt32(bitPattern: label))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, mask: Int) -> Int {
        // Fibonacci hashing spreads consecutive node numbers over the table.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    mutating func insert(node: Int32, label: Int32, child: Int32) {
        let key = Self.key(node, label)
        let mask = slots.count - 1
        var slot = Self.slot(key, mask: mask)
        while slots[slot].key != UInt64.max { slot = (slot + 1) & mask }
        slots[slot] = Slot(key: key, child: child)
    }

    /// The child, or -1.
    @inline(__always)
    func child(of node: Int32, label: Int32) -> Int32 {
        let key = Self.key(node, label)
        return slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var slot = Self.slot(key, mask: mask)
            while true {
                let k = slots[slot].key
                if k == key { return slots[slot].child }
                if k == UInt64.max { return -1 }
                slot = (slot + 1) & mask
            }
        }
    }
}

/// Lists of lists in two flat arrays, so reading one list touches no nested array.
struct FlatLists<Element: Sendable>: Sendable {
    private var starts: [Int32] = [0]
    private var items: [Element] = []

    init() {}

    init(_ lists: [[Element]]) {
        for list in lists {
            items += list
            starts.append(Int32(items.count))
        }
    }

    var count: Int { starts.count - 1 }

    func isEmpty(_ list: Int) -> Bool { starts[list] == starts[list + 1] }

    @inline(__always)
    func forEach(_ list: Int, _ body: (Element) -> Void) {
        let from = Int(starts[list])
        let to = Int(starts[list + 1])
        if from == to { return }
        items.withUnsafeBufferPointer { items in
            for k in from..<to { body(items[k]) }
        }
    }

    subscript(list: Int) -> ArraySlice<Element> { items[Int(starts[list])..<Int(starts[list + 1])] }
}
