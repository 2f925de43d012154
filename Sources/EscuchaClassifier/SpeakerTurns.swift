/// Turns of a hotline transcript written as "Agent: … Caller: …", and the agent's acts in a
/// transcript written as a summary ("Agent explains the referral pathway for survivors of
/// trafficking. Caller says that is not her case…").
///
/// Only the caller's words raise flags (taxonomy.md, labelling rule 7): an operator who asks
/// "has anyone threatened or beaten you?" reports nothing. The labels and the verbs are data
/// (`Config/lexicon/common.yaml`, `speaker_labels:`), folded like lexicon words.
struct SpeakerLabels: Sendable {
    /// Each label's folded words and whether it names the agent; longest labels first, so
    /// "moun k ap rele a" wins over a shorter label ending the same way.
    private(set) var labels: [(words: [String], agent: Bool)] = []
    /// The most words any label has.
    private(set) var longest = 0
    /// Verbs that make a sentence opening with an agent label the agent's own act
    /// ("Agente explica…", "L'agente rappelle…", "Ajan an esplike…"), folded.
    private(set) var agentVerbs: Set<String> = []
    /// Words that may stand around the label in such a sentence: articles before it,
    /// Creole determiners and auxiliaries between it and the verb, folded.
    private(set) var fillers: Set<String> = []
    /// The labels' first words, keyed by ``asciiKey(_:)`` and sorted: a cheap first test, so
    /// most sentences are dismissed without folding any word (a few dozen keys: a binary
    /// search costs less than hashing the key again for a `Set`).
    private var labelInitials: [UInt64] = []

    init(agent: [String] = [], caller: [String] = [], agentVerbs: [String] = [], fillers: [String] = []) {
        for (names, isAgent) in [(agent, true), (caller, false)] {
            for name in names {
                let words = name.split(separator: " ").map { Classifier.foldWord(String($0)) }.filter { !$0.isEmpty }
                if !words.isEmpty { labels.append((words, isAgent)) }
            }
        }
        labels.sort { $0.words.count > $1.words.count }
        longest = labels.first?.words.count ?? 0
        self.agentVerbs = Set(agentVerbs.map { Classifier.foldWord($0) }.filter { !$0.isEmpty })
        self.fillers = Set(fillers.map { Classifier.foldWord($0) }.filter { !$0.isEmpty })
        var initials: Set<UInt64> = []
        for label in labels {
            if let first = label.words.first, let key = Self.asciiKey(Array(first.utf16)[...]) { initials.insert(key) }
        }
        labelInitials = initials.sorted()
    }

    /// Whether a label begins with the word whose key is `key`.
    private func isLabelInitial(_ key: UInt64) -> Bool {
        var low = 0
        var high = labelInitials.count
        while low < high {
            let middle = (low + high) / 2
            if labelInitials[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low < labelInitials.count && labelInitials[low] == key
    }

    /// The UTF-16 ranges of `units` the agent speaks: its turns (``turnRegions(_:)``) and the
    /// sentences of a summary that tell what it did (``summaryRegions(_:)``).
    func agentRegions(_ units: [UInt16]) -> [Range<Int>] {
        turnRegions(units) + summaryRegions(units)
    }

    /// Sentences of a summarised transcript whose subject is the agent and whose verb says
    /// it spoke or acted ("Agent informs the caller that survivors of sexual violence can call
    /// the 24h line."): from the sentence's start to its end or a semicolon. A text is such a
    /// summary only when another sentence opens with the caller ("Caller says…", "El usuario
    /// agradece…"); a label without such a verb, or a text without the caller, is the
    /// person's words: "Agente de migración me quitó el pasaporte", "The agent said he would
    /// deport us unless we paid".
    func summaryRegions(_ units: [UInt16]) -> [Range<Int>] {
        guard !agentVerbs.isEmpty, !labelInitials.isEmpty else { return [] }
        var regions: [Range<Int>] = []
        var callerSpeaks = false
        var start = 0
        while start < units.count {
            let end = units.withUnsafeBufferPointer { Self.sentenceEnd($0, from: start) }
            if end > start {
                switch opening(units, start..<end) {
                case .agentAct: regions.append(start..<min(end + 1, units.count))
                case .caller: callerSpeaks = true
                case nil: break
                }
            }
            start = end + 1
        }
        return callerSpeaks ? regions : []
    }

    private enum Opening { case agentAct, caller }

    /// How the sentence `range` begins: [fillers] agent label [fillers] verb, or [fillers]
    /// caller label; nil for anything else.
    private func opening(_ units: [UInt16], _ range: Range<Int>) -> Opening? {
        func nextWord(from start: Int) -> Range<Int>? {
            var i = start
            while i < range.upperBound, !Self.isWordUnit(units[i]) { i += 1 }
            let wordStart = i
            while i < range.upperBound, Self.isWordUnit(units[i]) { i += 1 }
            return i > wordStart ? wordStart..<i : nil
        }
        // The cheap test first, with nothing allocated: one of the first two words is a
        // label's first word.
        guard let first = nextWord(from: range.lowerBound) else { return nil }
        let second = nextWord(from: first.upperBound)
        func beginsLabel(_ word: Range<Int>?) -> Bool {
            guard let word, let key = Self.asciiKey(Self.droppingElision(units[word])) else { return false }
            return isLabelInitial(key)
        }
        guard beginsLabel(first) || beginsLabel(second) else { return nil }
        var words: [Range<Int>] = [first]
        while words.count < longest + 4, let word = nextWord(from: words[words.count - 1].upperBound) { words.append(word) }
        var folded = words.map { Classifier.foldWord(String(decoding: Self.droppingElision(units[$0]), as: UTF16.self)) }
        while let first = folded.first, fillers.contains(first) { folded.removeFirst() }
        guard let label = labels.first(where: { folded.starts(with: $0.words) }) else { return nil }
        if !label.agent { return .caller }
        folded.removeFirst(label.words.count)
        while let first = folded.first, fillers.contains(first) { folded.removeFirst() }
        return folded.first.map(agentVerbs.contains) == true ? .agentAct : nil
    }

    /// "l'agente" → "agente": French and Creole elide the article onto the label.
    private static func droppingElision(_ word: ArraySlice<UInt16>) -> ArraySlice<UInt16> {
        if word.count > 2, let apostrophe = word.dropFirst().first(where: { $0 == 0x27 || $0 == 0x2019 }),
           let at = word.firstIndex(of: apostrophe), at - word.startIndex <= 2 {
            return word[(at + 1)...]
        }
        return word
    }

    /// The hash of a word of Latin letters lowercased, Latin-1 accents dropped and doubled
    /// letters squashed, as folding would (labels are keyed from their folded form); nil for
    /// any other word, which no label begins with.
    private static func asciiKey(_ word: ArraySlice<UInt16>) -> UInt64? {
        var key: UInt64 = 0xcbf2_9ce4_8422_2325
        var last: UInt8 = 0
        for unit in word {
            let letter: UInt8
            switch unit {
            case 0x41...0x5A: letter = UInt8(unit + 0x20)
            case 0x61...0x7A: letter = UInt8(unit)
            case 0xC0...0xFF:
                guard let base = latin1Base[Int(unit - 0xC0)] else { return nil }
                letter = base
            default: return nil
            }
            if letter != last { key = (key ^ UInt64(letter)) &* 0x100_0000_01b3 }
            last = letter
        }
        return key
    }

    /// The base letter of U+00C0…U+00FF, lowercased; nil ("_") for Æ, Ð, ×, Ø, Þ, ß and their
    /// lowercase forms, which folding does not reduce to one letter.
    private static let latin1Base: [UInt8?] =
        ("aaaaaa_ceeeeiiii_nooooo_ouuuuy__" + "aaaaaa_ceeeeiiii_nooooo_ouuuuy_y").map { $0 == "_" ? nil : $0.asciiValue }

    /// Where a sentence ends: a line break or `.`, `?`, `!`, `…`, `。` (``isTurnStart(_:in:)``
    /// reads the same set before a label).
    private static func isSentenceEnd(_ unit: UInt16) -> Bool {
        switch unit {
        case 0x0A, 0x0D, 0x2E, 0x3F, 0x21, 0x2026, 0x3002: return true
        default: return false
        }
    }

    /// A summary's sentence also ends at a semicolon: "Agent asks if she is safe; caller says…".
    private static func endsSentence(_ unit: UInt16) -> Bool { isSentenceEnd(unit) || unit == 0x3B }

    /// The offset of the first unit from `start` on that ``endsSentence(_:)``, or the count.
    /// Every message goes through this scan, so it reads through a pointer.
    static func sentenceEnd(_ units: UnsafeBufferPointer<UInt16>, from start: Int) -> Int {
        var i = start
        while i < units.count, !endsSentence(units[i]) { i &+= 1 }
        return i
    }

    /// The turns an agent speaks: from an agent label to the next label of either side, or
    /// to the end.
    ///
    /// A label counts only where a turn can begin (the start of the text, a line or a
    /// sentence) and when a colon follows it (a number may follow the label: "Operador 2:").
    /// A text is a transcript only when it has turns of both sides: "le escribí a la
    /// línea: mi esposo me pega" or "el agente: me pidió sexo" are the person's own words.
    func turnRegions(_ units: [UInt16]) -> [Range<Int>] {
        guard !labels.isEmpty, units.contains(where: Self.isColon) else { return [] }
        var turns: [(start: Int, agent: Bool)] = []
        for (colon, unit) in units.enumerated() where Self.isColon(unit) {
            var words = Self.words(before: colon, in: units, count: longest + 1)
            if let last = words.last, units[last].allSatisfy({ (0x30...0x39).contains($0) }) { words.removeLast() }
            // Most colons (times, links, "dijo:") have no turn start before them: checked
            // before any word is folded.
            let longestAtTurnStart = words.indices.first { Self.isTurnStart(words[$0].lowerBound, in: units) }.map { words.count - $0 }
            guard let longestAtTurnStart else { continue }
            let folded = words.suffix(longestAtTurnStart).map { Classifier.foldWord(String(decoding: units[$0], as: UTF16.self)) }
            for label in labels where label.words.count <= folded.count {
                let start = words[words.count - label.words.count].lowerBound
                if Self.isTurnStart(start, in: units), Array(folded.suffix(label.words.count)) == label.words {
                    turns.append((start, label.agent))
                    break
                }
            }
        }
        guard turns.contains(where: \.agent), turns.contains(where: { !$0.agent }) else { return [] }
        var regions: [Range<Int>] = []
        for (k, turn) in turns.enumerated() where turn.agent {
            let end = k + 1 < turns.count ? turns[k + 1].start : units.count
            if turn.start < end { regions.append(turn.start..<end) }
        }
        return regions
    }

    static func isColon(_ unit: UInt16) -> Bool { unit == 0x3A || unit == 0xFF1A }

    /// Spaces within a line: French typography puts a no-break space before a colon.
    static func isLineSpace(_ unit: UInt16) -> Bool {
        unit == 0x20 || unit == 0x09 || unit == 0xA0 || unit == 0x202F || (0x2000...0x200A).contains(unit)
    }

    /// Whether a turn can begin at `start`: the start of the text, of a line, or of a
    /// sentence (after `.`, `?`, `!`, `…`).
    static func isTurnStart(_ start: Int, in units: [UInt16]) -> Bool {
        var i = start
        while i > 0, isLineSpace(units[i - 1]) { i -= 1 }
        return i == 0 || isSentenceEnd(units[i - 1])
    }

    /// Up to `count` words right before `colon` (spaces between them and the colon only), in
    /// text order; stops at punctuation or a line break, where a label would begin.
    static func words(before colon: Int, in units: [UInt16], count: Int) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var i = colon
        while words.count < count {
            while i > 0, isLineSpace(units[i - 1]) { i -= 1 }
            let end = i
            while i > 0, isWordUnit(units[i - 1]) { i -= 1 }
            if i == end { break }
            words.append(i..<end)
        }
        return words.reversed()
    }

    private static func isWordUnit(_ unit: UInt16) -> Bool {
        switch unit {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x27, 0x2019: return true
        case 0xC0...0x24F: return unit != 0xD7 && unit != 0xF7
        default: return unit >= 0x250 && unit != 0x2026 && unit != 0x3002 && unit != 0xFF1A && !(0x2000...0x206F).contains(unit)
        }
    }
}
