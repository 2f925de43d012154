import Foundation

/// A thread of our own that runs submitted jobs one after another.
///
/// libpq blocks the calling thread, and Swift's cooperative pool has as many threads as
/// cores (two here), so every blocking call runs on one of these instead; async callers
/// wait on a continuation. Jobs submitted after ``stop()`` still run (they must resume
/// their continuations); the thread ends once the queue is empty after `stop()`.
final class BlockingWorker: @unchecked Sendable {
    // All mutable state is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false

    /// Starts the thread.
    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `job` to run on the thread.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the thread and returns its result to the async caller.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Lets the thread end once its queue is empty.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll()
            condition.unlock()
            for job in batch { job() }
        }
    }
}

/// Runs a blocking `body` (process spawning, file IO) on a fresh thread of its own and
/// awaits it, keeping Swift's cooperative threads free.
func runDetached<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    let worker = BlockingWorker(name: name)
    defer { worker.stop() }
    return try await worker.run(body)
}
