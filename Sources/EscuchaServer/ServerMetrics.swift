import Prometheus
import Synchronization

/// The Prometheus metrics `/metrics` serves. Kept in a registry of our own (not the global
/// metrics system) so every server and every test has its own.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let latency: DurationHistogram
    public let outboxDepth: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        latency = registry.makeDurationHistogram(
            name: "escucha_webhook_duration_seconds",
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "Time to answer a webhook request, from the first byte of the body to the answer.")
        outboxDepth = registry.makeGauge(name: "escucha_outbox_depth", help: "Outgoing messages waiting to be sent (pending or failed).")
    }

    /// Counts one webhook request.
    func request(channel: String, outcome: String, duration: Duration) {
        registry.makeCounter(name: "escucha_webhook_requests_total", labels: [("channel", channel), ("outcome", outcome)], help: "Webhook requests by channel and outcome.").increment()
        latency.recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Counts flags raised on new messages.
    func flagsRaised(_ flags: [String]) {
        for flag in flags {
            registry.makeCounter(name: "escucha_flags_raised_total", labels: [("flag", flag)], help: "Flags raised by the classifier on received messages.").increment()
        }
    }
}
