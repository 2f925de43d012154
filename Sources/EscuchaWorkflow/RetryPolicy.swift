public import Foundation

/// What one delivery attempt came to, as far as retrying is concerned.
public enum DeliveryOutcome: Sendable, Equatable {
    /// The provider took the message; its id when it gave one.
    case accepted(providerID: String?)
    /// It may work later (5xx, 408, 429, timeouts, network trouble). `retryAfter` is the
    /// provider's own `Retry-After`, when it sent one.
    case transient(reason: String, retryAfter: Duration? = nil)
    /// It will fail the same way every time (other 4xx, bad configuration).
    case permanent(reason: String)

    /// Classifies an HTTP status: 2xx accepted; 408, 429 and 5xx transient; other 4xx, 3xx
    /// (redirects are not followed) and anything else permanent.
    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - providerID: the provider's message id, for 2xx.
    ///   - retryAfter: the `Retry-After` delay, for transient answers.
    public static func forHTTPStatus(_ status: Int, providerID: String? = nil, retryAfter: Duration? = nil) -> DeliveryOutcome {
        switch status {
        case 200..<300: .accepted(providerID: providerID)
        case 408, 429, 500..<600: .transient(reason: "the gateway answered HTTP \(status)", retryAfter: retryAfter)
        case 300..<400:
            .permanent(reason: "the gateway answered HTTP \(status) (a redirect, which is not followed): correct the URL of the reply template")
        case 400..<500:
            .permanent(reason: "the gateway refused the message with HTTP \(status): check the destination, the account and the API secret")
        default: .permanent(reason: "the gateway answered with the unexpected HTTP status \(status)")
        }
    }
}

/// What to do with an outbox row after an attempt.
public enum OutboxAction: Sendable, Equatable {
    /// Mark it sent, with the provider's id.
    case markSent(providerID: String?)
    /// Mark it failed and try again at `at`.
    case retry(at: Date, reason: String)
    /// Mark it dead: it will not be tried again without a person's decision.
    case markDead(reason: String)
}

/// When to try a failed delivery again, and when to give up.
///
/// Exponential backoff: after the n-th failed attempt the nominal delay is
/// `baseDelay × 2^(n-1)` (5 s, 10 s, 20 s, … by default), capped at `maxDelay` (1 h); the
/// actual delay is drawn uniformly from `[nominal × (1 - jitter), nominal]` with the random
/// generator passed in, so workers that failed together do not retry together. A
/// provider's `Retry-After` is honoured when it is longer (still capped). After
/// `maxAttempts` attempts the message is dead. Pure: time and randomness come in as
/// arguments.
public struct RetryPolicy: Sendable, Equatable {
    /// The delay after the first failure.
    public var baseDelay: Duration
    /// No delay is longer than this.
    public var maxDelay: Duration
    /// Attempts before the message is dead.
    public var maxAttempts: Int
    /// The share of the nominal delay that randomness may take off (0 = none, 1 = full jitter).
    public var jitter: Double

    /// Creates a policy.
    /// - Parameters:
    ///   - baseDelay: delay after the first failure (default 5 s).
    ///   - maxDelay: the cap (default 1 h).
    ///   - maxAttempts: attempts before giving up (default 8).
    ///   - jitter: share of the delay taken off at random (default 0.5, clamped to 0…1).
    public init(
        baseDelay: Duration = .seconds(5), maxDelay: Duration = .seconds(3600), maxAttempts: Int = 8, jitter: Double = 0.5
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = max(1, maxAttempts)
        self.jitter = min(1, max(0, jitter))
    }

    /// The delay before the next attempt, without jitter.
    /// - Parameter attempts: attempts made so far (1 after the first failure).
    public func nominalDelay(afterAttempts attempts: Int) -> Duration {
        let exponent = max(0, attempts - 1)
        // 2^exponent overflows nothing before the cap: stop doubling once past it.
        var delay = baseDelay
        for _ in 0..<min(exponent, 62) {
            delay *= 2
            if delay >= maxDelay { return maxDelay }
        }
        return min(delay, maxDelay)
    }

    /// The delay before the next attempt, with jitter.
    /// - Parameters:
    ///   - attempts: attempts made so far (1 after the first failure).
    ///   - generator: the source of randomness.
    public func delay(afterAttempts attempts: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let nominal = nominalDelay(afterAttempts: attempts)
        guard jitter > 0 else { return nominal }
        let fraction = Double.random(in: 0..<1, using: &generator) * jitter
        return nominal * (1 - fraction)
    }

    /// Decides what follows an attempt.
    /// - Parameters:
    ///   - outcome: how the attempt went.
    ///   - attempts: attempts made, this one included.
    ///   - now: the current time.
    ///   - generator: the source of randomness for the jitter.
    /// - Returns: the action for the IO layer.
    public func action(
        after outcome: DeliveryOutcome, attempts: Int, now: Date, using generator: inout some RandomNumberGenerator
    ) -> OutboxAction {
        switch outcome {
        case .accepted(let providerID):
            return .markSent(providerID: providerID)
        case .permanent(let reason):
            return .markDead(reason: reason)
        case .transient(let reason, let retryAfter):
            guard attempts < maxAttempts else {
                return .markDead(reason: "gave up after \(attempts) attempts; last: \(reason)")
            }
            var wait = delay(afterAttempts: attempts, using: &generator)
            if let retryAfter, retryAfter > wait { wait = min(retryAfter, maxDelay) }
            return .retry(at: now.addingTimeInterval(wait.timeInterval), reason: reason)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
