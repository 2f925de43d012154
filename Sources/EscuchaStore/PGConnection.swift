internal import CLibPQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A notification received on a channel the connection listens to.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel, as given to `NOTIFY` / `pg_notify`.
    public var channel: String
    /// The payload (empty when none was given).
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32

    /// Creates a notification.
    public init(channel: String, payload: String, senderPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderPID = senderPID
    }
}

/// One libpq connection (`PGconn*`), closed with `PQfinish` when released.
///
/// Every method blocks the calling thread until the server answers, so a connection is
/// used from one thread at a time and never from Swift's cooperative threads directly:
/// reach it through ``PostgresPool/withConnection(_:)`` or
/// ``PostgresPool/withTransaction(_:)``, whose closures run on the pool's own threads.
///
/// Each session is set up with `TimeZone=UTC`, `DateStyle=ISO, MDY` and UTF-8 client
/// encoding; server notices are silenced.
public final class PGConnection {
    private let handle: OpaquePointer

    /// Connects.
    ///
    /// - Parameters:
    ///   - conninfo: a libpq connection string (`host=… dbname=…`) or URL
    ///     (`postgresql://…`), as `DATABASE_URL` holds it. Empty means libpq's defaults:
    ///     the `PG*` environment variables, service files and `~/.pgpass`.
    ///   - parameters: keyword/value pairs that override what `conninfo` says, e.g.
    ///     `[("dbname", "other")]`.
    public init(conninfo: String, parameters: [(String, String)] = []) throws(StoreError) {
        // The first `dbname` is expanded as a connection string or URL (expand_dbname = 1);
        // later keywords override it. libpq ignores empty values, so "" means defaults.
        let keywords = ["dbname", "fallback_application_name"] + parameters.map(\.0)
        let values = [conninfo, "escucha"] + parameters.map(\.1)
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw StoreError(operation: "connecting", message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            var error = StoreError(operation: "connecting", message: message)
            error._connectionLost = true
            throw error
        }
        handle = connection
        try configureSession()
    }

    deinit {
        PQfinish(handle)
    }

    private func configureSession() throws(StoreError) {
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        guard PQsetClientEncoding(handle, "UTF8") == 0 else {
            throw StoreError(operation: "setting up the session", message: lastErrorMessage)
        }
        _ = try runSimple("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, MDY'", operation: "setting up the session")
    }

    // MARK: State

    /// The server version as a number, e.g. 150008 for 15.8.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// The server process id of this session.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Whether libpq still considers the connection usable.
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Whether a transaction is open on the connection.
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    private var lastErrorMessage: String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Makes sure the connection works before it is lent: a connection the server closed
    /// (restart, idle timeout) is reset once, and a transaction left open is rolled back.
    /// Cheap when all is well: no round trip unless the socket has something to read.
    func prepareForUse() throws(StoreError) {
        if PQstatus(handle) == CONNECTION_OK, socketIsReadable(timeoutMilliseconds: 0) {
            // An idle pooled session has nothing to read unless the server said goodbye
            // (e.g. 57P01 on `pg_ctl restart`) or sent a parameter change. Find out which.
            if PQconsumeInput(handle) == 0 || (try? runSimple("SELECT 1", operation: "checking the connection")) == nil {
                try reset()
                return
            }
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            try reset()
            return
        }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE:
            return
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            if (try? runSimple("ROLLBACK", operation: "rolling back a forgotten transaction")) == nil { try reset() }
        default:
            try reset()
        }
    }

    /// Reconnects with the same parameters (`PQreset`).
    public func reset() throws(StoreError) {
        PQreset(handle)
        prepared.removeAll()
        guard PQstatus(handle) == CONNECTION_OK else {
            var error = StoreError(operation: "reconnecting", message: lastErrorMessage)
            error._connectionLost = true
            throw error
        }
        try configureSession()
    }

    private func socketIsReadable(timeoutMilliseconds: Int32) -> Bool {
        let fd = PQsocket(handle)
        guard fd >= 0 else { return false }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, timeoutMilliseconds) > 0
    }

    // MARK: Statements

    /// Runs a statement and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: the statement; interpolated values are bind parameters.
    ///   - operation: what the statement does, for error messages ("claiming outbox rows").
    @discardableResult
    public func query(_ sql: SQL, operation: String = "running query") throws(StoreError) -> PostgresRows {
        let (text, binds) = sql.rendered
        return try withParameters(binds, operation: operation) { count, types, values, lengths, formats in
            PQexecParams(handle, text, count, types, values, lengths, formats, 0)
        }
    }

    /// Runs a statement through a server-side prepared statement kept for the life of the
    /// session: the first call parses and names it (`PQprepare`), later calls with the same
    /// text and parameter types only bind and execute (`PQexecPrepared`). For statements a
    /// hot path runs again and again; one-off or generated text belongs in ``query(_:operation:)``.
    @discardableResult
    public func queryPrepared(_ sql: SQL, operation: String = "running query") throws(StoreError) -> PostgresRows {
        let (text, binds) = sql.rendered
        let key = PreparedKey(text: text, types: binds.map(\.type.rawValue))
        let name: String
        if let existing = prepared[key] {
            name = existing
        } else {
            preparedCount += 1
            name = "escucha_\(preparedCount)"
            let types = binds.map { Oid($0.type.rawValue) }
            let result = PQprepare(handle, name, text, Int32(binds.count), types)
            _ = try consume(result, operation: operation)
            prepared[key] = name
        }
        do {
            return try withParameters(binds, operation: operation) { count, _, values, lengths, formats in
                PQexecPrepared(handle, name, count, values, lengths, formats, 0)
            }
        } catch {
            // 26000: the session lost the statement (DISCARD ALL, DEALLOCATE); prepare it
            // again next time instead of failing forever.
            if error.sqlState?.rawValue == "26000" { prepared[key] = nil }
            throw error
        }
    }

    /// Statements prepared on this session, by text and parameter types. Cleared on reset:
    /// a new session has none.
    private struct PreparedKey: Hashable {
        var text: String
        var types: [UInt32]
    }
    private var prepared: [PreparedKey: String] = [:]
    private var preparedCount = 0

    /// Copies `binds` into C buffers that all live until `send` returns (libpq reads every
    /// parameter during the call), then consumes the result.
    private func withParameters(
        _ binds: [PostgresBind], operation: String,
        _ send: (Int32, [Oid], [UnsafePointer<CChar>?], [Int32], [Int32]) -> OpaquePointer?
    ) throws(StoreError) -> PostgresRows {
        let count = binds.count
        var types = [Oid](repeating: 0, count: count)
        var lengths = [Int32](repeating: 0, count: count)
        var formats = [Int32](repeating: 0, count: count)
        var values = [UnsafePointer<CChar>?](repeating: nil, count: count)
        defer { for value in values { value.map { UnsafeMutablePointer(mutating: $0).deallocate() } } }
        for (i, bind) in binds.enumerated() {
            types[i] = Oid(bind.type.rawValue)
            switch bind.value {
            case .null:
                values[i] = nil
            case .text(let string):
                let utf8 = Array(string.utf8)
                if utf8.contains(0) {
                    throw StoreError(
                        operation: operation,
                        message: "parameter $\(i + 1) is text containing a NUL byte, which PostgreSQL text cannot hold; bind it as bytea (Data)")
                }
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
                utf8.withUnsafeBytes { raw in
                    UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                }
                buffer[utf8.count] = 0
                values[i] = UnsafePointer(buffer)
                lengths[i] = Int32(utf8.count)
            case .binary(let bytes):
                // Never a NULL pointer, even for zero bytes: NULL would mean SQL NULL.
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
                bytes.withUnsafeBytes { raw in
                    if raw.count > 0 {
                        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                    }
                }
                values[i] = UnsafePointer(buffer)
                lengths[i] = Int32(bytes.count)
                formats[i] = 1
            }
        }
        let result = send(Int32(count), types, values, lengths, formats)
        return try consume(result, operation: operation)
    }

    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL, operation: String = "running statement") throws(StoreError) -> Int {
        try query(sql, operation: operation).affectedRows
    }

    /// Runs SQL text that may hold several statements and no parameters (`PQexec`), e.g. a
    /// migration file. Never build `script` from input.
    public func execute(unsafeScript script: String, operation: String = "running script") throws(StoreError) {
        _ = try runSimple(script, operation: operation)
    }

    /// `PQexec` returning the command tag of the last statement.
    private func runSimple(_ text: String, operation: String) throws(StoreError) -> String {
        let result = PQexec(handle, text)
        return try consume(result, operation: operation).commandTag
    }

    private func consume(_ result: OpaquePointer?, operation: String) throws(StoreError) -> PostgresRows {
        guard let result else { throw connectionError(operation: operation) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY else {
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT {
                throw StoreError(operation: operation, message: "COPY must go through copy(into:columns:rows:)")
            }
            throw error(from: result, operation: operation)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var names: [String] = []
        var types: [PostgresDataType] = []
        for column in 0..<columnCount {
            names.append(String(cString: PQfname(result, Int32(column))))
            types.append(PostgresDataType(rawValue: UInt32(PQftype(result, Int32(column)))))
        }
        var rows: [[[UInt8]?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [[UInt8]?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    let pointer = PQgetvalue(result, Int32(row), Int32(column))!
                    values.append(
                        pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                            Array(UnsafeBufferPointer(start: $0, count: length))
                        })
                }
            }
            rows.append(values)
        }
        let tag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result))) ?? rowCount
        return PostgresRows(
            columns: .init(names: names, types: types), rows: rows, affectedRows: affected, commandTag: tag)
    }

    /// Builds a ``StoreError`` from a failed result, reading every field before anything else
    /// touches libpq.
    private func error(from result: OpaquePointer, operation: String) -> StoreError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let message =
            field("M")
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        var error = StoreError(
            operation: operation, sqlState: field("C").map(SQLState.init(rawValue:)),
            message: message.isEmpty ? lastErrorMessage : message, detail: field("D"), hint: field("H"),
            constraint: field("n"), table: field("t"), column: field("c"))
        error._connectionLost = PQstatus(handle) != CONNECTION_OK
        return error
    }

    private func connectionError(operation: String) -> StoreError {
        var error = StoreError(operation: operation, message: lastErrorMessage)
        error._connectionLost = PQstatus(handle) != CONNECTION_OK
        return error
    }

    // MARK: Transactions

    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back when it throws.
    ///
    /// Errors say which step failed (``StoreError/transactionStage``): a failed BEGIN or
    /// COMMIT, a failed ROLLBACK (carrying the body's error as `underlying`), or a store
    /// error of the body (rethrown marked `.body`). Other errors of the body are rethrown
    /// unchanged after the rollback. A transaction whose statement failed but whose error
    /// the body caught is rolled back and reported as a COMMIT failure.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        guard PQtransactionStatus(handle) == PQTRANS_IDLE else {
            throw StoreError(
                operation: "beginning transaction", message: "a transaction is already open on this connection",
                transactionStage: .begin)
        }
        do {
            _ = try runSimple("BEGIN", operation: "beginning transaction")
        } catch {
            throw error.inTransaction(.begin)
        }
        let value: T
        do {
            value = try body()
        } catch {
            do {
                _ = try runSimple("ROLLBACK", operation: "rolling back transaction")
            } catch let rollbackError {
                var failure = rollbackError.inTransaction(.rollback)
                failure.underlying = error
                throw failure
            }
            if let storeError = error as? StoreError { throw storeError.inTransaction(.body) }
            throw error
        }
        if PQtransactionStatus(handle) == PQTRANS_INERROR {
            _ = try? runSimple("ROLLBACK", operation: "rolling back transaction")
            throw StoreError(
                operation: "committing transaction",
                sqlState: .inFailedSQLTransaction,
                message: "a statement failed inside the transaction (its error was caught), so it was rolled back",
                transactionStage: .commit)
        }
        let tag: String
        do {
            tag = try runSimple("COMMIT", operation: "committing transaction")
        } catch {
            throw error.inTransaction(.commit)
        }
        guard tag == "COMMIT" else {
            throw StoreError(
                operation: "committing transaction", message: "the server rolled the transaction back",
                transactionStage: .commit)
        }
        return value
    }

    // MARK: LISTEN / NOTIFY

    /// Sends a notification (`SELECT pg_notify($1, $2)`; NOTIFY itself takes no parameters).
    public func notify(channel: String, payload: String = "") throws(StoreError) {
        try query("SELECT pg_notify(\(channel), \(payload))", operation: "sending notification")
    }

    /// Starts listening on `channel` (quoted as an identifier, so any name works).
    public func listen(to channel: String) throws(StoreError) {
        try execute(unsafeScript: "LISTEN \(quoteIdentifier(channel))", operation: "listening")
    }

    /// Waits up to `timeoutMilliseconds` for notifications and returns those received.
    /// Throws when the connection is lost.
    public func waitForNotifications(timeoutMilliseconds: Int32) throws(StoreError) -> [PostgresNotification] {
        var received = takeNotifications()
        guard received.isEmpty else { return received }
        if socketIsReadable(timeoutMilliseconds: timeoutMilliseconds) {
            guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else {
                var error = StoreError(operation: "waiting for notifications", message: lastErrorMessage)
                error._connectionLost = true
                throw error
            }
            received = takeNotifications()
        } else if PQstatus(handle) != CONNECTION_OK {
            throw connectionError(operation: "waiting for notifications")
        }
        return received
    }

    private func takeNotifications() -> [PostgresNotification] {
        var received: [PostgresNotification] = []
        while let notification = PQnotifies(handle) {
            received.append(
                PostgresNotification(
                    channel: String(cString: notification.pointee.relname),
                    payload: String(cString: notification.pointee.extra),
                    senderPID: notification.pointee.be_pid))
            PQfreemem(notification)
        }
        return received
    }

    // MARK: COPY

    /// Bulk-loads rows with `COPY table (columns) FROM STDIN` in text format.
    ///
    /// Values are written in their text form with backslash, tab, newline and carriage
    /// return escaped and NULL as `\N`; `bytea` goes as `\\x…` hex. Text with a NUL byte is
    /// refused (PostgreSQL text cannot hold it) and the COPY is aborted.
    ///
    /// - Returns: the number of rows copied.
    @discardableResult
    public func copy(
        into table: String, columns: [String], rows: some Sequence<[any PostgresEncodable]>
    ) throws(StoreError) -> Int {
        let operation = "copying rows into \(table)"
        let statement =
            "COPY \(quoteIdentifier(table)) (\(columns.map(quoteIdentifier).joined(separator: ", "))) FROM STDIN"
        guard let start = PQexec(handle, statement) else { throw connectionError(operation: operation) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            let failure = error(from: start, operation: operation)
            PQclear(start)
            throw failure
        }
        PQclear(start)

        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        var abortReason: String?
        var sendFailed = false
        func flush() {
            guard !buffer.isEmpty, !sendFailed else { return }
            let sent = buffer.withUnsafeBytes { raw in
                PQputCopyData(handle, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count))
            }
            if sent != 1 { sendFailed = true }
            buffer.removeAll(keepingCapacity: true)
        }
        rowLoop: for (rowNumber, row) in rows.enumerated() {
            guard row.count == columns.count else {
                abortReason = "row \(rowNumber + 1) has \(row.count) values for \(columns.count) columns"
                break
            }
            for (i, value) in row.enumerated() {
                if i > 0 { buffer.append(9) }
                guard let text = value.postgresBind.copyText else {
                    buffer.append(contentsOf: [92, 78])  // \N
                    continue
                }
                for byte in text.utf8 {
                    switch byte {
                    case 0:
                        abortReason = "row \(rowNumber + 1), column \(columns[i]): text cannot contain a NUL byte"
                        break rowLoop
                    case 92: buffer.append(contentsOf: [92, 92])  // \\
                    case 9: buffer.append(contentsOf: [92, 116])  // \t
                    case 10: buffer.append(contentsOf: [92, 110])  // \n
                    case 13: buffer.append(contentsOf: [92, 114])  // \r
                    default: buffer.append(byte)
                    }
                }
            }
            buffer.append(10)
            if buffer.count >= 1 << 16 { flush() }
            if sendFailed { break }
        }
        if abortReason == nil { flush() }
        let endStatus = PQputCopyEnd(handle, abortReason)
        // Drain every result until NULL so the connection is ready for the next statement.
        var failure: StoreError?
        var copied = 0
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = error(from: result, operation: operation)
            }
            PQclear(result)
        }
        if let abortReason {
            throw StoreError(operation: operation, message: abortReason)
        }
        if let failure { throw failure }
        if sendFailed || endStatus != 1 { throw connectionError(operation: operation) }
        return copied
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the whole call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
