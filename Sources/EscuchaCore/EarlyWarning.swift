import Foundation

/// Aberration detection on daily (or weekly) counts: the CDC's EARS C1, C2 and C3 methods,
/// checked with an exact Poisson test so that a new deployment with little history does not
/// alarm on every single case.
///
/// Definitions (the series is indexed by period, `t` is the period tested):
/// - **C1**: `(x[t] − mean) / sd` over the baseline `x[t−7] … x[t−1]`.
/// - **C2**: the same over `x[t−9] … x[t−3]` (a two-period guard band).
/// - **C3**: `Σ max(0, C2[i] − 1)` for `i` in `t−2 … t`.
/// - C1 and C2 alarm above 3, C3 above 2.
///
/// `sd` is the sample standard deviation (divisor n − 1). When it is 0 the statistic is 0 if
/// `x[t]` equals the mean, and `+∞` (reported as unbounded) otherwise; the Poisson test then
/// decides whether that is an alert.
public enum EARS {
    /// The C1 statistic at `t`, or `nil` when the series has fewer than 7 periods before `t`.
    public static func c1(_ series: [Double], at t: Int) -> Double? {
        guard t >= 7, t < series.count else { return nil }
        return zScore(series[t], baseline: Array(series[(t - 7)..<t]))
    }

    /// The C2 statistic at `t`, or `nil` when the series has fewer than 9 periods before `t`.
    public static func c2(_ series: [Double], at t: Int) -> Double? {
        guard t >= 9, t < series.count else { return nil }
        return zScore(series[t], baseline: Array(series[(t - 9)...(t - 3)]))
    }

    /// The C3 statistic at `t`, or `nil` when C2 is not defined at `t − 2`.
    public static func c3(_ series: [Double], at t: Int) -> Double? {
        guard t >= 11, t < series.count else { return nil }
        var sum = 0.0
        for i in (t - 2)...t {
            guard let c2 = c2(series, at: i) else { return nil }
            sum += max(0, c2 - 1)
        }
        return sum
    }

    /// `(x − mean) / sd` of `baseline`, with the zero-variance convention described above.
    public static func zScore(_ x: Double, baseline: [Double]) -> Double {
        let (mean, sd) = meanAndSampleSD(baseline)
        if sd == 0 { return x == mean ? 0 : (x > mean ? .infinity : -.infinity) }
        return (x - mean) / sd
    }

    /// The mean and the sample standard deviation (n − 1) of `values`.
    public static func meanAndSampleSD(_ values: [Double]) -> (mean: Double, sd: Double) {
        guard !values.isEmpty else { return (0, 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (mean, (squares / Double(values.count - 1)).squareRoot())
    }
}

/// Exact Poisson tail probabilities.
public enum PoissonTest {
    /// `P(X ≥ observed)` for `X ~ Poisson(expected)`: the one-sided exact p-value of a count
    /// this high or higher. Computed by summing the lower tail in log space (stable for the
    /// counts reports see, up to tens of thousands).
    public static func upperTail(observed: Int, expected: Double) -> Double {
        if observed <= 0 { return 1 }
        if expected <= 0 { return 0 }
        // P(X ≥ k) for X ~ Poisson(λ) is the regularised lower incomplete gamma P(k, λ);
        // its series / continued fraction converge in O(√k) steps, so large weekly counts
        // cost no more than small ones.
        if observed > 30 { return regularizedLowerGamma(a: Double(observed), x: expected) }
        // P(X ≤ observed − 1), summed from the mode outwards is unnecessary at these sizes:
        // sum terms k = 0 … observed − 1 with a running log term.
        var logTerm = -expected  // log P(X = 0)
        var maxLog = logTerm
        var logs: [Double] = [logTerm]
        logs.reserveCapacity(observed)
        for k in 1..<observed {
            logTerm += log(expected) - log(Double(k))
            logs.append(logTerm)
            maxLog = max(maxLog, logTerm)
        }
        let lower = exp(maxLog) * logs.reduce(0) { $0 + exp($1 - maxLog) }
        if lower < 0.5 { return 1 - lower }
        // Near 1 the subtraction loses precision; sum the upper tail directly instead.
        var upper = 0.0
        var term = exp(logs[observed - 1] + log(expected) - log(Double(observed)))  // P(X = observed)
        var k = observed
        while term > 1e-300 && k < observed + 100_000 {
            upper += term
            k += 1
            term *= expected / Double(k)
            if term < upper * 1e-17 { break }
        }
        return min(1, max(0, upper))
    }
}

/// The regularised lower incomplete gamma function P(a, x) (Numerical Recipes' gser/gcf).
func regularizedLowerGamma(a: Double, x: Double) -> Double {
    if x <= 0 { return 0 }
    let logPrefix = -x + a * log(x) - lgamma(a)
    if x < a + 1 {
        var ap = a
        var term = 1 / a
        var sum = term
        for _ in 0..<10_000 {
            ap += 1
            term *= x / ap
            sum += term
            if abs(term) < abs(sum) * 1e-16 { break }
        }
        return min(1, max(0, sum * exp(logPrefix)))
    }
    // Continued fraction for Q(a, x) by the modified Lentz method.
    let tiny = 1e-300
    var b = x + 1 - a
    var c = 1 / tiny
    var d = 1 / b
    var h = d
    for i in 1..<10_000 {
        let an = -Double(i) * (Double(i) - a)
        b += 2
        d = an * d + b
        if abs(d) < tiny { d = tiny }
        c = b + an / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16 { break }
    }
    return min(1, max(0, 1 - exp(logPrefix) * h))
}

/// When a count is an alert.
public struct AlertPolicy: Sendable, Equatable, Codable {
    /// C1 and C2 alarm above this (EARS: 3).
    public var cThreshold: Double
    /// C3 alarms above this (EARS: 2).
    public var c3Threshold: Double
    /// The exact Poisson p-value must be below this.
    public var alpha: Double
    /// Fewer cases than this never make an alert (one case is not an outbreak).
    public var minimumCount: Int
    /// How many periods before `t` the Poisson expectation is averaged over (at least the
    /// 7 of C1, more when the series has them).
    public var poissonBaseline: Int
    /// The count must be at least this multiple of the expectation: with hundreds of cases a
    /// week, trend and seasonality make small rises "significant" for EARS and Poisson alike.
    public var minimumRatio: Double
    /// The expectation is never taken below this (a baseline of zeros would make any case
    /// "impossible").
    public var minimumExpected: Double

    /// Creates a policy; the defaults are EARS's thresholds with α = 0.0001 (a deployment
    /// tests dozens of place × family series every day).
    public init(
        cThreshold: Double = 3, c3Threshold: Double = 2, alpha: Double = 0.0001, minimumCount: Int = 3,
        poissonBaseline: Int = 28, minimumExpected: Double = 0.25, minimumRatio: Double = 1.5
    ) {
        self.minimumRatio = minimumRatio
        self.cThreshold = cThreshold
        self.c3Threshold = c3Threshold
        self.alpha = alpha
        self.minimumCount = minimumCount
        self.poissonBaseline = poissonBaseline
        self.minimumExpected = minimumExpected
    }
}

/// The outcome of testing one period of one series.
public struct AberrationResult: Sendable, Equatable, Codable {
    /// The period index in the series.
    public var index: Int
    /// The count observed.
    public var observed: Int
    /// The baseline mean of C1 (t−7 … t−1).
    public var baselineMean: Double
    /// The baseline sample standard deviation of C1.
    public var baselineSD: Double
    /// The Poisson expectation used (mean over the Poisson baseline, floored).
    public var expected: Double
    /// The EARS statistics (`nil` where the series is too short; may be infinite).
    public var c1: Double?
    public var c2: Double?
    public var c3: Double?
    /// The exact one-sided Poisson p-value.
    public var pValue: Double
    /// The methods that alarmed, e.g. `["C1", "C3"]`; empty when none did.
    public var methods: [String]
    /// Whether this is an alert: some EARS method alarmed, the Poisson test agrees, the
    /// count reaches the policy's minimum and is at least `minimumRatio` times the expectation.
    public var isAlert: Bool
}

/// Runs EARS and the Poisson test over a series.
public enum AberrationDetector {
    /// Tests period `t` of `series`; `nil` when there are fewer than 7 periods before it.
    public static func test(_ series: [Int], at t: Int, policy: AlertPolicy = AlertPolicy()) -> AberrationResult? {
        let values = series.map(Double.init)
        guard let c1 = EARS.c1(values, at: t) else { return nil }
        let c2 = EARS.c2(values, at: t)
        let c3 = EARS.c3(values, at: t)
        let (mean, sd) = EARS.meanAndSampleSD(Array(values[(t - 7)..<t]))
        let span = min(t, max(7, policy.poissonBaseline))
        let longMean = values[(t - span)..<t].reduce(0, +) / Double(span)
        let expected = max(policy.minimumExpected, longMean)
        let p = PoissonTest.upperTail(observed: series[t], expected: expected)
        var methods: [String] = []
        if c1 > policy.cThreshold { methods.append("C1") }
        if let c2, c2 > policy.cThreshold { methods.append("C2") }
        if let c3, c3 > policy.c3Threshold { methods.append("C3") }
        let alert =
            !methods.isEmpty && p < policy.alpha && series[t] >= policy.minimumCount
            && Double(series[t]) >= policy.minimumRatio * expected
        return AberrationResult(
            index: t, observed: series[t], baselineMean: mean, baselineSD: sd, expected: expected,
            c1: c1, c2: c2, c3: c3, pValue: p, methods: methods, isAlert: alert)
    }

    /// Tests every period of `range` (periods with too little history are skipped).
    public static func scan(_ series: [Int], in range: Range<Int>? = nil, policy: AlertPolicy = AlertPolicy()) -> [AberrationResult] {
        let range = range ?? 0..<series.count
        return range.compactMap { test(series, at: $0, policy: policy) }
    }
}

/// A histogram of durations kept in the daily summary: bucket lower bounds in minutes, 5
/// minutes wide below 2 hours, 60 below 2 days, 1440 below 60 days, then one open bucket
/// from 60 days. Medians are interpolated inside the bucket that holds the middle, so they
/// are exact to within the bucket's width.
public enum DurationHistogram {
    /// The width in minutes of the bucket that starts at `lower` (0 for the open bucket).
    public static func width(ofBucketAt lower: Int) -> Int {
        if lower < 120 { return 5 }
        if lower < 2880 { return 60 }
        if lower < 86400 { return 1440 }
        return 0
    }

    /// The bucket of a duration in minutes (the same rule as the summary's SQL).
    public static func bucket(minutes: Double) -> Int {
        let seconds = max(minutes * 60, 0)
        if seconds < 7200 { return Int(seconds / 300) * 5 }
        if seconds < 172_800 { return Int(seconds / 3600) * 60 }
        if seconds < 5_184_000 { return Int(seconds / 86400) * 1440 }
        return 86400
    }

    /// The median in hours of the durations counted per bucket (`nil` when there are none),
    /// assuming values spread evenly inside a bucket, like `percentile_cont` between ranks.
    public static func medianHours(_ counts: [Int: Int]) -> Double? {
        let buckets = counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let total = buckets.reduce(0) { $0 + $1.value }
        guard total > 0 else { return nil }
        let half = Double(total) / 2
        var below = 0
        for (lower, count) in buckets {
            if Double(below + count) >= half {
                let fraction = (half - Double(below)) / Double(count)
                return (Double(lower) + fraction * Double(width(ofBucketAt: lower))) / 60
            }
            below += count
        }
        return Double(buckets.last!.key) / 60
    }
}
