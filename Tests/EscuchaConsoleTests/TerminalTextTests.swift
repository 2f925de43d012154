@testable import EscuchaConsole
import Foundation
import Testing

@Suite struct TerminalTextTests {
    init() { ConsoleLocale.prepare() }

    @Test func widthsFollowTheTerminal() {
        #expect(TerminalText.width("abc") == 3)
        #expect(TerminalText.width("días") == 4)
        #expect(TerminalText.width("e\u{301}") == 1)  // e + combining acute
        #expect(TerminalText.width("中文") == 4)
        #expect(TerminalText.width("مرحبا") == 5)
        // Per scalar, as ncurses and tmux count: thumbs up + skin tone = 2 + 2.
        #expect(TerminalText.width("👍🏽") == 4)
    }

    @Test func fitGivesExactlyTheColumnsAsked() {
        for text in ["short", "ayudaaaa por favor necesito", "中文中文中文", "👍🏽👍🏽👍🏽", "e\u{301}e\u{301}e\u{301}e\u{301}", "مرحبا بكم في"] {
            for columns in [1, 5, 6, 9] {
                let fitted = TerminalText.fit(text, columns: columns)
                #expect(TerminalText.width(fitted) == columns, "\(text) at \(columns): '\(fitted)'")
            }
        }
        #expect(TerminalText.fit("abcdef", columns: 4) == "abc…")
        #expect(TerminalText.fit("ab", columns: 4) == "ab  ")
        // A wide character that would straddle the edge is left out, not cut.
        #expect(TerminalText.fit("中文中", columns: 4) == "中… ")
    }

    @Test func sanitizedKeepsOneLineAndDropsBidiControls() {
        #expect(TerminalText.sanitized("a\nb\tc") == "a b c")
        #expect(TerminalText.sanitized("x\u{202E}yz") == "xyz")
        #expect(TerminalText.sanitized("\u{7}bell") == " bell")
    }

    @Test func wrapBreaksAtSpacesAndKeepsStyles() {
        let runs = [StyledRun].highlighting("mi esposo me pega y me amenaza", ranges: [3..<9])
        #expect(runs == [StyledRun("mi "), StyledRun("esposo", .evidence), StyledRun(" me pega y me amenaza")])
        let lines = TerminalText.wrap(runs, columns: 12)
        #expect(lines.map { $0.map(\.text).joined() } == ["mi esposo me", "pega y me", "amenaza"])
        #expect(lines[0].contains(StyledRun("esposo", .evidence)))
        // Newlines start a new line; an overlong word is cut.
        #expect(TerminalText.wrap([StyledRun("a\nbbbbbb")], columns: 4).map { $0.map(\.text).joined() } == ["a", "bbbb", "bb"])
    }

    @Test func highlightsUseUTF16Offsets() {
        // "¿Dónde?" — evidence offsets count UTF-16 units, as the classifier reports them.
        let text = "👍🏽 me pegó"
        let start = (text as NSString).range(of: "pegó").location
        let runs = [StyledRun].highlighting(text, ranges: [start..<(start + 4)])
        #expect(runs.last == StyledRun("pegó", .evidence))
    }
}

@Suite struct LineEditorTests {
    init() { ConsoleLocale.prepare() }

    @Test func editsByCharacterWithCombiningMarks() {
        var editor = LineEditor()
        editor.insert("cafe\u{301} 中")
        #expect(editor.text == "cafe\u{301} 中")
        editor.backspace()
        editor.backspace()
        #expect(editor.text == "cafe\u{301}")
        editor.backspace()  // removes e and its accent together
        #expect(editor.text == "caf")
        editor.moveHome()
        editor.insert("¡")
        #expect(editor.text == "¡caf")
        editor.moveEnd()
        editor.insert(" ok")
        editor.deleteWord()
        #expect(editor.text == "¡caf ")
    }

    @Test func visibleWindowFollowsTheCursor() {
        var editor = LineEditor(String(repeating: "中", count: 20))
        let shown = editor.visible(columns: 11)
        #expect(TerminalText.width(shown.text) <= 11)
        #expect(shown.cursorColumn <= 10)
        editor.moveHome()
        #expect(editor.visible(columns: 11).cursorColumn == 0)
    }
}

@Suite struct QueueLayoutTests {
    init() { ConsoleLocale.prepare() }

    func row(_ reference: String, flags: [String], preview: String, due: Date?) -> QueueRow {
        QueueRow(
            id: 1, reference: reference, status: "new", createdAt: Date(timeIntervalSince1970: 0), channel: "twilio-cucuta", language: "ar",
            type: "complaint", flags: flags, severity: "critical", restricted: true, location: "Cúcuta", assignee: "", due: due, preview: preview,
            key: QueueKey(severityRank: 3, due: due, id: 1))
    }

    @Test func everyLineFillsTheWidthExactly() throws {
        let strings = try ConsoleStrings.load(directory: RepositoryConfig.console, language: "es")
        let now = Date(timeIntervalSince1970: 7200)
        for width in [80, 100, 132, 200] {
            let layout = QueueLayout(width: width)
            #expect(TerminalText.width(layout.header(strings)) <= width)
            for preview in ["مرحبا، أحتاج مساعدة", "👍🏽👍🏽 gracias", "plain"] {
                let line = layout.line(row("7K3M2P", flags: ["protection.gbv", "discrimination.xenophobia"], preview: preview, due: now), now: now)
                #expect(TerminalText.width(line.map(\.text).joined()) == layout.columns.reduce(0) { $0 + $1.width } + layout.columns.count - 1)
                #expect(TerminalText.width(line.map(\.text).joined()) <= width)
            }
        }
        #expect(QueueLayout(width: 80).columns.contains { $0.key == "preview" } == false)
        #expect(QueueLayout(width: 160).columns.contains { $0.key == "preview" })
    }

    @Test func deadlinesAndAges() {
        let now = Date(timeIntervalSince1970: 100_000)
        #expect(QueueLayout.duration(59) == "0m")
        #expect(QueueLayout.duration(3 * 3600) == "3h")
        #expect(QueueLayout.duration(3 * 86400) == "3d")
        #expect(QueueLayout.duration(30 * 86400) == "4w")
        #expect(QueueLayout.timeLeft(now.addingTimeInterval(-7200), now: now) == ("-2h", .alert))
        #expect(QueueLayout.timeLeft(now.addingTimeInterval(1800), now: now) == ("30m", .warning))
        #expect(QueueLayout.timeLeft(now.addingTimeInterval(86400 * 2), now: now) == ("2d", .good))
        #expect(QueueLayout.timeLeft(nil, now: now) == ("-", .dim))
        #expect(QueueLayout.timeLeft(now.addingTimeInterval(-7200), now: now, done: true) == ("-", .dim))
        #expect(QueueLayout.badges(["protection.gbv", "misconduct.sexual_exploitation"]) == "gbv sexual_exploitation")
    }
}

@Suite struct ConsoleStringsTests {
    @Test func spanishHasEveryEnglishKey() throws {
        let english = try ConsoleStrings.load(directory: RepositoryConfig.console, language: "en")
        let spanish = try ConsoleStrings.load(directory: RepositoryConfig.console, language: "es")
        #expect(english.keys.subtracting(spanish.keys).isEmpty, "missing in es: \(english.keys.subtracting(spanish.keys).sorted())")
        #expect(spanish["column.assignee"] == "Asignado")
        #expect(spanish.format("tickets_count", ["count": "3"]) == "3 casos")
    }

    @Test func everyKeyTheConsoleUsesExists() throws {
        let english = try ConsoleStrings.load(directory: RepositoryConfig.console, language: "en")
        let source = try String(contentsOfFile: RepositoryConfig.root + "/Sources/EscuchaConsole/ConsoleApp.swift", encoding: .utf8)
            + String(contentsOfFile: RepositoryConfig.root + "/Sources/EscuchaConsole/QueueLayout.swift", encoding: .utf8)
            + String(contentsOfFile: RepositoryConfig.root + "/Sources/EscuchaConsole/ConsoleData.swift", encoding: .utf8)
        let literal = try Regex(#"strings(?:\.format\()?\[?\(?"([a-z_.]+)""#)
        var used = Set<String>()
        for match in source.matches(of: literal) {
            if let key = match.output[1].substring { used.insert(String(key)) }
        }
        #expect(used.count > 30)
        #expect(used.subtracting(english.keys).isEmpty, "keys without text: \(used.subtracting(english.keys).sorted())")
        for status in ["new", "open", "pending", "escalated", "resolved", "closed"] { #expect(english.keys.contains("status.\(status)")) }
    }

    @Test func languageComesFromTheOptionThenTheEnvironment() {
        #expect(ConsoleStrings.interfaceLanguage(option: "es", environment: ["LANG": "en_US.UTF-8"]) == "es")
        #expect(ConsoleStrings.interfaceLanguage(option: nil, environment: ["LANG": "es_CO.UTF-8"]) == "es")
        #expect(ConsoleStrings.interfaceLanguage(option: nil, environment: ["LC_ALL": "C.UTF-8", "LANG": "es_CO.UTF-8"]) == "en")
        #expect(ConsoleStrings.interfaceLanguage(option: nil, environment: [:]) == "en")
    }
}

/// Paths of the repository's configuration.
enum RepositoryConfig {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var console: String { root + "/Config/console" }
}
