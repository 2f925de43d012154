/// A one-line text field: what officers type for a reply, a note, a search or a filter.
/// Works on Unicode scalars (what the terminal delivers key by key) and scrolls
/// horizontally so the cursor stays visible whatever the width of the characters.
public struct LineEditor: Sendable, Equatable {
    public private(set) var scalars: [Unicode.Scalar]
    /// Insertion point, in scalars.
    public private(set) var cursor: Int

    public init(_ text: String = "") {
        scalars = Array(text.unicodeScalars)
        cursor = scalars.count
    }

    public var text: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    public mutating func insert(_ scalar: Unicode.Scalar) {
        scalars.insert(scalar, at: cursor)
        cursor += 1
    }

    public mutating func insert(_ text: String) {
        for scalar in text.unicodeScalars { insert(scalar) }
    }

    /// Deletes the character before the cursor, with the combining marks that follow it.
    public mutating func backspace() {
        guard cursor > 0 else { return }
        var start = cursor - 1
        while start > 0, TerminalText.width(of: scalars[start]) == 0 { start -= 1 }
        scalars.removeSubrange(start..<cursor)
        cursor = start
    }

    public mutating func deleteForward() {
        guard cursor < scalars.count else { return }
        var end = cursor + 1
        while end < scalars.count, TerminalText.width(of: scalars[end]) == 0 { end += 1 }
        scalars.removeSubrange(cursor..<end)
    }

    public mutating func moveLeft() {
        while cursor > 0 {
            cursor -= 1
            if TerminalText.width(of: scalars[cursor]) > 0 { break }
        }
    }

    public mutating func moveRight() {
        guard cursor < scalars.count else { return }
        cursor += 1
        while cursor < scalars.count, TerminalText.width(of: scalars[cursor]) == 0 { cursor += 1 }
    }

    public mutating func moveHome() { cursor = 0 }
    public mutating func moveEnd() { cursor = scalars.count }

    /// Deletes the word before the cursor (Ctrl-W).
    public mutating func deleteWord() {
        while cursor > 0, scalars[cursor - 1] == " " { backspace() }
        while cursor > 0, scalars[cursor - 1] != " " { backspace() }
    }

    /// What to draw in `columns` columns: the visible text and the cursor's column in it.
    public func visible(columns: Int) -> (text: String, cursorColumn: Int) {
        guard columns > 1 else { return ("", 0) }
        let clean = scalars.map { TerminalText.sanitized(String($0)).unicodeScalars.first ?? " " }
        let widths = clean.map(TerminalText.width(of:))
        var start = 0
        // Scroll so that the cursor fits, keeping one column for it at the end.
        while widths[start..<cursor].reduce(0, +) > columns - 1 { start += 1 }
        var view = String.UnicodeScalarView()
        var used = 0
        for index in start..<clean.count {
            if used + widths[index] > columns { break }
            view.append(clean[index])
            used += widths[index]
        }
        return (String(view), widths[start..<cursor].reduce(0, +))
    }
}
