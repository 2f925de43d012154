import EscuchaCore
import EscuchaReports
import EscuchaStore
import EscuchaTestSupport
import Foundation
import Logging
import Testing

/// One seeded database shared by the suite (seeding is the slow part).
enum SeededDatabase {
    static let end = ReportCalendar.parse("2026-06-30")!
    static let taxonomy = try! Taxonomy.load(path: configPath("taxonomy.yaml"))
    static var restricted: [String] { taxonomy.flags.filter(\.restricted).map(\.code.rawValue) }

    static func configPath(_ file: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config").appendingPathComponent(file).path
    }

    static let pool: Task<PostgresPool, any Error> = Task {
        let pool = try await TestCluster.migratedPool("reports")
        let seeder = HistorySeeder(tickets: 30_000, seed: 7, endDay: end, days: 180)
        try await seeder.run(pool, restrictedFlags: Set(restricted), now: end.addingTimeInterval(86_400))
        return pool
    }

    static func builder(_ pool: PostgresPool) throws -> EarlyWarningBuilder {
        EarlyWarningBuilder(
            pool: pool, taxonomy: taxonomy, places: try PlaceDirectory.load(path: configPath("places.yaml")),
            logger: Logger(label: "test.reports"))
    }

    static func request(by: ReportGranularity = .day, cleared: Bool = false, examples: Bool = false) -> EarlyWarningRequest {
        EarlyWarningRequest(
            from: ReportCalendar.adding(days: -55, to: end), to: end, granularity: by, examples: examples, cleared: cleared,
            now: end.addingTimeInterval(86_400))
    }
}

@Suite(.serialized) struct EarlyWarningReportTests {
    @Test func alertsFireOnTheInjectedOutbreaks() async throws {
        let pool = try await SeededDatabase.pool.value
        let report = try await SeededDatabase.builder(pool).build(SeededDatabase.request())
        let seeder = HistorySeeder(tickets: 1, seed: 7, endDay: SeededDatabase.end, days: 180)
        for outbreak in seeder.outbreaks {
            let family = SeededDatabase.taxonomy.flag(FlagCode(outbreak.flag))!.family
            let first = ReportCalendar.adding(days: -outbreak.daysBeforeEnd, to: SeededDatabase.end)
            let window = (0..<outbreak.days).map { ReportCalendar.format(ReportCalendar.adding(days: $0, to: first)) }
            #expect(
                report.alerts.contains { $0.location == outbreak.location && $0.family == family && window.contains($0.periodStart) },
                "no alert for \(outbreak.location) \(family)")
        }
        // Outside the outbreaks the places stay (nearly) quiet: at most one stray alert.
        let outbreakPlaces = Set(seeder.outbreaks.map(\.location))
        let stray = report.alerts.filter { !outbreakPlaces.contains($0.location) }
        #expect(stray.count <= 1, "\(stray.map { "\($0.location) \($0.family) \($0.periodStart)" })")
        for alert in report.alerts {
            #expect(alert.pValue < 0.0001)
            #expect(!alert.methods.isEmpty)
        }
    }

    @Test func figuresMatchTheTickets() async throws {
        let pool = try await SeededDatabase.pool.value
        let request = SeededDatabase.request(by: .week)
        let report = try await SeededDatabase.builder(pool).build(request)
        let from = report.from
        let endExclusive = ReportCalendar.format(ReportCalendar.adding(days: 1, to: request.to))
        let expected = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT count(*)::bigint AS n,
                       count(*) FILTER (WHERE channel_id = 'hotline')::bigint AS hotline,
                       count(*) FILTER (WHERE 'protection.extortion' = ANY (flags))::bigint AS extortion,
                       count(*) FILTER (WHERE acknowledged_at <= ack_due_at)::bigint AS within,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at))
                           FILTER (WHERE resolved_at IS NOT NULL) / 3600 AS resolution
                  FROM tickets WHERE created_at >= \(from)::date AND created_at < \(endExclusive)::date
                """)
        }
        let row = try #require(expected.first)
        #expect(report.tickets.value == Int(try row.decode("n", as: Int64.self)))
        #expect(report.byChannel.first { $0.key == "hotline" }?.count.value == Int(try row.decode("hotline", as: Int64.self)))
        #expect(report.byFlag.first { $0.key == "protection.extortion" }?.count.value == Int(try row.decode("extortion", as: Int64.self)))
        #expect(report.accountability.acknowledgedWithin.value == Int(try row.decode("within", as: Int64.self)))
        let resolution = try row.decode("resolution", as: Double.self)
        // The report's median comes from the summary's histogram: exact to the width of the
        // bucket that holds the true median.
        let bucketHours = Double(DurationHistogram.width(ofBucketAt: DurationHistogram.bucket(minutes: resolution * 60))) / 60
        #expect(abs((report.accountability.medianHoursToResolution ?? 0) - resolution) <= bucketHours)
        #expect((report.accountability.closedWithMessage ?? 0) > 0.6)
        #expect(report.familyTrend.columns.first == report.from)
        #expect(report.familyTrend.columns.count == 9)  // Monday 2026-05-04 … Tuesday 2026-06-30
    }

    @Test func readersWithoutClearanceSeeOnlyASensitiveLine() async throws {
        let pool = try await SeededDatabase.pool.value
        let builder = try SeededDatabase.builder(pool)
        let open = try await builder.build(SeededDatabase.request())
        let restricted = Set(SeededDatabase.restricted)
        #expect(!open.byFlag.contains { restricted.contains($0.key) })
        #expect(open.byFlag.contains { $0.key == "sensitive" })
        #expect(open.locationFamily.columns.contains("sensitive"))
        let text = try open.rendered(as: .json) + open.rendered(as: .csv) + open.rendered(as: .html) + open.rendered(as: .table)
        for code in restricted { #expect(!text.contains(code), "\(code) leaked") }

        let cleared = try await builder.build(SeededDatabase.request(cleared: true))
        #expect(cleared.byFlag.contains { $0.key == "protection.gbv" })
        #expect(!cleared.locationFamily.columns.contains("sensitive"))
    }

    @Test func smallCountsAreHiddenEverywhere() async throws {
        let pool = try await SeededDatabase.pool.value
        // One place and a high k so there are small cells.
        var request = SeededDatabase.request(by: .week)
        request.k = 20
        let report = try await SeededDatabase.builder(pool).build(request)
        let lines = report.byChannel + report.byType + report.bySector + report.byLanguage + report.byFamily + report.byFlag
        for line in lines {
            if let value = line.count.value { #expect(value == 0 || value >= 20) } else { #expect(line.count.text == "<20") }
        }
        for grid in [report.familyTrend, report.locationFamily] {
            let all = grid.cells.flatMap { $0 } + grid.rowTotals + grid.columnTotals + [grid.total]
            for count in all { if let value = count.value { #expect(value == 0 || value >= 20) } }
            for (r, row) in grid.cells.enumerated() {
                let hidden = row.filter { $0.value == nil }.count + (grid.rowTotals[r].value == nil ? 1 : 0)
                #expect(hidden != 1, "row \(grid.rows[r]) leaks through its total")
            }
            for c in grid.columns.indices {
                let hidden = grid.cells.filter { $0[c].value == nil }.count + (grid.columnTotals[c].value == nil ? 1 : 0)
                #expect(hidden != 1, "column \(grid.columns[c]) leaks through its total")
            }
        }
        let csv = try report.rendered(as: .csv)
        let lines2 = csv.split(separator: "\r\n")
        #expect(lines2[1].hasPrefix("#date+start,#date+end,#country+code,#adm1+code,#adm2+code,#loc+name,#sector,#indicator"))
        #expect(csv.contains(",MX,MX-CHP,"))  // Tapachula's admin codes
    }

    @Test func alertDecisionsAreRecordedAndCounted() async throws {
        let pool = try await SeededDatabase.pool.value
        let builder = try SeededDatabase.builder(pool)
        let before = try await builder.build(SeededDatabase.request())
        let first = try #require(before.alerts.first)
        try await AlertDecisions.decide(pool, id: first.id, decision: .verified, note: "checked with the field team", by: "manager1")
        await #expect(throws: ReportError.alertNotFound(999_999)) {
            try await AlertDecisions.decide(pool, id: 999_999, decision: .discarded, note: "x", by: "manager1")
        }
        let after = try await builder.build(SeededDatabase.request())
        let same = try #require(after.alerts.first { $0.id == first.id })
        #expect(same.status == "verified")
        #expect(same.note == "checked with the field team")
        let share = try #require(after.accountability.alertsVerifiedWithin24h)
        #expect(abs(share - 1 / Double(after.alerts.count)) < 1e-9)
    }

    @Test func summaryIsMaintainedIncrementally() async throws {
        let pool = try await SeededDatabase.pool.value
        let builder = try SeededDatabase.builder(pool)
        let before = try await builder.build(SeededDatabase.request())
        let day = ReportCalendar.adding(days: -3, to: SeededDatabase.end).addingTimeInterval(3600 * 10)
        try await pool.withConnection { conn in
            _ = try conn.execute(
                """
                INSERT INTO tickets (reference, flags, location, channel_id, created_at)
                VALUES ('ZZZZZZ', '{stigma.rumour}', 'Lima', 'hotline', \(day))
                """)
        }
        let outcome = try await ReportSummary.refresh(pool, restrictedFlags: SeededDatabase.restricted)
        #expect(outcome.days == 1)
        let after = try await builder.build(SeededDatabase.request())
        #expect(after.tickets.value == (before.tickets.value ?? 0) + 1)
    }

    @Test func examplesAreRedacted() async throws {
        let pool = try await SeededDatabase.pool.value
        let report = try await SeededDatabase.builder(pool).build(SeededDatabase.request(examples: true))
        let examples = report.alerts.flatMap(\.examples)
        #expect(!examples.isEmpty)
        for example in examples { #expect(!example.contains(where: \.isNumber) && !example.contains("@")) }
        let plain = try await SeededDatabase.builder(pool).build(SeededDatabase.request())
        #expect(plain.alerts.allSatisfy { $0.examples.isEmpty })
    }

    @Test func emergingTermsFindTheRumour() async throws {
        let pool = try await SeededDatabase.pool.value
        var request = SeededDatabase.request()
        // The rumour outbreak is 20 days before the end: end the report during it.
        request.to = ReportCalendar.adding(days: -16, to: SeededDatabase.end)
        let report = try await SeededDatabase.builder(pool).build(request)
        #expect(report.emergingTerms.contains { $0.term.contains("esteriliza") }, "\(report.emergingTerms.map(\.term))")
    }

    @Test func htmlBulletinIsSelfContainedAndRendersInChromium() async throws {
        let pool = try await SeededDatabase.pool.value
        let report = try await SeededDatabase.builder(pool).build(SeededDatabase.request(by: .week))
        let html = try report.rendered(as: .html)
        #expect(html.contains("<svg"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let chromium else {
            Issue.record("chromium is not installed: apt-get install -y chromium")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("escucha-bulletin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("bulletin.html")
        let png = dir.appendingPathComponent("bulletin.png")
        try Data(html.utf8).write(to: page)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir.appendingPathComponent("profile").path)",
            "--screenshot=\(png.path)", "--window-size=1200,2400", page.absoluteString,
        ]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(String(decoding: stderr, as: UTF8.self).suffix(800))")
        let image = try Data(contentsOf: png)
        #expect(image.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(image.count > 10_000)
        if let keep = ProcessInfo.processInfo.environment["ESCUCHA_BULLETIN_PNG"] { try image.write(to: URL(fileURLWithPath: keep)) }
    }
}

/// Load figures: `ESCUCHA_REPORT_BENCH=1000000 swift test --filter EarlyWarningReportBenchmark`.
@Suite struct EarlyWarningReportBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ESCUCHA_REPORT_BENCH"] != nil))
    func reportOverManyTickets() async throws {
        let n = Int(ProcessInfo.processInfo.environment["ESCUCHA_REPORT_BENCH"] ?? "") ?? 1_000_000
        let pool = try await TestCluster.migratedPool("reportbench")
        let end = ReportCalendar.startOfDay(Date())
        let clock = ContinuousClock()
        var t = clock.now
        let outcome = try await HistorySeeder(tickets: n, seed: 1, endDay: end, days: 728)
            .run(pool, restrictedFlags: Set(SeededDatabase.restricted))
        print("seed: \(outcome.tickets) tickets in \(clock.now - t)")
        t = clock.now
        let refresh = try await ReportSummary.refresh(pool, restrictedFlags: SeededDatabase.restricted)
        print("summary: \(refresh.days) days, \(refresh.rows) rows in \(clock.now - t)")
        let builder = try SeededDatabase.builder(pool)
        for (label, from) in [("8 weeks", ReportCalendar.adding(days: -55, to: end)), ("all 104 weeks", ReportCalendar.adding(days: -727, to: end))] {
            t = clock.now
            let report = try await builder.build(EarlyWarningRequest(from: from, to: end, granularity: .week))
            let html = try report.rendered(as: .html)
            print("report \(label): \(report.tickets.text) tickets, \(report.alerts.count) alerts, \(html.count) bytes HTML in \(clock.now - t)")
        }
    }
}
