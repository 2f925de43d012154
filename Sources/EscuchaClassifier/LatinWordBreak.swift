/// ICU's word break rules (root locale, ICU 72) restricted to the characters most
/// messages are made of: ASCII, Latin-1, Latin Extended-A and a few typographic
/// punctuation marks. Opening ICU's iterator on every message costs more than the rest of
/// classification, so text made only of these characters is segmented here, and the
/// tokenizer hands ICU only the space-delimited pieces that contain anything else.
///
/// Verified against ICU for every string of up to five characters over one
/// representative of each class, and every covered character in context
/// (`LatinWordBreakTests`).
enum LatinWordBreak {
    /// Word_Break classes as ICU's root rules use them.
    enum Class: UInt8 {
        case other, letter, numeric, midLetter, midNumLet, singleQuote, midNum, extendNumLet
        case space, carriageReturn, lineFeed, newline
        /// Not covered: a piece containing it goes to ICU.
        case unsupported
    }

    /// Classes of the units below 0x180. Hot loops hold a copy and pass its buffer, so they
    /// do not pay the lazy-static check per unit.
    static let table: [Class] = {
        var table = [Class](repeating: .unsupported, count: 0x180)
        for u in 0..<0x180 { table[u] = computeClass(UInt16(u)) }
        return table
    }()

    private static func computeClass(_ u: UInt16) -> Class {
        switch u {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        // ICU 72's root rules treat `@` as a letter (e-mail addresses stay one word).
        case 0x40: return .letter
        case 0x30...0x39: return .numeric
        case 0x2E: return .midNumLet
        case 0x27: return .singleQuote
        case 0x2C, 0x3B: return .midNum
        case 0x5F: return .extendNumLet
        case 0x20: return .space
        case 0x0D: return .carriageReturn
        case 0x0A: return .lineFeed
        case 0x0B, 0x0C: return .newline
        case 0x00..<0x80: return .other
        // C1 controls include NEL (a newline); soft hyphen is a format character.
        case 0x80..<0xA0, 0xAD: return .unsupported
        case 0xB7: return .midLetter
        case 0xAA, 0xB5, 0xBA: return .letter
        case 0xD7, 0xF7: return .other
        case 0xC0..<0x180: return .letter
        default: return .other
        }
    }

    /// The class of a UTF-16 code unit.
    static func unitClass(_ u: UInt16) -> Class {
        table.withUnsafeBufferPointer { unitClass(u, $0) }
    }

    /// The class of a UTF-16 code unit, with `classes` the buffer of `table`.
    @inline(__always)
    static func unitClass(_ u: UInt16, _ classes: UnsafeBufferPointer<Class>) -> Class {
        if u < 0x180 { return classes[Int(u)] }
        switch u {
        case 0x2018, 0x2019: return .midNumLet
        case 0x2013, 0x2014, 0x201C, 0x201D, 0x2026: return .other
        default: return .unsupported
        }
    }

    /// Whether every unit of `units[start..<end]` is covered.
    static func isCovered(_ units: UnsafeBufferPointer<UInt16>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        while i < end {
            if unitClass(units[i]) == .unsupported { return false }
            i += 1
        }
        return true
    }

    /// The end of the segment that starts at `start` (before `end`), and whether ICU would
    /// give it a word status (letters or numbers, rule status ≥ 100).
    /// Every unit in `units[start..<end]` must be covered.
    static func segment(_ units: UnsafeBufferPointer<UInt16>, from start: Int, end: Int) -> (end: Int, isWord: Bool) {
        table.withUnsafeBufferPointer { segment(units, from: start, end: end, classes: $0) }
    }

    /// `segment`, with `classes` the buffer of `table`.
    @inline(__always)
    static func segment(_ units: UnsafeBufferPointer<UInt16>, from start: Int, end: Int, classes: UnsafeBufferPointer<Class>) -> (end: Int, isWord: Bool) {
        func unitClass(_ u: UInt16) -> Class { LatinWordBreak.unitClass(u, classes) }
        let first = unitClass(units[start])
        var j = start + 1
        switch first {
        case .carriageReturn:
            if j < end, unitClass(units[j]) == .lineFeed { j += 1 }
            return (j, false)
        case .space:
            while j < end, unitClass(units[j]) == .space { j += 1 }
            return (j, false)
        case .letter, .numeric, .extendNumLet:
            var previous = first
            while j < end {
                let c = unitClass(units[j])
                if c == .letter || c == .numeric || c == .extendNumLet {
                    previous = c
                    j += 1
                    continue
                }
                // Letters join across `'`, `.`, `·`; numbers across `'`, `.`, `,`, `;`.
                if j + 1 < end {
                    let after = unitClass(units[j + 1])
                    if previous == .letter, after == .letter, c == .midLetter || c == .midNumLet || c == .singleQuote {
                        j += 2
                        continue
                    }
                    if previous == .numeric, after == .numeric, c == .midNum || c == .midNumLet || c == .singleQuote {
                        j += 2
                        continue
                    }
                }
                break
            }
            // A lone `_` is punctuation; `__`, `_a`, `a_` are words.
            return (j, first != .extendNumLet || j - start > 1)
        default:
            return (j, false)
        }
    }
}
