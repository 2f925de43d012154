/// Turns of a hotline transcript written as "Agent: … Caller: …".
///
/// Only the caller's words raise flags (taxonomy.md, labelling rule 7): an operator who asks
/// "has anyone threatened or beaten you?" reports nothing. The labels are data
/// (`Config/lexicon/common.yaml`, `speaker_labels:`), folded like lexicon words.
struct SpeakerLabels: Sendable {
    /// Each label's folded words and whether it names the agent; longest labels first, so
    /// "moun k ap rele a" wins over a shorter label ending the same way.
    private(set) var labels: [(words: [String], agent: Bool)] = []
    /// The most words any label has.
    private(set) var longest = 0

    init(agent: [String] = [], caller: [String] = []) {
        for (names, isAgent) in [(agent, true), (caller, false)] {
            for name in names {
                let words = name.split(separator: " ").map { Classifier.foldWord(String($0)) }.filter { !$0.isEmpty }
                if !words.isEmpty { labels.append((words, isAgent)) }
            }
        }
        labels.sort { $0.words.count > $1.words.count }
        longest = labels.first?.words.count ?? 0
    }

    /// The UTF-16 ranges of `units` the agent speaks: from an agent label to the next label of
    /// either side, or to the end.
    ///
    /// A label counts only where a turn can begin (the start of the text, a line or a
    /// sentence) and when a colon follows it (a number may follow the label: "Operador 2:").
    /// A text is a transcript only when it has turns of both sides: "le escribí a la
    /// línea: mi esposo me pega" or "el agente: me pidió sexo" are the person's own words.
    func agentRegions(_ units: [UInt16]) -> [Range<Int>] {
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
        guard i > 0 else { return true }
        switch units[i - 1] {
        case 0x0A, 0x0D, 0x2E, 0x3F, 0x21, 0x2026, 0x3002: return true
        default: return false
        }
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
