@testable import EscuchaClassifier
import Testing

/// The fast paths against ICU: segmentation of Latin text, segmentation of mixed text in
/// pieces, and the byte-string table the tokenizer numbers words with.
@Suite struct LatinWordBreakTests {
    /// ICU's segments of `units`: (start, end, is a word).
    static func icuSegments(_ units: [UInt16]) -> [[Int]] {
        let breaker = try! WordBreaker()
        var out: [[Int]] = []
        units.withUnsafeBufferPointer { buffer in
            breaker.segments(of: buffer) { start, end, status in out.append([start, end, status >= 100 ? 1 : 0]) }
        }
        return out
    }

    static func latinSegments(_ units: [UInt16]) -> [[Int]] {
        var out: [[Int]] = []
        units.withUnsafeBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                let (end, isWord) = LatinWordBreak.segment(buffer, from: start, end: buffer.count)
                out.append([start, end, isWord ? 1 : 0])
                start = end
            }
        }
        return out
    }

    /// One character of each class ICU's rules distinguish, and a few of each kind of
    /// punctuation the tokenizer looks at.
    static let representatives: [UInt16] = [
        0x61, 0xE9, 0x31, 0x2E, 0x27, 0x3A, 0xB7, 0x2C, 0x3B, 0x5F, 0x40, 0x20, 0x0D, 0x0A, 0x0B, 0x2D, 0x22, 0x3F, 0x09, 0x2019, 0x2026,
    ]

    @Test func everyShortStringSegmentsLikeICU() {
        let r = Self.representatives
        var mismatches: [[UInt16]] = []
        for length in 1...4 {
            var total = 1
            for _ in 0..<length { total *= r.count }
            for x in 0..<total {
                var y = x
                var units: [UInt16] = []
                for _ in 0..<length {
                    units.append(r[y % r.count])
                    y /= r.count
                }
                if Self.latinSegments(units) != Self.icuSegments(units), mismatches.count < 5 { mismatches.append(units) }
            }
        }
        #expect(mismatches.isEmpty)
    }

    @Test func everyCoveredCharacterSegmentsLikeICUInContext() {
        let context: [UInt16] = [0x61, 0x31, 0x2E, 0x27, 0x2C, 0x5F, 0x20, 0x0A, 0x2D]
        var mismatches: [[UInt16]] = []
        for unit in UInt16(0)...UInt16(0x2100) where LatinWordBreak.unitClass(unit) != .unsupported {
            for a in context {
                for b in context {
                    for units in [[a, unit, b], [a, b, unit], [unit, a, unit, b, unit]] {
                        if Self.latinSegments(units) != Self.icuSegments(units), mismatches.count < 5 { mismatches.append(units) }
                    }
                }
            }
        }
        #expect(mismatches.isEmpty)
    }
}

@Suite struct TokenizerTests {
    /// Segments of the tokenizer (Latin pieces by table, the rest by ICU) against ICU over
    /// the whole text, ignoring runs of plain spaces (the tokenizer skips them).
    @Test func mixedTextSegmentsLikeICUOverTheWholeText() {
        let alphabet: [String] = [
            "a", "B", "é", "Ñ", "1", ".", "'", ",", ":", "_", "@", " ", " ", " ", "\n", "\r", "-", "?", "¿", "’", "…",
            "🙏", "👍🏽", "👩‍⚕️", "🇻🇪", "\u{301}", "\u{AD}", "\u{A0}", "\u{200B}", "\u{200D}", "\u{FE0F}", "\u{85}", "\u{2028}",
            "م", "ж", "你", "こ", "カ", "ก", "한", "ש", "\"", "ǅ", "ﬁ", "①",
        ]
        var random = SystemRandomNumberGenerator()
        let tokenizer = Tokenizer()
        var buffer = TokenBuffer()
        var mismatches: [String] = []
        for _ in 0..<20000 {
            let text = (0..<Int.random(in: 1...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
            let units = Array(text.utf16)
            let expected = LatinWordBreakTests.icuSegments(units).filter { !Self.isPlainSpace(units, $0) }
            buffer.load(text)
            #expect(buffer.units == units)
            var got: [[Int]] = []
            tokenizer.forEachSegment(buffer) { start, end, isWord in got.append([start, end, isWord ? 1 : 0]) }
            got = got.filter { !Self.isPlainSpace(units, $0) }
            if got != expected, mismatches.count < 5 { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty)
    }

    static func isPlainSpace(_ units: [UInt16], _ segment: [Int]) -> Bool {
        units[segment[0]..<segment[1]].allSatisfy { $0 == 0x20 }
    }

    /// The tokenizer's tokens against the plain definition: each word segment split at
    /// apostrophes, each part folded by ICU as a whole, squashed, looked up, abbreviations
    /// expanded. Covers the ASCII, table-folded and ICU paths and the word table together.
    @Test func tokensMatchFoldingEachPartByICU() {
        let alphabet: [String] = [
            "a", "A", "b", "l", "L", "o", "x", "q", "e", "é", "Ñ", "ç", "ŉ", "İ", "ß", "0", "1", "3", "4", "'", "’", "ʼ", "`", ".", ",",
            " ", " ", " ", "\n", "-", "?", "🙏", "\u{301}", "ж", "Ж", "你", "ﬁ", "①", "ǅ", "Ω", "م",
            " 😢", " 👍🏽", " 👩‍⚕️", " 🇻🇪", "\u{FE0F}", "\u{200D}", " ☀", "✅", "🄰", "❶",
        ]
        var tokenizer = Tokenizer()
        tokenizer.addAbbreviation("xq", expansion: ["porque"])
        tokenizer.addAbbreviation("q", expansion: ["que"])
        for word in ["a", "la", "lo", "ola", "ex", "exe", "ae", "ж", "fi", "1", "oxo", "alalalalal", "aaaaaaaaab"] { tokenizer.addWord(word) }
        var buffer = TokenBuffer()
        var random = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for _ in 0..<20000 {
            let text = (0..<Int.random(in: 1...16, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
            tokenizer.tokenize(text, into: &buffer)
            let got = buffer.tokens.map { [String($0.start), String($0.end), String($0.word), buffer.string(of: $0, words: tokenizer.words)] }
            var expected: [[String]] = []
            tokenizer.forEachSegment(buffer) { start, end, isWord in
                guard isWord else { return }
                var partStart = start
                for i in start...end where i == end || [0x27, 0x2019, 0x02BC, 0x60].contains(buffer.units[i]) {
                    defer { partStart = i + 1 }
                    guard i > partStart else { continue }
                    let folded = buffer.units[partStart..<i].withUnsafeBufferPointer { ICUText.foldForMatching($0) }
                    let bytes = Tokenizer.squashAndDeleet(Array(String(decoding: folded, as: UTF16.self).utf8))
                    if bytes.isEmpty { continue }
                    let word = tokenizer.words.find(String(decoding: bytes, as: UTF8.self))
                    let expansion = ["xq": ["porque"], "q": ["que"]][String(decoding: bytes, as: UTF8.self)]
                    for part in expansion ?? [String(decoding: bytes, as: UTF8.self)] {
                        let id = expansion == nil ? word : tokenizer.words.find(part)
                        expected.append([String(partStart), String(i), String(id), part])
                    }
                }
            }
            if got != expected, mismatches.count < 5 { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test func latinFoldingMatchesICUFolding() {
        let tokenizer = Tokenizer()
        var buffer = TokenBuffer()
        for unit in UInt16(0xA0)..<UInt16(0x180) where LatinWordBreak.unitClass(unit) == .letter {
            let text = "x" + String(decoding: [unit], as: UTF16.self) + "y"
            tokenizer.tokenize(text, into: &buffer)
            let folded = buffer.tokens.map { buffer.string(of: $0, words: tokenizer.words) }.joined()
            let expected = String(decoding: Tokenizer.squashAndDeleet(Array(ICUText.foldForMatching(text).utf8)), as: UTF8.self)
            #expect(folded == expected, "U+\(String(unit, radix: 16))")
        }
    }

    @Test func squashingAndDigitsWorkInPlace() {
        var bytes = Array("xxayudaaaa".utf8)
        #expect(Tokenizer.squashAndDeleet(&bytes, from: 2) == 7)
        #expect(String(decoding: bytes, as: UTF8.self) == "xxayuda")
        #expect(Tokenizer.squashAndDeleet(Array("m4t4r".utf8)) == Array("matar".utf8))
        #expect(Tokenizer.squashAndDeleet(Array("2024".utf8)) == Array("2024".utf8))
    }

    @Test func abbreviationsExpandToKnownWords() {
        var tokenizer = Tokenizer()
        tokenizer.addAbbreviation("xq", expansion: ["porque"])
        tokenizer.addAbbreviation("xq", expansion: ["ignored"])
        tokenizer.addAbbreviation("nada", expansion: [])
        var buffer = TokenBuffer()
        tokenizer.tokenize("XQ nada ok", into: &buffer)
        #expect(buffer.tokens.map { buffer.string(of: $0, words: tokenizer.words) } == ["porque", "ok"])
        #expect(buffer.tokens.map(\.start) == [0, 8])
        #expect(buffer.tokens[0].word == tokenizer.words.find("porque"))
        #expect(buffer.tokens[1].word == -1)
    }
}

/// The one-pass fold of pieces made of ASCII letters (`Tokenizer.foldLetters`), against
/// ICU segmenting the whole text and folding each part.
@Suite struct LetterFastPathTests {
    /// Tokens as (start, end, word, folded text, sentence, clause) by ICU alone: word
    /// segments of the whole text, split at apostrophes, each part folded, squashed and
    /// looked up. Sentence and clause numbers come from the tokenizer (ICU has none).
    static func icuTokens(_ text: String, _ tokenizer: Tokenizer) -> [[String]] {
        let units = Array(text.utf16)
        var out: [[String]] = []
        for segment in LatinWordBreakTests.icuSegments(units) where segment[2] == 1 {
            var partStart = segment[0]
            for i in segment[0]...segment[1] where i == segment[1] || [0x27, 0x2019, 0x02BC, 0x60].contains(units[i]) {
                defer { partStart = i + 1 }
                guard i > partStart else { continue }
                let folded = units[partStart..<i].withUnsafeBufferPointer { ICUText.foldForMatching($0) }
                let bytes = Tokenizer.squashAndDeleet(Array(String(decoding: folded, as: UTF16.self).utf8))
                if bytes.isEmpty { continue }
                let word = String(decoding: bytes, as: UTF8.self)
                out.append([String(partStart), String(i), String(tokenizer.words.find(word)), word])
            }
        }
        return out
    }

    @Test func tokensMatchICUOnTrickyText() {
        var tokenizer = Tokenizer()
        for word in ["hola", "ayuda", "niño", "nino", "l", "hopital", "matar", "cafe", "a"] { tokenizer.addWord(word) }
        let texts = [
            "hola", "HOLA ayudaaaa", "AyUdAaAa  hola", "niño Niño NIÑO nino", "café cafe\u{301}", "l'hôpital l’hôpital lʼhopital l`hopital",
            "m4t4r MATAR mat4r 2024 a1b2", "ayuda🙏 🙏 ayuda 😢hola", "hola,ayuda.hola;a", "aaaa bbbb a b", "Ωmega hola жизнь hola",
            "hola你好 hola", "hola\u{301}a", "hola-ayuda — hola", "a\u{200D}b hola", "e-mail@host.com hola", "hola\nayuda\r\nhola",
            "LLAMAR llamar", "ﬁn hola", "hola\u{00A0}ayuda", "hola\u{2019}s", "hola_ayuda _ __", "İstanbul hola", "x\u{FE0F} hola",
        ]
        var buffer = TokenBuffer()
        for text in texts {
            tokenizer.tokenize(text, into: &buffer)
            let got = buffer.tokens.map { [String($0.start), String($0.end), String($0.word), buffer.string(of: $0, words: tokenizer.words)] }
            #expect(got == Self.icuTokens(text, tokenizer), "\(text)")
        }
    }

    /// Unpaired surrogates cannot reach the tokenizer through a String (Swift repairs them
    /// to U+FFFD), so they are loaded as code units; the piece goes to ICU, whose tokens
    /// it must give.
    @Test func unpairedSurrogatesGoToICU() {
        var tokenizer = Tokenizer()
        tokenizer.addWord("hola")
        var buffer = TokenBuffer()
        for units: [UInt16] in [[0x68, 0x6F, 0x6C, 0x61, 0x20, 0xD800, 0x61], [0xDC00, 0x20, 0x68, 0x6F, 0x6C, 0x61], [0x61, 0xD83D, 0x20, 0x62]] {
            buffer.units = units
            tokenizer.tokenize(&buffer)
            let got = buffer.tokens.map { [Int($0.start), Int($0.end)] }
            let expected = LatinWordBreakTests.icuSegments(units).filter { $0[2] == 1 }.map { [$0[0], $0[1]] }
            #expect(got == expected, "\(units)")
        }
    }

    @Test func foldsOnlyPiecesOfLettersAsWords() {
        func fold(_ text: String) -> (end: Int, isWord: Bool, text: String) {
            let units = Array(text.utf16)
            var out = [UInt8](repeating: 0, count: units.count + 1)
            let scan = units.withUnsafeBufferPointer { units in
                out.withUnsafeMutableBufferPointer { Tokenizer.foldLetters(units, from: 0, to: $0, at: 1) }
            }
            return (scan.end, scan.isWord, scan.isWord ? String(decoding: out[1..<scan.textEnd], as: UTF8.self) : "")
        }
        #expect(fold("AyuDAAA rest") == (7, true, "ayuda"))
        #expect(fold("hola") == (4, true, "hola"))
        #expect(fold("hola, rest") == (5, false, ""))
        #expect(fold("m4t4r") == (5, false, ""))
        #expect(fold("niño x") == (4, false, ""))
        #expect(fold("don't") == (5, false, ""))
        #expect(fold("a@b") == (3, false, ""))
        // The hash is the table's, so the folded word is found.
        var table = ByteStringTable()
        let index = table.insert("ayuda")
        let units = Array("AYUDAAA".utf16)
        var out = [UInt8](repeating: 0, count: units.count)
        let scan = units.withUnsafeBufferPointer { units in out.withUnsafeMutableBufferPointer { Tokenizer.foldLetters(units, from: 0, to: $0, at: 0) } }
        #expect(out.withUnsafeBufferPointer { table.find(UnsafeBufferPointer(rebasing: $0[..<scan.textEnd]), hash: scan.hash).index } == index)
    }
}

@Suite struct ByteStringTableTests {
    @Test func numbersKeysInInsertionOrderAndFindsThem() {
        var table = ByteStringTable()
        let words = (0..<1000).map { "w\($0)" } + ["", "ñandu", "a"]
        for (i, word) in words.enumerated() { #expect(table.insert(word) == Int32(i)) }
        #expect(table.insert("w5") == 5)
        #expect(table.count == words.count)
        for (i, word) in words.enumerated() {
            #expect(table.find(word) == Int32(i))
            #expect(table.string(Int32(i)) == word)
        }
        #expect(table.find("w1000") == -1)
        #expect(table.find("b") == -1)
    }

    /// Keys that share their first eight bytes (kept in the slot) differ by the rest.
    @Test func tellsLongKeysApartAndReportsMarks() {
        var table = ByteStringTable()
        let words = ["abcdefgh", "abcdefghi", "abcdefghj", "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyy", "abcdefg", "abcdefgh\0"]
        for word in words { _ = table.insert(word) }
        table.mark(2)
        for (i, word) in words.enumerated() {
            let found = Array(word.utf8).withUnsafeBufferPointer { table.find($0, hash: ByteStringTable.hash($0)) }
            #expect(found.index == Int32(i), "\(word)")
            #expect(found.isMarked == (i == 2), "\(word)")
        }
        for word in ["abcdefghk", "abcdefghijklmnopqrstuvwxyz0", "abcdefgi", "abcdef", "abcdefg\0"] { #expect(table.find(word) == -1, "\(word)") }
    }
}

@Suite struct EdgeTableTests {
    @Test func findsEveryEdgeAndNothingElse() {
        var edges = EdgeTable(capacity: 300)
        for node in Int32(0)..<30 {
            for label in Int32(0)..<10 { edges.insert(node: node, label: label * 7, child: node * 100 + label) }
        }
        for node in Int32(0)..<30 {
            for label in Int32(0)..<10 {
                #expect(edges.child(of: node, label: label * 7) == node * 100 + label)
                #expect(edges.child(of: node, label: label * 7 + 1) == -1)
            }
        }
        #expect(EdgeTable().child(of: 0, label: 0) == -1)
        let lists = FlatLists<Int32>([[1, 2], [], [3]])
        #expect(lists.count == 3)
        #expect(lists.isEmpty(1))
        #expect(Array(lists[0]) == [1, 2])
        var seen: [Int32] = []
        lists.forEach(2) { seen.append($0) }
        #expect(seen == [3])
    }
}

@Suite struct ASCIIFoldTests {
    /// The one-pass ASCII path against lower-casing then `squashAndDeleet`.
    @Test func appendASCIIMatchesSquashAndDeleet() {
        let alphabet = Array("aAbBzZ0134579@_.-lLoO".utf16)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let units = (0..<Int.random(in: 1...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            let lowered = units.map { UInt8($0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0) }
            let expected = Tokenizer.squashAndDeleet(lowered)
            var text: [UInt8] = [9, 9]
            let end = units.withUnsafeBufferPointer { Tokenizer.appendASCII($0, 0, units.count, to: &text) }
            #expect(end == text.count)
            #expect(Array(text[2...]) == expected, "\(String(decoding: units, as: UTF16.self))")
        }
    }
}

@Suite struct EvidenceTextTests {
    /// The ASCII shortcut against the UTF-16 decoder, lone surrogates included.
    @Test func textOfUnitsMatchesUTF16Decoding() {
        let samples: [[UInt16]] = [Array("golpe a mi hijo".utf16), Array("niño 🙏 m4t4r".utf16), [0x61, 0xD800, 0x62], [0xDC00], []]
        for units in samples {
            for start in 0...units.count {
                for end in start...units.count {
                    #expect(Classifier.text(of: units, start, end) == String(decoding: units[start..<end], as: UTF16.self))
                }
            }
        }
    }
}

@Suite struct AutomatonMatchTests {
    /// Symbols and first step of each word, as `Classifier.findMatches` lays them out.
    static func steps(_ automaton: Automaton, _ words: [String], inWordItems: Bool) -> (steps: [Automaton.TokenStep], items: [Int32]) {
        var steps: [Automaton.TokenStep] = []
        var items: [Int32] = []
        for word in words {
            let start = items.count
            automaton.symbols(of: word, into: &items)
            let symbols = items.count - start
            let (active, patterns) = automaton.appendRootStep(to: &items, symbolsFrom: start)
            steps.append(.init(start: Int32(start), symbols: Int32(symbols), active: Int32(active), patterns: Int32(patterns), inWordItems: inWordItems))
        }
        return (steps, items)
    }

    /// A walk with more active nodes than the frontier holds grows it and finds every
    /// match once; nodes with one child, with several, and patterns that end inside
    /// longer ones all match.
    @Test func findsEveryPhraseWhenTheFrontierGrows() {
        var automaton = Automaton()
        var ids: [Int32] = []
        for k in 1...300 {
            ids.append(automaton.add([.init(text: "a", isPrefix: false), .init(text: String(repeating: "b", count: k), isPrefix: true), .init(text: "c", isPrefix: false)]))
        }
        let ab = automaton.add([.init(text: "a", isPrefix: false), .init(text: "bb", isPrefix: false)])
        let single = automaton.add([.init(text: "x", isPrefix: false), .init(text: "y", isPrefix: false), .init(text: "z", isPrefix: false)])
        let a = automaton.add([.init(text: "a", isPrefix: false)])
        automaton.freeze()
        // Known words' items are read in place, others from the message's list.
        for inWordItems in [true, false] {
            let (steps, items) = Self.steps(automaton, ["a", String(repeating: "b", count: 300), "c", "x", "y", "z", "a", "bb"], inWordItems: inWordItems)
            var frontier: [Int32] = []
            var found: [Automaton.Match] = []
            automaton.matches(steps: steps, items: inWordItems ? [] : items, wordItems: inWordItems ? items : [], frontier: &frontier, into: &found)
            let got = found.map { [$0.pattern, $0.start, $0.end] }
            let expected = [[a, 0, 0]] + ids.map { [$0, 0, 2] } + [[single, 3, 5], [a, 6, 6], [ab, 6, 7]]
            #expect(got.sorted { $0.lexicographicallyPrecedes($1) } == expected.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(frontier.count > 256)
        }
    }
}

@Suite struct PictographTests {
    /// Every character the tokenizer skips in pictograph-only pieces, alone and in the
    /// sequences emoji come in, gets no word status from ICU, so skipping changes no token.
    @Test func pictographsNeverFormWords() {
        var words: [String] = []
        for range in Tokenizer.pictographRanges {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let c = String(scalar)
                for text in [c, " " + c, c + c, c + "\u{FE0F}", c + "\u{1F3FB}", c + "\u{200D}" + c, "\u{200D}" + c, " " + c + " "] {
                    let units = Array(text.utf16)
                    if LatinWordBreakTests.icuSegments(units).contains(where: { $0[2] == 1 }) { words.append(text) }
                }
                let units = Array(c.utf16)
                let whole = units.withUnsafeBufferPointer { Tokenizer.isPictographic($0, 0, $0.count) }
                #expect(whole)
            }
        }
        #expect(words.isEmpty, "\(words.prefix(10).map { $0.unicodeScalars.map { String($0.value, radix: 16) } })")
        let mixed = Array("🙏a".utf16)
        #expect(!mixed.withUnsafeBufferPointer { Tokenizer.isPictographic($0, 0, $0.count) })
    }
}
