import EscuchaCore
import Foundation
import Testing

@Suite struct EarlyWarningStatisticsTests {
    @Test func c1MatchesAHandComputedSeries() throws {
        // Baseline 2,4,2,4,2,4,2: mean 20/7, sample sd √(48/42); (10 − 20/7) / sd = 6.68153…
        let series: [Double] = [2, 4, 2, 4, 2, 4, 2, 10]
        let c1 = try #require(EARS.c1(series, at: 7))
        #expect(abs(c1 - 6.6815310478106085) < 1e-9)
        #expect(EARS.c1(series, at: 6) == nil)
    }

    @Test func c2AndC3MatchAHandComputedSeries() throws {
        let series: [Double] = [1, 2, 3, 1, 2, 3, 1, 5, 6, 9, 3, 12]
        // C2 at 9 uses days 0…6 (mean 13/7): (9 − 13/7) / sd = 7.93884…
        #expect(abs(try #require(EARS.c2(series, at: 9)) - 7.938841860374446) < 1e-9)
        #expect(abs(try #require(EARS.c2(series, at: 10)) - 0.40895890595459833) < 1e-9)
        #expect(abs(try #require(EARS.c2(series, at: 11)) - 4.700096710803842) < 1e-9)
        // C3 at 11 = (7.9388 − 1) + 0 + (4.7001 − 1) = 10.63894…
        #expect(abs(try #require(EARS.c3(series, at: 11)) - 10.638938571178288) < 1e-9)
        #expect(EARS.c3(series, at: 10) == nil)
    }

    @Test func zeroVarianceIsZeroWhenEqualAndUnboundedAbove() {
        #expect(EARS.zScore(5, baseline: [5, 5, 5, 5, 5, 5, 5]) == 0)
        #expect(EARS.zScore(6, baseline: [5, 5, 5, 5, 5, 5, 5]) == .infinity)
    }

    @Test(arguments: [
        (10, 3.0, 0.0011024881301153755), (1, 0.5, 0.3934693402873666), (21, 10.0, 0.0015882606618579098),
        (5, 5.0, 0.5595067149347877), (0, 2.0, 1.0),
    ])
    func poissonUpperTailIsExact(observed: Int, expected: Double, p: Double) {
        let value = PoissonTest.upperTail(observed: observed, expected: expected)
        #expect(abs(value - p) / p < 1e-9)
    }

    @Test func poissonUpperTailOfLargeCountsMatchesTheDirectSum() {
        // Above 30 the incomplete gamma is used; compare with an explicit sum in log space.
        for (observed, expected) in [(31, 20.0), (45, 30.0), (80, 100.0), (150, 100.0), (35, 35.0)] {
            var logTerm = -expected
            var lower = exp(logTerm)
            for k in 1..<observed {
                logTerm += log(expected) - log(Double(k))
                lower += exp(logTerm)
            }
            let direct = 1 - lower
            let value = PoissonTest.upperTail(observed: observed, expected: expected)
            // The direct sum loses ~1e-13 to cancellation; the gamma form is the more accurate one.
            #expect(abs(value - direct) <= 1e-12 + 1e-7 * direct, "\(observed) vs \(expected)")
        }
    }

    @Test func poissonUpperTailStaysAccurateForLargeCounts() {
        // Poisson(1000): P(X ≥ 1000) is just over one half; P(X ≥ 1200) is tiny but positive.
        let half = PoissonTest.upperTail(observed: 1000, expected: 1000)
        #expect(half > 0.5 && half < 0.52)
        let tail = PoissonTest.upperTail(observed: 1200, expected: 1000)
        #expect(tail > 0 && tail < 1e-8)
    }
}

@Suite struct EarlyWarningAlertTests {
    /// A Poisson(λ) sample by inversion, deterministic.
    static func poisson(_ lambda: Double, _ rng: inout SeededRandom) -> Int {
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        var k = 0
        var p = Foundation.exp(-lambda)
        var cumulative = p
        while u > cumulative && k < 10_000 {
            k += 1
            p *= lambda / Double(k)
            cumulative += p
        }
        return k
    }

    @Test func flatSeriesNeverAlerts() {
        let series = Array(repeating: 4, count: 90)
        #expect(AberrationDetector.scan(series).allSatisfy { !$0.isAlert })
    }

    @Test(arguments: [1 as UInt64, 2, 3, 4, 5])
    func noisySeriesStaysQuiet(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for lambda in [0.3, 2.0, 8.0, 25.0] {
            let series = (0..<120).map { _ in Self.poisson(lambda, &rng) }
            let alerts = AberrationDetector.scan(series).filter(\.isAlert)
            #expect(alerts.isEmpty, "λ=\(lambda): \(alerts.map(\.index))")
        }
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func injectedOutbreakFires(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for lambda in [0.5, 3.0, 10.0] {
            var series = (0..<60).map { _ in Self.poisson(lambda, &rng) }
            // An outbreak: four days at several times the usual level.
            let extra = max(6, Int(lambda * 4))
            for day in 45..<49 { series[day] += extra }
            let alerts = AberrationDetector.scan(series).filter(\.isAlert).map(\.index)
            #expect(alerts.contains { (45..<49).contains($0) }, "λ=\(lambda)")
            #expect(!alerts.contains { $0 < 45 }, "λ=\(lambda): false alarm before the outbreak")
        }
    }

    @Test func newDeploymentDoesNotAlertOnASingleCase() throws {
        var series = Array(repeating: 0, count: 10)
        series[9] = 1
        let result = try #require(AberrationDetector.test(series, at: 9))
        #expect(result.c1 == .infinity)
        #expect(!result.isAlert)
    }
}

@Suite struct EarlyWarningDisclosureTests {
    /// Every line (row or column, with its margin) hides none or at least two entries, and
    /// every count 1…k−1 (cells and totals) is hidden.
    static func checkSafe(_ table: SuppressedTable) {
        let rows = table.cells.count
        let columns = table.cells.first?.count ?? 0
        for r in 0..<rows {
            let hidden = table.cellHidden[r].filter { $0 }.count + (table.rowTotalHidden[r] ? 1 : 0)
            #expect(hidden != 1, "row \(r) hides exactly one entry")
            for c in 0..<columns where Disclosure.isSensitive(table.cells[r][c], k: table.k) {
                #expect(table.cellHidden[r][c])
            }
            if Disclosure.isSensitive(table.rowTotals[r], k: table.k) { #expect(table.rowTotalHidden[r]) }
        }
        for c in 0..<columns {
            let hidden = (0..<rows).filter { table.cellHidden[$0][c] }.count + (table.columnTotalHidden[c] ? 1 : 0)
            #expect(hidden != 1, "column \(c) hides exactly one entry")
            if Disclosure.isSensitive(table.columnTotals[c], k: table.k) { #expect(table.columnTotalHidden[c]) }
        }
        let totalsRow = table.columnTotalHidden.filter { $0 }.count + (table.grandTotalHidden ? 1 : 0)
        let totalsColumn = table.rowTotalHidden.filter { $0 }.count + (table.grandTotalHidden ? 1 : 0)
        #expect(totalsRow != 1 && totalsColumn != 1)
    }

    @Test func aSingleSmallCellGetsAPartnerInItsRowAndColumn() {
        let table = SuppressedTable(cells: [[20, 3, 30], [15, 12, 40], [9, 25, 11]], k: 5)
        #expect(table.text(row: 0, column: 1) == "<5")
        #expect(table.cellHidden[0].filter { $0 }.count >= 2)
        #expect((0..<3).filter { table.cellHidden[$0][1] }.count >= 2)
        #expect(table.grandTotalText == "165")
        Self.checkSafe(table)
    }

    @Test func nothingIsHiddenWithoutSmallCounts() {
        let table = SuppressedTable(cells: [[20, 0, 30], [15, 12, 40]], k: 5)
        #expect(table.cellHidden.allSatisfy { $0.allSatisfy { !$0 } })
        #expect(table.text(row: 0, column: 1) == "0")
    }

    @Test(arguments: Array(1...40) as [UInt64])
    func randomTablesNeverLeakThroughTotals(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let rows = Int.random(in: 1...7, using: &rng)
        let columns = Int.random(in: 1...6, using: &rng)
        let cells = (0..<rows).map { _ in
            (0..<columns).map { _ in Bool.random(using: &rng) ? Int.random(in: 0...6, using: &rng) : Int.random(in: 0...60, using: &rng) }
        }
        Self.checkSafe(SuppressedTable(cells: cells, k: 5))
    }
}

@Suite struct EarlyWarningTermsTests {
    @Test func termsFoldAccentsAndDropNamesNumbersAndEmails() {
        let terms = EmergingTerms.terms(of: "Dicen que la Cruz Roja cobra. Llamar a Pedro al 3001234567 o pedro@x.org, vacúna")
        #expect(terms.contains("dicen"))
        #expect(terms.contains("cobra"))
        #expect(terms.contains("vacuna"))
        #expect(!terms.contains("pedro"))
        #expect(!terms.contains { $0.contains("300") || $0.contains("@") })
    }

    @Test func aRisingPhraseIsFoundAndAStableOneIsNot() {
        let baseline = (0..<400).map { i in EmergingTerms.terms(of: i % 2 == 0 ? "necesito comida para mis hijos" : "no hay agua en el albergue") }
        var current = (0..<100).map { i in EmergingTerms.terms(of: i % 2 == 0 ? "necesito comida para mis hijos" : "no hay agua en el albergue") }
        current += (0..<12).map { _ in EmergingTerms.terms(of: "dicen que la vacuna esteriliza") }
        let found = EmergingTerms.find(current: current, baseline: baseline, k: 5)
        #expect(found.contains { $0.term == "vacuna esteriliza" })
        #expect(!found.contains { $0.term.contains("comida") || $0.term.contains("agua") })
    }

    @Test func redactionHidesNumbersEmailsAndNames() {
        let text = Redaction.redact("Me llamo Ana y mi numero es +57 300 123 4567, correo ana@mail.com. Ayuda por favor")
        #expect(text == "Me llamo [name] y mi numero es [number] correo [email] Ayuda por favor")
    }
}

@Suite struct DurationHistogramTests {
    @Test func bucketsFollowTheSummaryRule() {
        #expect(DurationHistogram.bucket(minutes: 0) == 0)
        #expect(DurationHistogram.bucket(minutes: 12.5) == 10)
        #expect(DurationHistogram.bucket(minutes: 119.9) == 115)
        #expect(DurationHistogram.bucket(minutes: 150) == 120)
        #expect(DurationHistogram.bucket(minutes: 47 * 60 + 59) == 47 * 60)
        #expect(DurationHistogram.bucket(minutes: 3.5 * 1440) == 3 * 1440)
        #expect(DurationHistogram.bucket(minutes: 90 * 1440) == 86400)
        #expect(DurationHistogram.width(ofBucketAt: 115) == 5)
        #expect(DurationHistogram.width(ofBucketAt: 120) == 60)
        #expect(DurationHistogram.width(ofBucketAt: 2880) == 1440)
    }

    @Test func medianIsWithinTheBucketOfTheExactMedian() {
        var random = SeededRandom(seed: 11)
        for _ in 0..<50 {
            let values = (0..<(1 + Int(random.next() % 300))).map { _ in Double(random.next() % 400_000) / 100 }  // minutes
            var counts: [Int: Int] = [:]
            for value in values { counts[DurationHistogram.bucket(minutes: value), default: 0] += 1 }
            let sorted = values.sorted()
            let exact = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            let median = try! #require(DurationHistogram.medianHours(counts))
            // Both lie between the start of the bucket of the lower middle value and the end
            // of the bucket of the upper one (the same bucket when data are dense).
            let low = DurationHistogram.bucket(minutes: sorted[(sorted.count - 1) / 2])
            let highBucket = DurationHistogram.bucket(minutes: sorted[sorted.count / 2])
            let high = highBucket + DurationHistogram.width(ofBucketAt: highBucket)
            #expect(Double(low) / 60 - 1e-9 <= median && median <= Double(high) / 60 + 1e-9, "\(median) outside \(low)…\(high) min")
            #expect(abs(median - exact / 60) <= Double(high - low) / 60 + 1e-9, "\(median) vs \(exact / 60)")
        }
        #expect(DurationHistogram.medianHours([:]) == nil)
        // Two tickets in the 10–15 minute bucket: the middle of it.
        #expect(DurationHistogram.medianHours([10: 2]) == 12.5 / 60)
    }
}
