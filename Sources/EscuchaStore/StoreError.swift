/// A SQLSTATE code (five characters) as reported by PostgreSQL.
///
/// Named constants cover the codes Escucha reacts to; compare with `==`.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The five-character code, e.g. `23505`.
    public let rawValue: String

    /// Creates a code from its five characters.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The code itself.
    public var description: String { rawValue }

    /// The two-character class, e.g. `23` for integrity constraint violations.
    public var errorClass: String { String(rawValue.prefix(2)) }

    /// Whether the failure concerns the connection itself (class 08, or the server shutting down).
    public var isConnectionFailure: Bool {
        errorClass == "08" || self == .adminShutdown || self == .crashShutdown || self == .cannotConnectNow
    }

    /// 23505: a unique constraint or index would be violated.
    public static let uniqueViolation = SQLState(rawValue: "23505")
    /// 23503: a foreign key would be violated.
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    /// 23502: NULL in a NOT NULL column.
    public static let notNullViolation = SQLState(rawValue: "23502")
    /// 23514: a CHECK constraint would be violated.
    public static let checkViolation = SQLState(rawValue: "23514")
    /// 23P01: an exclusion constraint would be violated.
    public static let exclusionViolation = SQLState(rawValue: "23P01")
    /// 22P02: text that is not a valid value of the type (e.g. a malformed uuid).
    public static let invalidTextRepresentation = SQLState(rawValue: "22P02")
    /// 22021: bytes that are not valid in the encoding (e.g. invalid UTF-8 as text).
    public static let characterNotInRepertoire = SQLState(rawValue: "22021")
    /// 25006: a write in a read-only transaction.
    public static let readOnlySQLTransaction = SQLState(rawValue: "25006")
    /// 25P02: the transaction was aborted by an earlier error.
    public static let inFailedSQLTransaction = SQLState(rawValue: "25P02")
    /// 40001: the transaction could not be serialised; retry it.
    public static let serializationFailure = SQLState(rawValue: "40001")
    /// 40P01: a deadlock was detected; retry it.
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    /// 42501: the role lacks the privilege (also row-level security refusals).
    public static let insufficientPrivilege = SQLState(rawValue: "42501")
    /// 42601: SQL syntax error.
    public static let syntaxError = SQLState(rawValue: "42601")
    /// 42703: no such column.
    public static let undefinedColumn = SQLState(rawValue: "42703")
    /// 42P01: no such table.
    public static let undefinedTable = SQLState(rawValue: "42P01")
    /// 42P04: the database already exists.
    public static let duplicateDatabase = SQLState(rawValue: "42P04")
    /// 42710: the object already exists.
    public static let duplicateObject = SQLState(rawValue: "42710")
    /// 55P03: a lock could not be taken (`NOWAIT`).
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    /// 57014: the statement was cancelled (timeout or request).
    public static let queryCanceled = SQLState(rawValue: "57014")
    /// 57P01: the server is shutting down (e.g. `pg_ctl restart`).
    public static let adminShutdown = SQLState(rawValue: "57P01")
    /// 57P02: the server crashed.
    public static let crashShutdown = SQLState(rawValue: "57P02")
    /// 57P03: the server is starting up or shutting down.
    public static let cannotConnectNow = SQLState(rawValue: "57P03")
    /// 08000: connection exception.
    public static let connectionException = SQLState(rawValue: "08000")
    /// 08006: connection failure.
    public static let connectionFailure = SQLState(rawValue: "08006")
    /// P0001: raised by `RAISE EXCEPTION` in PL/pgSQL (e.g. the audit log refusing an update).
    public static let raiseException = SQLState(rawValue: "P0001")
}

/// The step of a transaction that failed.
public enum TransactionStage: String, Sendable {
    /// `BEGIN` failed.
    case begin = "BEGIN"
    /// A statement of the transaction's body failed.
    case body = "the transaction body"
    /// `ROLLBACK` failed after the body threw.
    case rollback = "ROLLBACK"
    /// `COMMIT` failed (or the server rolled the transaction back instead).
    case commit = "COMMIT"
}

/// An error of the store: the operation that failed, PostgreSQL's SQLSTATE, message and
/// detail.
///
/// `description` is safe to log: it names the operation, the SQLSTATE and the server's
/// primary message, never bind values or the server's *detail* (which quotes row values,
/// e.g. the duplicated key). Data exceptions (SQLSTATE class 22) quote the offending input
/// in their primary message, so for them the message is left out too. Everything is in
/// `debugDescription`, for local debugging only.
public struct StoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What the store was doing, e.g. "connecting", "running query", "claiming outbox rows".
    public var operation: String
    /// The SQLSTATE reported by the server, when the server reported one.
    public var sqlState: SQLState?
    /// The server's primary message, or libpq's / the store's own message.
    public var message: String
    /// The server's detail (may quote personal data: never log it).
    public var detail: String?
    /// The server's hint.
    public var hint: String?
    /// The constraint named by the server, e.g. `contacts_address_hash_key`.
    public var constraint: String?
    /// The table named by the server.
    public var table: String?
    /// The column named by the server.
    public var column: String?
    /// The step of a transaction that failed, when the error came out of `withTransaction`.
    public var transactionStage: TransactionStage?
    /// The error that came first, e.g. the body's error when the ROLLBACK after it failed.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(
        operation: String, sqlState: SQLState? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil,
        transactionStage: TransactionStage? = nil, underlying: (any Error)? = nil
    ) {
        self.operation = operation
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.transactionStage = transactionStage
        self.underlying = underlying
    }

    /// Whether the connection is unusable after this error (server gone, restarted, network).
    public var isConnectionFailure: Bool { sqlState?.isConnectionFailure ?? false || _connectionLost }
    var _connectionLost = false

    public var description: String {
        var text = "\(operation) failed"
        if let stage = transactionStage { text += " (in \(stage.rawValue))" }
        if sqlState?.errorClass == "22" {
            text += ": invalid data value"
        } else {
            text += ": \(message)"
        }
        if let constraint { text += " [constraint \(constraint)]" }
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let hint, sqlState?.errorClass != "22" { text += "; hint: \(hint)" }
        if let underlying, transactionStage == .rollback {
            text += "; the body had thrown \(type(of: underlying))"
        }
        return text
    }

    public var debugDescription: String {
        var text = "\(operation) failed"
        if let stage = transactionStage { text += " (in \(stage.rawValue))" }
        text += ": \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        if let table { text += "\nTABLE: \(table)" }
        if let column { text += "\nCOLUMN: \(column)" }
        if let constraint { text += "\nCONSTRAINT: \(constraint)" }
        if let underlying { text += "\nUNDERLYING: \(String(reflecting: underlying))" }
        return text
    }

    /// The same error, marked with the transaction step it happened in.
    func inTransaction(_ stage: TransactionStage) -> StoreError {
        var copy = self
        copy.transactionStage = stage
        return copy
    }
}
