import ArgumentParser
import EscuchaClassifier
import EscuchaCore
import EscuchaStore
import Foundation

/// `escucha bench intake`: load a running server on loopback and compare with pgbench.
struct BenchIntakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intake",
        abstract: "Drive a running `escucha serve` with concurrent webhook requests; print requests/s, latency and committed messages.",
        discussion: """
            Start the server first (e.g. `escucha serve --port 8080` with ESCUCHA_DEMO_TOKEN=demo). \
            The benchmark posts --requests generated messages to the demo-json channel over \
            --connections concurrent connections, then counts the messages the database committed \
            for this run and compares them with the success answers (they must be equal). Unless \
            --no-pgbench, it then runs pgbench's simple-update test (-N) with the same clients on \
            the same cluster, in a scratch database, for comparison. Only loopback URLs are accepted.
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The server's base URL (loopback only).")
    var url = "http://127.0.0.1:8080"

    @Option(help: "The channel instance to post to (a generic-json gateway).")
    var channel = "demo-json"

    @Option(help: "The channel's token (X-Escucha-Token).")
    var token = ProcessInfo.processInfo.environment["ESCUCHA_DEMO_TOKEN"] ?? "demo"

    @Option(help: "Concurrent connections.")
    var connections = 32

    @Option(help: "Requests in all.")
    var requests = 20_000

    @Option(help: ArgumentHelp(
        "How many different people write (default: one per request, so every message opens a ticket).",
        discussion: "Fewer people than requests make follow-ups: a person's later messages join their open ticket, the path of a conversation."))
    var senders: Int?

    @Flag(help: "Skip the pgbench comparison.")
    var noPgbench = false

    func validate() throws {
        guard let host = URL(string: url)?.host, ["127.0.0.1", "localhost", "::1"].contains(host) || host.hasPrefix("127.") else {
            throw ValidationError("--url must be a loopback address (127.0.0.0/8, localhost or ::1): load tests never leave this machine.")
        }
        if connections < 1 || requests < 1 { throw ValidationError("--connections and --requests must be positive.") }
        if let senders, senders < 1 || senders > 9_999_999 { throw ValidationError("--senders must be between 1 and 9999999.") }
    }

    func run() async throws {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var generator = MessageGenerator(seed: 7)
        let texts = (0..<min(requests, 5000)).map { _ in String(generator.next().prefix(300)) }
        guard let components = URLComponents(string: url), let host = components.host else {
            throw ValidationError("--url must look like http://127.0.0.1:8080")
        }
        let port = UInt16(components.port ?? 80)
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let path = components.path.trimmingSuffix("/") + "/webhooks/sms/" + channel
        let token = self.token
        // A run id in the number too: each run's people are new to the database.
        let people = min(senders ?? requests, 9_999_999)
        let numberPrefix = "+573" + String(UInt32.random(in: 0..<1000)).leftPadded(to: 3)
        let load = LoopbackLoad(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port) { index in
            var body = JSONObjectText()
            body.add("id", "bench-\(runID)-\(index)")
            body.add("from", numberPrefix + String(index % people).leftPadded(to: 7))
            body.add("text", texts[index % texts.count])
            let bytes = Array(body.json.text.utf8)
            let head = "POST \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Type: application/json\r\n"
                + "X-Escucha-Token: \(token)\r\nContent-Length: \(bytes.count)\r\n\r\n"
            return Array(head.utf8) + bytes
        }
        let requests = self.requests
        let connections = self.connections
        let clock = ContinuousClock()
        let started = clock.now
        // Blocking socket threads: kept off Swift's cooperative pool.
        let results = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: load.run(count: requests, connections: connections)) }.start()
        }
        let total = (clock.now - started).seconds
        let sorted = results.map(\.milliseconds).sorted()
        func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        let answers = Dictionary(results.map { ($0.status, 1) }, uniquingKeysWith: +)
        let successes = answers.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
        let pool = try await database.makePool(size: 1, migrate: false)
        let pattern = "bench-\(runID)-%"
        let committed = try await pool.withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM messages WHERE channel_id = \(channel) AND external_id LIKE \(pattern)")[0].decode("n", as: Int.self)
        }
        print("requests: \(requests) over \(connections) connections in \(String(format: "%.2f", total)) s")
        print("answers: " + answers.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "error" : String($0.key)): \($0.value)" }.joined(separator: ", "))
        print(String(format: "throughput: %.0f requests/s; latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f", Double(requests) / total, p(0.5), p(0.9), p(0.99), p(1.0)))
        print("committed messages: \(committed); success answers: \(successes); \(committed == successes ? "equal" : "NOT EQUAL (a success was answered for a message that is not committed, or a spooled message is not yet drained)")")
        print(String(format: "committed messages/s: %.0f", Double(committed) / total))
        if !noPgbench { try await runPgbench(pool: pool) }
        await pool.close()
    }

    /// pgbench -N (simple update) with the same clients, in a scratch database on the same cluster.
    private func runPgbench(pool: PostgresPool) async throws {
        let scratch = "escucha_pgbench"
        try await pool.withConnection { connection in
            try connection.execute(unsafeScript: "DROP DATABASE IF EXISTS \(scratch)")
            try connection.execute(unsafeScript: "CREATE DATABASE \(scratch)")
        }
        let conninfo = try database.location.conninfo()
        let tools = ["/usr/bin"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
        guard let pgbench = tools.map({ $0 + "/pgbench" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("pgbench: not found (install the postgresql package)")
            return
        }
        // Through ChildProcess (posix_spawn with no blocked signals): started by Foundation's
        // Process, pgbench inherited blocked SIGALRM and never ended its -T run.
        let outputPath = NSTemporaryDirectory() + "escucha-pgbench-\(getpid()).out"
        defer { unlink(outputPath) }
        func runTool(_ arguments: [String]) throws -> String {
            let status = try ChildProcess.run([pgbench] + arguments, outputPath: outputPath)
            let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if status != 0 { print("pgbench exited with \(status): \(output.split(separator: "\n").last.map(String.init) ?? "")") }
            return output
        }
        var target = conninfo + " dbname=\(scratch)"
        if conninfo.hasPrefix("postgres"), var components = URLComponents(string: conninfo) {
            components.path = "/" + scratch
            target = components.string ?? conninfo
        }
        _ = try runTool(["-i", "-q", "-s", "1", target])
        let output = try runTool(["-N", "-c", String(connections), "-j", "2", "-T", "10", target])
        let tps = output.split(separator: "\n").first { $0.hasPrefix("tps") }.map(String.init) ?? "no tps line (pgbench failed)"
        print("pgbench -N -c \(connections) -j 2 -T 10: \(tps)")
        try await pool.withConnection { try $0.execute(unsafeScript: "DROP DATABASE IF EXISTS \(scratch)") }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
    fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
