import CNcurses

/// A key the officer pressed.
public enum Key: Sendable, Equatable {
    case character(Unicode.Scalar)
    case up, down, left, right, pageUp, pageDown, home, end
    case backspace, delete, enter, escape, resize
    /// Ctrl + a letter, e.g. `.control("w")`.
    case control(Character)
    case other
}

/// The screen through ncursesw. Only the console's loop thread touches it: curses is not
/// thread-safe, so this type is deliberately not Sendable.
final class Terminal {
    private(set) var rows = 24
    private(set) var columns = 80
    private var started = false

    func start() throws(ConsoleError) {
        guard ConsoleLocale.prepare() else { throw .noUTF8Locale }
        guard escucha_nc_start() == 0 else { throw .noTerminal }
        escucha_nc_catch_termination()
        started = true
        updateSize()
    }

    func stop() {
        guard started else { return }
        escucha_nc_stop()
        started = false
    }

    func updateSize() {
        var r: Int32 = 0
        var c: Int32 = 0
        escucha_nc_size(&r, &c)
        rows = Int(r)
        columns = Int(c)
    }

    /// Whether SIGTERM or SIGHUP asked the console to stop (it then restores the terminal).
    var terminationRequested: Bool { escucha_nc_termination_requested() == 1 }

    func erase() { escucha_nc_erase() }
    func refresh() { escucha_nc_refresh() }

    /// Draws runs from (row, column), clipped at the right edge. Returns the next column.
    @discardableResult
    func draw(_ runs: [StyledRun], row: Int, column: Int = 0, background: RunStyle? = nil) -> Int {
        var x = column
        for run in runs {
            let text = TerminalText.sanitized(run.text)
            var cells: [wchar_t] = []
            var used = 0
            for scalar in text.unicodeScalars {
                let w = TerminalText.width(of: scalar)
                if x + used + w > columns { break }
                cells.append(wchar_t(bitPattern: scalar.value))
                used += w
            }
            guard !cells.isEmpty else { continue }
            let (pair, attributes) = Self.appearance(background.map { run.style == .plain ? $0 : run.style } ?? run.style)
            cells.withUnsafeBufferPointer { buffer in
                escucha_nc_put(Int32(row), Int32(x), buffer.baseAddress, Int32(buffer.count), pair, attributes)
            }
            x += used
        }
        return x
    }

    func draw(_ text: String, row: Int, column: Int = 0, style: RunStyle = .plain) {
        draw([StyledRun(text, style)], row: row, column: column)
    }

    /// A full-width bar (header, status line).
    func bar(_ runs: [StyledRun], row: Int) {
        let (pair, attributes) = Self.appearance(.heading)
        escucha_nc_fill(Int32(row), 0, pair, attributes)
        draw(runs.map { StyledRun($0.text, $0.style == .plain ? .heading : $0.style) }, row: row)
    }

    /// Reverse video over a whole line (the cursor in a list).
    func highlightLine(_ runs: [StyledRun], row: Int) {
        escucha_nc_fill(Int32(row), 0, Int32(ESCUCHA_PAIR_DEFAULT), Int32(ESCUCHA_ATTR_REVERSE))
        var x = 0
        for run in runs {
            let text = TerminalText.sanitized(run.text)
            let cells = text.unicodeScalars.map { wchar_t(bitPattern: $0.value) }
            let (pair, attributes) = Self.appearance(run.style)
            cells.withUnsafeBufferPointer { buffer in
                escucha_nc_put(Int32(row), Int32(x), buffer.baseAddress, Int32(buffer.count), pair, attributes | Int32(ESCUCHA_ATTR_REVERSE))
            }
            x += TerminalText.width(text)
        }
    }

    func showCursor(row: Int, column: Int) { escucha_nc_cursor(Int32(row), Int32(column)) }
    func hideCursor() { escucha_nc_cursor(-1, 0) }

    /// Waits up to `milliseconds` for a key; nil when none came.
    func readKey(timeoutMilliseconds milliseconds: Int) -> Key? {
        var character: UInt32 = 0
        let kind = escucha_nc_read(Int32(milliseconds), &character)
        switch Int(kind) {
        case Int(ESCUCHA_KEY_NONE): return nil
        case Int(ESCUCHA_KEY_UP): return .up
        case Int(ESCUCHA_KEY_DOWN): return .down
        case Int(ESCUCHA_KEY_LEFT): return .left
        case Int(ESCUCHA_KEY_RIGHT): return .right
        case Int(ESCUCHA_KEY_PAGE_UP): return .pageUp
        case Int(ESCUCHA_KEY_PAGE_DOWN): return .pageDown
        case Int(ESCUCHA_KEY_HOME): return .home
        case Int(ESCUCHA_KEY_END): return .end
        case Int(ESCUCHA_KEY_BACKSPACE): return .backspace
        case Int(ESCUCHA_KEY_DELETE): return .delete
        case Int(ESCUCHA_KEY_ENTER): return .enter
        case Int(ESCUCHA_KEY_RESIZE):
            updateSize()
            return .resize
        case Int(ESCUCHA_KEY_CHAR):
            if character == 27 { return .escape }
            if character == 9 { return .character("\t") }
            if character < 32, let letter = Unicode.Scalar(character + 96) { return .control(Character(letter)) }
            guard let scalar = Unicode.Scalar(character) else { return .other }
            return .character(scalar)
        default: return .other
        }
    }

    /// The colour pair and attributes of a style. Colours carry meaning: red for overdue and
    /// critical, yellow for high, magenta for restricted, evidence on a yellow background.
    static func appearance(_ style: RunStyle) -> (Int32, Int32) {
        switch style {
        case .plain: (Int32(ESCUCHA_PAIR_DEFAULT), Int32(0))
        case .dim: (Int32(ESCUCHA_PAIR_DEFAULT), Int32(ESCUCHA_ATTR_DIM))
        case .bold: (Int32(ESCUCHA_PAIR_DEFAULT), Int32(ESCUCHA_ATTR_BOLD))
        case .evidence: (Int32(ESCUCHA_PAIR_HIGHLIGHT), Int32(ESCUCHA_ATTR_BOLD))
        case .heading: (Int32(ESCUCHA_PAIR_BAR), Int32(0))
        case .alert: (Int32(ESCUCHA_PAIR_RED), Int32(ESCUCHA_ATTR_BOLD))
        case .warning: (Int32(ESCUCHA_PAIR_YELLOW), Int32(0))
        case .good: (Int32(ESCUCHA_PAIR_GREEN), Int32(0))
        case .restricted: (Int32(ESCUCHA_PAIR_MAGENTA), Int32(ESCUCHA_ATTR_BOLD))
        }
    }
}

/// Why the console cannot run.
public enum ConsoleError: Error, Sendable, CustomStringConvertible {
    case noUTF8Locale
    case noTerminal
    case notInteractive

    public var description: String {
        switch self {
        case .noUTF8Locale: "no UTF-8 locale is available: install locales or set LANG=C.UTF-8"
        case .noTerminal: "cannot start the terminal screen: check TERM (e.g. TERM=xterm-256color)"
        case .notInteractive: "the console needs a terminal: run it in a terminal, not with redirected input or output"
        }
    }
}
