import Foundation
import Logging
import Synchronization

/// A bounded pool of PostgreSQL connections for async code.
///
/// Each connection has its own thread (``BlockingWorker``); `withConnection` and
/// `withTransaction` wait (asynchronously) for a free connection, then run the synchronous
/// closure on that connection's thread, so no libpq call ever blocks one of Swift's
/// cooperative threads:
///
/// ```swift
/// let pool = PostgresPool(configuration: .init(conninfo: url, size: 4))
/// let count = try await pool.withTransaction { conn in
///     try conn.execute("UPDATE tickets SET status = 'open' WHERE id = \(id)")
/// }
/// ```
///
/// Connections are opened lazily. Before a connection is lent, a connection the server
/// closed (for example after `pg_ctl restart`) is reset once; a statement that was running
/// when the connection broke fails with ``StoreError/isConnectionFailure`` and is not
/// retried (it may have had effects). Call ``close()`` when done.
public final class PostgresPool: Sendable {
    /// How to connect and how many connections to keep.
    public struct Configuration: Sendable {
        /// A libpq connection string or URL; empty for libpq's defaults (`PG*`, `.pgpass`).
        public var conninfo: String
        /// Keyword/value pairs overriding `conninfo` (e.g. `dbname`).
        public var parameters: [ConnectionParameter]
        /// The most connections open at once.
        public var size: Int

        /// Creates a configuration.
        public init(conninfo: String, parameters: [ConnectionParameter] = [], size: Int = 4) {
            self.conninfo = conninfo
            self.parameters = parameters
            self.size = max(1, size)
        }
    }

    /// One libpq keyword and its value.
    public struct ConnectionParameter: Sendable, Hashable {
        /// The keyword, e.g. `dbname`.
        public var keyword: String
        /// The value.
        public var value: String
        /// Creates a parameter.
        public init(_ keyword: String, _ value: String) {
            self.keyword = keyword
            self.value = value
        }
    }

    /// A connection slot: its thread and the connection only that thread touches.
    private final class Slot: @unchecked Sendable {
        let worker: BlockingWorker
        // Read and written only on `worker`'s thread.
        var connection: PGConnection?

        init(index: Int) { worker = BlockingWorker(name: "escucha-pg-\(index)") }
    }

    private struct State {
        var free: [Int]
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Int, any Error>)] = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    /// The configuration the pool was made with.
    public let configuration: Configuration
    private let slots: [Slot]
    private let state: Mutex<State>
    private let logger: Logger

    /// Creates a pool; no connection is opened until one is needed.
    public init(configuration: Configuration, logger: Logger = Logger(label: "escucha.store")) {
        self.configuration = configuration
        self.logger = logger
        slots = (0..<configuration.size).map(Slot.init(index:))
        state = Mutex(State(free: Array((0..<configuration.size).reversed())))
    }

    deinit {
        for slot in slots {
            slot.worker.submit { slot.connection = nil }
            slot.worker.stop()
        }
    }

    /// Closes every connection and fails waiting and later calls.
    public func close() async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.closedError) }
        for slot in slots {
            _ = try? await slot.worker.run { slot.connection = nil }
        }
    }

    private static let closedError = StoreError(operation: "acquiring a connection", message: "the pool is closed")

    // MARK: Lending

    /// Runs `body` with a connection of the pool, on that connection's thread.
    ///
    /// - Parameter body: synchronous work on the connection; it must not keep the connection.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        let index = try await acquire()
        defer { release(index) }
        let slot = slots[index]
        let configuration = configuration
        return try await slot.worker.run {
            let connection: PGConnection
            if let existing = slot.connection {
                do {
                    try existing.prepareForUse()
                } catch {
                    slot.connection = nil
                    throw error
                }
                connection = existing
            } else {
                connection = try PGConnection(
                    conninfo: configuration.conninfo,
                    parameters: configuration.parameters.map { ($0.keyword, $0.value) })
                slot.connection = connection
            }
            return try body(connection)
        }
    }

    /// Runs `body` in a transaction on a connection of the pool: `BEGIN`, then `COMMIT`, or
    /// `ROLLBACK` when `body` throws. See ``PGConnection/transaction(_:)`` for the errors.
    @discardableResult
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withConnection { connection in
            try connection.transaction { try body(connection) }
        }
    }

    /// Sends a notification on `channel`.
    public func notify(channel: String, payload: String = "") async throws {
        try await withConnection { try $0.notify(channel: channel, payload: payload) }
    }

    private func acquire() async throws -> Int {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let outcome = state.withLock { state -> Result<Int, any Error>? in
                    if state.closed { return .failure(Self.closedError) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let index = state.free.popLast() { return .success(index) }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ index: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Int, any Error>? in
            if state.waiters.isEmpty {
                state.free.append(index)
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume(returning: index)
    }

    // MARK: LISTEN

    /// Listens on `channels` on a connection of its own and yields the notifications.
    ///
    /// The connection and its polling thread live until the stream's consumer stops (the
    /// stream is dropped or its task cancelled). `LISTEN` has been issued when this returns,
    /// so notifications sent afterwards are delivered. When the connection is lost the
    /// stream finishes with the error: notifications sent meanwhile are lost, so the caller
    /// should re-read what it watches and listen again.
    public func listen(to channels: [String]) async throws -> AsyncThrowingStream<PostgresNotification, any Error> {
        let (stream, continuation) = AsyncThrowingStream<PostgresNotification, any Error>.makeStream()
        let stopped = Mutex(false)
        continuation.onTermination = { _ in stopped.withLock { $0 = true } }
        let worker = BlockingWorker(name: "escucha-pg-listen")
        let configuration = configuration
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            worker.submit {
                defer { worker.stop() }
                // Connect and LISTEN before resuming the caller, so it is listening when
                // `listen` returns; then this thread keeps polling the socket.
                let connection: PGConnection
                do {
                    connection = try PGConnection(
                        conninfo: configuration.conninfo,
                        parameters: configuration.parameters.map { ($0.keyword, $0.value) })
                    for channel in channels { try connection.listen(to: channel) }
                } catch {
                    continuation.finish(throwing: error)
                    ready.resume(throwing: error)
                    return
                }
                ready.resume()
                while !stopped.withLock({ $0 }) {
                    do {
                        for notification in try connection.waitForNotifications(timeoutMilliseconds: 200) {
                            continuation.yield(notification)
                        }
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                }
                continuation.finish()
            }
        }
        return stream
    }
}
