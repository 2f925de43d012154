/// The rows a statement returned, copied out of libpq (so they can leave the connection's
/// thread), plus the number of rows it affected.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names and types, shared by all rows.
    final class Columns: Sendable {
        let names: [String]
        let types: [PostgresDataType]
        let indexByName: [String: Int]

        init(names: [String], types: [PostgresDataType]) {
            self.names = names
            self.types = types
            var index: [String: Int] = [:]
            for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
            indexByName = index
        }
    }

    let columns: Columns
    let rows: [[[UInt8]?]]
    /// Rows inserted, updated, deleted, copied or selected, as the server's command tag says.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 1`.
    public let commandTag: String

    init(columns: Columns, rows: [[[UInt8]?]], affectedRows: Int, commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    /// The column names, in order.
    public var columnNames: [String] { columns.names }
    public var startIndex: Int { 0 }
    public var endIndex: Int { rows.count }
    public subscript(position: Int) -> PostgresRow { PostgresRow(columns: columns, values: rows[position]) }
}

/// One result row. Read columns by name or index with `decode`.
public struct PostgresRow: Sendable {
    let columns: PostgresRows.Columns
    let values: [[UInt8]?]

    /// The column names, in order.
    public var columnNames: [String] { columns.names }

    /// Decodes the column called `name`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws(StoreError) -> T {
        guard let index = columns.indexByName[name] else {
            throw StoreError(operation: "decoding column \(name)", message: "the result has no column \(name)")
        }
        return try decode(index, as: type)
    }

    /// Decodes the column at `index` (from 0).
    public func decode<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws(StoreError) -> T {
        guard values.indices.contains(index) else {
            throw StoreError(operation: "decoding column \(index)", message: "the result has \(values.count) columns")
        }
        let name = columns.names[index]
        guard let bytes = values[index] else {
            guard let null = T.postgresNull else {
                throw StoreError(
                    operation: "decoding column \(name)", message: "the value is NULL; decode it as an optional")
            }
            return null
        }
        return try T(postgresCell: PostgresCell(bytes: bytes, type: columns.types[index], columnName: name))
    }

    /// Whether the column at `index` is NULL.
    public func isNull(_ index: Int) -> Bool { values[index] == nil }
}
