/// Small-cell suppression for published tables (statistical disclosure control).
///
/// A table of counts with row totals, column totals and a grand total is published with
/// every count from 1 to k − 1 hidden (primary suppression) and, so that a hidden count
/// cannot be recovered by subtracting the visible cells from a total, more counts hidden
/// (secondary suppression) until every row and every column — totals included — hides
/// either nothing or at least two of its entries. Zeros are shown (they reveal nobody).
public struct SuppressedTable: Sendable, Equatable {
    /// The counts, `cells[row][column]`.
    public let cells: [[Int]]
    /// Row totals (sum of the row's cells).
    public let rowTotals: [Int]
    /// Column totals.
    public let columnTotals: [Int]
    /// The grand total.
    public let grandTotal: Int
    /// Which cells are hidden.
    public let cellHidden: [[Bool]]
    /// Which row totals are hidden.
    public let rowTotalHidden: [Bool]
    /// Which column totals are hidden.
    public let columnTotalHidden: [Bool]
    /// Whether the grand total is hidden.
    public let grandTotalHidden: Bool
    /// The threshold k.
    public let k: Int

    /// Suppresses `cells` (rows of equal length) with threshold `k`.
    ///
    /// - Parameters:
    ///   - cells: the counts; every row must have the same number of columns.
    ///   - k: counts from 1 to k − 1 are hidden; k ≤ 1 hides nothing.
    public init(cells: [[Int]], k: Int) {
        let rows = cells.count
        let columns = cells.first?.count ?? 0
        precondition(cells.allSatisfy { $0.count == columns }, "every row needs the same number of columns")
        self.cells = cells
        self.k = k
        // The extended grid: (rows + 1) × (columns + 1), margins in the last row/column.
        var value = Array(repeating: Array(repeating: 0, count: columns + 1), count: rows + 1)
        for r in 0..<rows {
            for c in 0..<columns {
                value[r][c] = cells[r][c]
                value[r][columns] += cells[r][c]
                value[rows][c] += cells[r][c]
                value[rows][columns] += cells[r][c]
            }
        }
        var hidden = value.map { $0.map { Disclosure.isSensitive($0, k: k) } }
        // Each line: the cells of a row or column plus its margin. Every line must hide
        // 0 or ≥ 2 entries. Hiding only ever grows, so this terminates.
        var changed = true
        while changed {
            changed = false
            var lines: [[(Int, Int)]] = []
            for r in 0...rows { lines.append((0...columns).map { (r, $0) }) }
            for c in 0...columns { lines.append((0...rows).map { ($0, c) }) }
            for line in lines {
                let hiddenCount = line.filter { hidden[$0.0][$0.1] }.count
                guard hiddenCount == 1 else { continue }
                // Hide the smallest visible entry, preferring inner cells and non-zero counts.
                let candidates = line.filter { !hidden[$0.0][$0.1] }
                let best = candidates.min { a, b in
                    let ka = (a.0 == rows || a.1 == columns ? 1 : 0, value[a.0][a.1] == 0 ? 1 : 0, value[a.0][a.1])
                    let kb = (b.0 == rows || b.1 == columns ? 1 : 0, value[b.0][b.1] == 0 ? 1 : 0, value[b.0][b.1])
                    return ka < kb
                }
                if let best {
                    hidden[best.0][best.1] = true
                    changed = true
                }
            }
        }
        rowTotals = (0..<rows).map { value[$0][columns] }
        columnTotals = (0..<columns).map { value[rows][$0] }
        grandTotal = value[rows][columns]
        cellHidden = (0..<rows).map { r in (0..<columns).map { hidden[r][$0] } }
        rowTotalHidden = (0..<rows).map { hidden[$0][columns] }
        columnTotalHidden = (0..<columns).map { hidden[rows][$0] }
        grandTotalHidden = hidden[rows][columns]
    }

    /// The published text of a cell: the count, or `<k`.
    public func text(row: Int, column: Int) -> String {
        cellHidden[row][column] ? "<\(k)" : String(cells[row][column])
    }

    /// The published text of a row total.
    public func rowTotalText(_ row: Int) -> String { rowTotalHidden[row] ? "<\(k)" : String(rowTotals[row]) }

    /// The published text of a column total.
    public func columnTotalText(_ column: Int) -> String {
        columnTotalHidden[column] ? "<\(k)" : String(columnTotals[column])
    }

    /// The published text of the grand total.
    public var grandTotalText: String { grandTotalHidden ? "<\(k)" : String(grandTotal) }

    /// A published cell value: the count or `nil` when hidden.
    public func published(row: Int, column: Int) -> Int? { cellHidden[row][column] ? nil : cells[row][column] }
}

/// Disclosure rules shared by every report.
public enum Disclosure {
    /// The default threshold: counts below 5 are not published.
    public static let defaultK = 5

    /// Whether a count must be hidden on its own (1 … k − 1).
    public static func isSensitive(_ count: Int, k: Int) -> Bool { count > 0 && count < k }

    /// The published text of a count that has no totals to protect: the count or `<k`.
    public static func text(_ count: Int, k: Int) -> String { isSensitive(count, k: k) ? "<\(k)" : String(count) }
}
