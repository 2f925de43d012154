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
            descriptor: MetricNameDescriptor(
                metricName: "escucha_webhook_duration", unitName: "seconds",
                helpText: "Time to answer a webhook request, from the first byte of the body to the answer."),
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
        outboxDepth = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "escucha_outbox", unitName: "depth", helpText: "Outgoing messages waiting to be sent (pending or failed)."))
    }

    private static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "escucha_webhook_requests", unitName: "total", helpText: "Webhook requests by channel and outcome.")
    }
    private static var flags: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "escucha_flags_raised", unitName: "total", helpText: "Flags raised by the classifier on received messages.")
    }

    /// Counts one webhook request.
    func request(channel: String, outcome: String, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests, labels: [("channel", channel), ("outcome", outcome)]).increment()
        latency.recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Counts flags raised on new messages.
    func flagsRaised(_ flags: [String]) {
        for flag in flags {
            registry.makeCounter(descriptor: Self.flags, labels: [("flag", flag)]).increment()
        }
    }
}
