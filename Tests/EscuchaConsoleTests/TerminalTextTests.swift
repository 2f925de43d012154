import EscuchaConsole
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
}
