import EscuchaStore
import Synchronization

/// Groups the writes of concurrent requests into one statement and one commit.
///
/// No timer: a request whose write finds the writers busy waits for the next group, which
/// takes everything queued meanwhile. Alone, a request is written at once; under load,
/// groups grow by themselves and the fixed costs of a statement and a commit are shared.
/// At most `writers` groups are in flight, each on its own pool connection.
final class GroupedWrites<Item: Sendable, Outcome: Sendable>: Sendable {
    /// Writes a group in one statement outside any transaction; one outcome per item, in order.
    typealias Write = @Sendable ([Item], PGConnection) throws -> [Outcome]

    private struct Waiting: Sendable {
        var item: Item
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    private struct State: Sendable {
        var queue: [Waiting] = []
        var writing = 0
    }

    private let pool: PostgresPool
    private let writers: Int
    private let maxGroup: Int
    private let writeGroup: Write
    private let state = Mutex(State())

    /// - Parameters:
    ///   - writers: groups written at the same time (less than the pool's size).
    ///   - maxGroup: items per group.
    ///   - write: writes one group.
    init(pool: PostgresPool, writers: Int, maxGroup: Int = 32, write: @escaping Write) {
        self.pool = pool
        self.writers = max(1, writers)
        self.maxGroup = max(1, maxGroup)
        self.writeGroup = write
    }

    /// Writes `item` with whatever else is waiting; returns its outcome once committed,
    /// or throws the error of its group.
    func write(_ item: Item) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLock { state -> Bool in
                state.queue.append(Waiting(item: item, continuation: continuation))
                guard state.writing < writers else { return false }
                state.writing += 1
                return true
            }
            // A writer is a task that ends when it finds the queue empty; whoever queues
            // while fewer than `writers` run starts one. Every waiting request is resumed
            // by the writer that took it, with its outcome or the group's error.
            if startWriter { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let group = state.withLock { state -> [Waiting] in
                let taken = Array(state.queue.prefix(maxGroup))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.writing -= 1 }
                return taken
            }
            if group.isEmpty { return }
            let items = group.map(\.item)
            let writeGroup = self.writeGroup
            do {
                let outcomes = try await pool.withConnection { connection in try writeGroup(items, connection) }
                guard outcomes.count == group.count else {
                    throw StoreError(operation: "writing a group", message: "\(outcomes.count) outcomes for \(group.count) items")
                }
                for (waiting, outcome) in zip(group, outcomes) { waiting.continuation.resume(returning: outcome) }
            } catch {
                for waiting in group { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}

/// Writes a group with `write`; when the database refuses the group as a whole but the
/// connection stands (a document it would not take, a concurrent retry), each item is
/// written alone, so one odd item cannot fail the others, and `refused` is the outcome of
/// an item refused alone. A lone item's refusal, and a lost connection, are thrown.
func writeGroupOrEachAlone<Item, Outcome>(
    _ items: [Item], write: ([Item]) throws(StoreError) -> [Outcome], refused: (StoreError) -> Outcome
) throws(StoreError) -> [Outcome] {
    do {
        return try write(items)
    } catch {
        if items.count < 2 || error.isConnectionFailure { throw error }
        var outcomes: [Outcome] = []
        for item in items {
            do {
                outcomes += try write([item])
            } catch {
                if error.isConnectionFailure { throw error }
                outcomes.append(refused(error))
            }
        }
        return outcomes
    }
}
