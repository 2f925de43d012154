/// A word of a message after normalisation, with its place in the original text.
struct Token: Sendable {
    /// UTF-16 offsets of the word in the original text.
    var start: Int32
    var end: Int32
    /// Sentences end at `.`, `!`, `?`, `;` and line breaks.
    var sentence: Int32
    /// Clauses also end at commas, colons and brackets; negation does not cross them.
    var clause: Int32
    /// The word in the tokenizer's word table, or -1 for a word no lexicon knows.
    var word: Int32
    /// The folded bytes in `TokenBuffer.text`, for words no lexicon knows.
    var textStart: Int32
    var textEnd: Int32
    /// `ByteStringTable.hash` of the folded word (the risk model's word feature).
    var hash: UInt64
}

/// What the tokenizer learnt about a text besides its words.
struct TextFacts: Sendable {
    var hasQuestionMark = false
    /// Counts of letters per ISO 15924 script, for script detection (non-Latin text only).
    var scripts: [String: Int] = [:]
    /// Counts per character of `Tokenizer.hintCharacters`, by index.
    var letterHints = [Int32](repeating: 0, count: Tokenizer.hintCharacters.count)

    mutating func reset() {
        hasQuestionMark = false
        if !scripts.isEmpty { scripts = [:] }
        for i in letterHints.indices { letterHints[i] = 0 }
    }
}

/// Buffers for one message at a time, reused across messages so tokenizing allocates
/// nothing once they have grown. A value passed `inout`, so the hot loops pay no dynamic
/// exclusivity checks.
struct TokenBuffer: Sendable {
    /// The message in UTF-16 (evidence offsets are UTF-16).
    var units: [UInt16] = []
    /// Folded bytes of the words no lexicon knows: `text[..<textCount]`. The array only
    /// grows (zero-filled), so the tokenizer writes parts through one pointer instead of
    /// appending byte by byte.
    var text: [UInt8] = []
    var textCount = 0
    var tokens: [Token] = []
    var facts = TextFacts()
    /// Opened on the first text ICU has to segment.
    private let breaker = LazyWordBreaker()

    init() {
        units.reserveCapacity(1024)
        text.reserveCapacity(1024)
        tokens.reserveCapacity(256)
    }

    var wordBreakerSource: LazyWordBreaker { breaker }

    /// Copies `text` into `units` as UTF-16.
    mutating func load(_ string: String) {
        var units = self.units
        self.units = []
        units.removeAll(keepingCapacity: true)
        defer { self.units = units }
        var string = string
        string.withUTF8 { utf8 in
            let n = utf8.count
            // A text has at most as many UTF-16 units as UTF-8 bytes: size once, write
            // through a pointer, trim.
            units.append(contentsOf: repeatElement(0, count: n))
            let written = units.withUnsafeMutableBufferPointer { out -> Int in
                var i = 0
                var o = 0
                // Swift strings hold valid UTF-8, so sequences need no checking.
                while i < n {
                    // Most text is ASCII: widen eight bytes at a time while they are.
                    if n - i >= 8 {
                        let eight = UInt64(littleEndian: UnsafeRawPointer(utf8.baseAddress! + i).loadUnaligned(as: UInt64.self))
                        if eight & 0x8080_8080_8080_8080 == 0 {
                            for k in 0..<8 { out[o + k] = UInt16(truncatingIfNeeded: eight >> UInt64(8 * k)) & 0xFF }
                            o += 8
                            i += 8
                            continue
                        }
                    }
                    let b0 = UInt32(utf8[i])
                    if b0 < 0x80 {
                        out[o] = UInt16(b0)
                        o += 1
                        i += 1
                    } else if b0 < 0xE0 {
                        out[o] = UInt16(((b0 & 0x1F) << 6) | (UInt32(utf8[i + 1]) & 0x3F))
                        o += 1
                        i += 2
                    } else if b0 < 0xF0 {
                        out[o] = UInt16(((b0 & 0x0F) << 12) | ((UInt32(utf8[i + 1]) & 0x3F) << 6) | (UInt32(utf8[i + 2]) & 0x3F))
                        o += 1
                        i += 3
                    } else {
                        let scalar = ((b0 & 0x07) << 18) | ((UInt32(utf8[i + 1]) & 0x3F) << 12) | ((UInt32(utf8[i + 2]) & 0x3F) << 6)
                            | (UInt32(utf8[i + 3]) & 0x3F)
                        let v = scalar - 0x10000
                        out[o] = UInt16(0xD800 + (v >> 10))
                        out[o + 1] = UInt16(0xDC00 + (v & 0x3FF))
                        o += 2
                        i += 4
                    }
                }
                return o
            }
            units.removeLast(n - written)
        }
    }

    /// Grows `text` so that `count` more bytes fit after `textCount`.
    @inline(__always)
    mutating func ensureText(_ count: Int) {
        let need = textCount + count
        if text.count < need { text.append(contentsOf: repeatElement(0, count: max(need, 2 * text.count) - text.count)) }
    }

    /// The folded text of a token.
    func string(of token: Token, words: ByteStringTable) -> String {
        if token.word >= 0 { return words.string(token.word) }
        return String(decoding: text[Int(token.textStart)..<Int(token.textEnd)], as: UTF8.self)
    }
}

/// A word break iterator opened on first use: most messages never need ICU's.
// @unchecked: lives in one TokenBuffer, which one classification uses at a time.
final class LazyWordBreaker: @unchecked Sendable {
    private var breaker: WordBreaker?

    var value: WordBreaker {
        if let breaker { return breaker }
        guard let fresh = try? WordBreaker() else {
            fatalError("ICU cannot open a word break iterator: the ICU data library is missing")
        }
        breaker = fresh
        return fresh
    }
}

/// Splits text into normalised tokens with ICU's word break rules.
///
/// Normalisation: NFKC case folding, diacritics removed, apostrophes split
/// (`l'hôpital` → `l` `hopital`), runs of a repeated letter squashed to one
/// (`ayudaaaa` → `ayuda`, and also `llamar` → `lamar`: lexicons go through the same
/// steps, so both sides agree), digits inside words read as letters (`m4t4r` → `matar`),
/// and SMS abbreviations expanded from the lexicons (`xq` → `porque`).
///
/// Words every lexicon knows are numbered in `words`, so later stages work on integers.
/// Text made of Latin characters is segmented by `LatinWordBreak` and folded through a
/// table; only pieces with other characters go through ICU.
struct Tokenizer: Sendable {
    /// Known words: abbreviations, their expansions, and whatever the classifier adds.
    private(set) var words = ByteStringTable()
    /// Per word: its expansion in `expansionWords`; count -1 when it is not an abbreviation.
    private var expansionStart: [Int32] = []
    private var expansionCount: [Int32] = []
    private var expansionWords: [Int32] = []
    // The static tables, held here so the hot loop reads them without a once-check.
    private let foldStarts = Tokenizer.latinFold.starts
    private let foldBytes = Tokenizer.latinFold.bytes
    private let hintIndex = Tokenizer.hintIndexTable
    private let wordBreakClasses = LatinWordBreak.table

    /// Characters that hint at a language, looked for before folding removes them.
    static let hintCharacters: [Character] = ["ñ", "ã", "õ", "ç", "è", "ò", "ê", "â", "ô", "à", "ù", "û", "î", "ï", "ë", "œ", "¿", "¡", "é", "á", "í", "ó", "ú"]

    /// The index in `hintCharacters` of a code unit below 0x250, or -1. Latin-1 upper-case
    /// letters À–Þ count as their lower case (they differ by 0x20).
    private static let hintIndexTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 0x250)
        for unit in 0..<0x250 {
            let lower = (unit >= 0xC0 && unit <= 0xDE && unit != 0xD7) ? unit | 0x20 : unit
            if let i = hintCharacters.firstIndex(where: { $0.utf16.first == UInt16(lower) }) { table[unit] = Int8(i) }
        }
        return table
    }()

    /// ICU's folding of each code unit below 0x180, as UTF-8. Folding is per character in
    /// this range (no character composes with another), so a word folds piece by piece.
    private static let latinFold: (starts: [Int32], bytes: [UInt8]) = {
        var starts: [Int32] = [0]
        var bytes: [UInt8] = []
        for unit in 0..<0x180 {
            if LatinWordBreak.unitClass(UInt16(unit)) != .unsupported {
                let folded = [UInt16(unit)].withUnsafeBufferPointer { ICUText.foldForMatching($0) }
                bytes += Array(String(decoding: folded, as: UTF16.self).utf8)
            }
            starts.append(Int32(bytes.count))
        }
        return (starts, bytes)
    }()

    /// The most bytes one unit below 0x180 folds to (ASCII: 1).
    static let latinFoldMaxBytes: Int = {
        let starts = latinFold.starts
        return max(1, (0..<starts.count - 1).map { Int(starts[$0 + 1] - starts[$0]) }.max() ?? 1)
    }()

    /// Adds a known word (already folded) and returns its number.
    @discardableResult
    mutating func addWord(_ word: String) -> Int32 {
        let index = words.insert(word)
        while expansionCount.count < words.count {
            expansionStart.append(0)
            expansionCount.append(-1)
        }
        return index
    }

    /// Adds an abbreviation (both sides folded); the first one for a word wins.
    mutating func addAbbreviation(_ from: String, expansion: [String]) {
        let index = addWord(from)
        if expansionCount[Int(index)] >= 0 { return }
        let parts = expansion.map { addWord($0) }
        words.mark(index)
        expansionStart[Int(index)] = Int32(expansionWords.count)
        expansionCount[Int(index)] = Int32(parts.count)
        expansionWords += parts
    }

    /// Tokenizes `string` into `buffer`.
    func tokenize(_ string: String, into buffer: inout TokenBuffer) {
        buffer.load(string)
        tokenize(&buffer)
    }

    /// Tokenizes `buffer.units` into `buffer.tokens`.
    func tokenize(_ buffer: inout TokenBuffer) {
        buffer.tokens.removeAll(keepingCapacity: true)
        buffer.textCount = 0
        // Table-folded parts never need more than this; ICU-folded ones grow the array.
        buffer.ensureText(buffer.units.count * Self.latinFoldMaxBytes)
        buffer.facts.reset()
        var state = State()
        let units = buffer.units
        let breaker = buffer.wordBreakerSource
        units.withUnsafeBufferPointer { units in
            wordBreakClasses.withUnsafeBufferPointer { classes in
                Self.forEachPiece(units) { start in
                    // Most pieces are one word of ASCII letters: fold it while looking for
                    // the piece's end, so such a word is read once.
                    let textStart = buffer.textCount
                    let scan = buffer.text.withUnsafeMutableBufferPointer { Self.foldLetters(units, from: start, to: $0, at: textStart) }
                    if scan.isWord {
                        appendToken(start, scan.end, textStart: textStart, textEnd: scan.textEnd, hash: scan.hash, state: state, buffer: &buffer)
                    } else {
                        forEachSegment(inPiece: units, start, scan.end, classes: classes, breaker: breaker, skipPictographs: true) { start, end, isWord in
                            handleSegment(units, start, end, isWord: isWord, state: &state, buffer: &buffer)
                        }
                    }
                    return scan.end
                }
            }
        }
    }

    /// Calls `body` with the start of each piece of text between plain spaces; `body`
    /// returns the piece's end.
    @inline(__always)
    private static func forEachPiece(_ units: UnsafeBufferPointer<UInt16>, _ body: (_ start: Int) -> Int) {
        var i = 0
        while i < units.count {
            if units[i] == 0x20 {
                i += 1
            } else {
                i = body(i)
            }
        }
    }

    /// Folds the run of ASCII letters at `units[start...]` (lower case, repeated letters
    /// squashed, as `appendWord` would) into `out[base...]`. When the run is the whole
    /// space-delimited piece (`LatinWordBreak.segment` gives it one word), returns the
    /// piece's end, `isWord`, the folded end and its `ByteStringTable` hash; otherwise only
    /// the piece's end.
    @inline(__always)
    static func foldLetters(_ units: UnsafeBufferPointer<UInt16>, from start: Int, to out: UnsafeMutableBufferPointer<UInt8>, at base: Int)
        -> (end: Int, isWord: Bool, textEnd: Int, hash: UInt64)
    {
        let n = units.count
        var hasher = ByteStringTable.Hasher()
        var o = base
        var previous: UInt8 = 0
        var i = start
        while i < n {
            let unit = units[i]
            if (unit | 0x20) &- 0x61 >= 26 { break }
            let b = UInt8(truncatingIfNeeded: unit) | 0x20
            i += 1
            if b == previous { continue }
            out[o] = b
            o += 1
            previous = b
            hasher.add(b)
        }
        if i == n || units[i] == 0x20 { return (i, true, o, hasher.finish()) }
        while i < n, units[i] != 0x20 { i += 1 }
        return (i, false, base, 0)
    }

    /// Calls `body` with each segment `[start, end)` of `buffer.units` and whether it is a
    /// word, as ICU's word break iterator would over the whole text, except that runs of
    /// plain spaces may be skipped (they are neither words nor sentence or clause marks).
    func forEachSegment(_ buffer: TokenBuffer, _ body: (Int, Int, Bool) -> Void) {
        buffer.units.withUnsafeBufferPointer { units in
            wordBreakClasses.withUnsafeBufferPointer { classes in
                Self.forEachPiece(units) { start in
                    var end = start
                    while end < units.count, units[end] != 0x20 { end += 1 }
                    forEachSegment(inPiece: units, start, end, classes: classes, breaker: buffer.wordBreakerSource, skipPictographs: false, body)
                    return end
                }
            }
        }
    }

    /// The segments of the space-delimited piece `units[start..<end]`.
    ///
    /// `skipPictographs`: pieces made only of emoji and pictographs (`isPictographic`) may be
    /// skipped: ICU gives their segments no word status and they hold no sentence or
    /// clause mark, so tokens do not change, and such pieces are most of what ICU is
    /// opened for.
    @inline(__always)
    private func forEachSegment(
        inPiece units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, classes: UnsafeBufferPointer<LatinWordBreak.Class>,
        breaker: LazyWordBreaker, skipPictographs: Bool, _ body: (Int, Int, Bool) -> Void
    ) {
        var covered = true
        for k in start..<end where LatinWordBreak.unitClass(units[k], classes) == .unsupported {
            covered = false
            break
        }
        if covered {
            var from = start
            while from < end {
                let (to, isWord) = LatinWordBreak.segment(units, from: from, end: end, classes: classes)
                body(from, to, isWord)
                from = to
            }
        } else if skipPictographs, Self.isPictographic(units, start, end) {
            // Nothing to tokenize.
        } else {
            // ICU breaks before and after a run of spaces unless a combining mark
            // follows it, so the piece with the spaces before it segments as it
            // would within the whole text.
            var from = start
            while from > 0, units[from - 1] == 0x20 { from -= 1 }
            let piece = UnsafeBufferPointer(rebasing: units[from..<end])
            breaker.value.segments(of: piece) { segmentStart, segmentEnd, status in
                body(from + segmentStart, from + segmentEnd, status >= 100)
            }
        }
    }

    /// Whether `units[start..<end]` holds only emoji and pictographs, joiners, variation
    /// selector 16 and skin tones: characters whose every ICU word segment has no word
    /// status (checked against ICU for every one by `PictographTests`).
    static func isPictographic(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        while i < end {
            let unit = units[i]
            var value = UInt32(unit)
            if UTF16.isLeadSurrogate(unit) {
                guard i + 1 < end, UTF16.isTrailSurrogate(units[i + 1]) else { return false }
                value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(units[i + 1]) - 0xDC00)
                i += 1
            }
            i += 1
            guard pictographRanges.contains(where: { $0.contains(value) }) else { return false }
        }
        return true
    }

    /// See `isPictographic`.
    static let pictographRanges: [ClosedRange<UInt32>] = [
        0x200D...0x200D, 0xFE0F...0xFE0F, 0x2600...0x27BF, 0x1F1E6...0x1F1FF, 0x1F300...0x1F64F, 0x1F680...0x1F6FF, 0x1F900...0x1F9FF,
        0x1FA70...0x1FAFF,
    ]

    private struct State {
        var sentence: Int32 = 0
        var clause: Int32 = 0
    }

    @inline(__always)
    private func handleSegment(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, isWord: Bool, state: inout State, buffer: inout TokenBuffer) {
        if isWord {
            appendWord(units, start, end, state: state, buffer: &buffer)
            return
        }
        // Spaces, punctuation, symbols, emoji.
        for i in start..<end {
            switch units[i] {
            case 0x2E, 0x21, 0x3F, 0x3B, 0x0A, 0x0D, 0xBF, 0xA1, 0x2026:  // . ! ? ; \n \r ¿ ¡ …
                if units[i] == 0x3F || units[i] == 0xBF { buffer.facts.hasQuestionMark = true }
                state.sentence += 1
                state.clause += 1
            case 0x2C, 0x3A, 0x28, 0x29, 0x2D, 0x2014, 0x2013:  // , : ( ) - — –
                if units[i] != 0x2D || end - start > 1 || isSpaceAround(units, i) { state.clause += 1 }
            default:
                break
            }
        }
    }

    private func isSpaceAround(_ units: UnsafeBufferPointer<UInt16>, _ i: Int) -> Bool {
        (i > 0 && units[i - 1] == 0x20) || (i + 1 < units.count && units[i + 1] == 0x20)
    }

    private func appendWord(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, state: State, buffer: inout TokenBuffer) {
        // Split at apostrophes: ' ’ ʼ `
        var partStart = start
        var i = start
        while i <= end {
            if i == end || units[i] == 0x27 || units[i] == 0x2019 || units[i] == 0x02BC || units[i] == 0x60 {
                if i > partStart { appendPart(units, partStart, i, state: state, buffer: &buffer) }
                partStart = i + 1
            }
            i += 1
        }
    }

    private func appendPart(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, state: State, buffer: inout TokenBuffer) {
        let textStart = buffer.textCount
        var maxUnit: UInt16 = 0
        for i in start..<end where units[i] > maxUnit { maxUnit = units[i] }
        let textEnd: Int
        let hash: UInt64
        if maxUnit < 0x80 {
            // `tokenize` sized `text` for every unit of the message.
            (textEnd, hash) = buffer.text.withUnsafeMutableBufferPointer { Self.writeASCII(units, start, end, to: $0, at: textStart) }
        } else {
            if maxUnit < 0x180 {
                for i in start..<end {
                    let hint = hintIndex[Int(units[i])]
                    if hint >= 0 { buffer.facts.letterHints[Int(hint)] += 1 }
                }
                let starts = foldStarts
                let bytes = foldBytes
                buffer.textCount = buffer.text.withUnsafeMutableBufferPointer { out in
                    var o = textStart
                    for i in start..<end {
                        let unit = Int(units[i])
                        for k in Int(starts[unit])..<Int(starts[unit + 1]) {
                            out[o] = bytes[k]
                            o += 1
                        }
                    }
                    return o
                }
            } else {
                let slice = UnsafeBufferPointer(rebasing: units[start..<end])
                noteScriptsAndHints(slice, facts: &buffer.facts)
                let folded = ICUText.foldForMatching(slice)
                var string = String(decoding: folded, as: UTF16.self)
                string.withUTF8 { utf8 in
                    buffer.ensureText(utf8.count)
                    buffer.text.withUnsafeMutableBufferPointer { out in
                        for (k, byte) in utf8.enumerated() { out[textStart + k] = byte }
                    }
                    buffer.textCount = textStart + utf8.count
                }
            }
            let count = buffer.textCount
            textEnd = buffer.text.withUnsafeMutableBufferPointer { Self.squashAndDeleet($0, from: textStart, to: count) }
            hash = buffer.text.withUnsafeBufferPointer { ByteStringTable.hash(UnsafeBufferPointer(rebasing: $0[textStart..<textEnd])) }
        }
        appendToken(start, end, textStart: textStart, textEnd: textEnd, hash: hash, state: state, buffer: &buffer)
    }

    /// Looks up the folded part `text[textStart..<textEnd]` and appends its token, or the
    /// tokens of its expansion.
    @inline(__always)
    private func appendToken(_ start: Int, _ end: Int, textStart: Int, textEnd: Int, hash: UInt64, state: State, buffer: inout TokenBuffer) {
        buffer.textCount = textEnd
        if textEnd == textStart { return }
        let found = buffer.text.withUnsafeBufferPointer { words.find(UnsafeBufferPointer(rebasing: $0[textStart..<textEnd]), hash: hash) }
        let word = found.index
        // Abbreviations are marked in the table, so other words read no expansion list.
        if found.isMarked {
            buffer.textCount = textStart
            let first = Int(expansionStart[Int(word)])
            for k in first..<first + Int(expansionCount[Int(word)]) {
                buffer.tokens.append(Token(
                    start: Int32(start), end: Int32(end), sentence: state.sentence, clause: state.clause,
                    word: expansionWords[k], textStart: 0, textEnd: 0, hash: words.hash(of: expansionWords[k])))
            }
        } else {
            buffer.tokens.append(Token(
                start: Int32(start), end: Int32(end), sentence: state.sentence, clause: state.clause,
                word: word, textStart: Int32(textStart), textEnd: Int32(textEnd), hash: hash))
        }
    }

    /// Folds an ASCII word (lower case), reads digits as letters and squashes repeated
    /// letters in one pass, as `squashAndDeleet` would after folding; writes the result to
    /// `out[at...]` and returns its end and its `ByteStringTable` hash.
    @inline(__always)
    static func writeASCII(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, to out: UnsafeMutableBufferPointer<UInt8>, at base: Int) -> (end: Int, hash: UInt64) {
        @inline(__always) func lower(_ unit: UInt16) -> UInt8 {
            let b = UInt8(truncatingIfNeeded: unit)
            return b >= 0x41 && b <= 0x5A ? b + 32 : b
        }
        var hasDigit = false
        var hasLetter = false
        for i in start..<end {
            let b = lower(units[i])
            if b >= 0x30 && b <= 0x39 { hasDigit = true } else if b >= 0x61 && b <= 0x7A { hasLetter = true }
        }
        let deleet = hasDigit && hasLetter
        var hasher = ByteStringTable.Hasher()
        var o = base
        for i in start..<end {
            var b = lower(units[i])
            if deleet { b = Self.letter(forDigit: b) }
            if b >= 0x61 && b <= 0x7A, o > base, out[o - 1] == b { continue }
            out[o] = b
            o += 1
            hasher.add(b)
        }
        return (o, hasher.finish())
    }

    /// `writeASCII` appending to an array; returns the array's new end.
    static func appendASCII(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int, to text: inout [UInt8]) -> Int {
        let base = text.count
        text.append(contentsOf: repeatElement(0, count: end - start))
        let written = text.withUnsafeMutableBufferPointer { writeASCII(units, start, end, to: $0, at: base).end }
        text.removeLast(text.count - written)
        return written
    }

    private func noteScriptsAndHints(_ slice: UnsafeBufferPointer<UInt16>, facts: inout TextFacts) {
        var i = 0
        while i < slice.count {
            let unit = slice[i]
            if unit < 0x250 {
                let hint = hintIndex[Int(unit)]
                if hint >= 0 { facts.letterHints[Int(hint)] += 1 }
                i += 1
                continue
            }
            var value = UInt32(unit)
            if UTF16.isLeadSurrogate(unit), i + 1 < slice.count, UTF16.isTrailSurrogate(slice[i + 1]) {
                value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(slice[i + 1]) - 0xDC00)
                i += 1
            }
            i += 1
            guard let scalar = Unicode.Scalar(value), !ICUText.isNonspacingMark(scalar) else { continue }
            facts.scripts[ICUText.script(of: scalar), default: 0] += 1
        }
    }

    /// Squashes runs of a repeated letter and reads digits inside words as letters, in
    /// place on `bytes[start...]`; returns the new end (the bytes after it are removed).
    static func squashAndDeleet(_ bytes: inout [UInt8], from start: Int) -> Int {
        let count = bytes.count
        let out = bytes.withUnsafeMutableBufferPointer { squashAndDeleet($0, from: start, to: count) }
        bytes.removeSubrange(out...)
        return out
    }

    /// `squashAndDeleet` on `bytes[start..<end]`; returns the new end.
    static func squashAndDeleet(_ bytes: UnsafeMutableBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var hasDigit = false
        var hasLetter = false
        for i in start..<end {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 { hasDigit = true } else if b >= 0x61 && b <= 0x7A || b >= 0x80 { hasLetter = true }
        }
        var out = start
        for i in start..<end {
            var b = bytes[i]
            if hasDigit && hasLetter { b = letter(forDigit: b) }
            let isLetter = (b >= 0x61 && b <= 0x7A)
            if isLetter, out > start, bytes[out - 1] == b { continue }
            bytes[out] = b
            out += 1
        }
        return out
    }

    /// The letter a digit stands for inside a word (`m4t4r`), or the byte itself.
    @inline(__always)
    static func letter(forDigit b: UInt8) -> UInt8 {
        switch b {
        case UInt8(ascii: "0"): UInt8(ascii: "o")
        case UInt8(ascii: "1"): UInt8(ascii: "i")
        case UInt8(ascii: "3"): UInt8(ascii: "e")
        case UInt8(ascii: "4"): UInt8(ascii: "a")
        case UInt8(ascii: "5"): UInt8(ascii: "s")
        case UInt8(ascii: "7"): UInt8(ascii: "t")
        default: b
        }
    }

    /// `squashAndDeleet` on a whole word.
    static func squashAndDeleet(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        _ = squashAndDeleet(&bytes, from: 0)
        return bytes
    }
}
