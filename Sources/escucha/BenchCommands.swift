import ArgumentParser
import EscuchaClassifier
import EscuchaCore
import Foundation

/// `escucha bench …`: benchmarks that print figures.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure speed; prints figures (build with -c release for real numbers).",
        subcommands: [ClassifyBench.self, BenchIntakeCommand.self])

    struct ClassifyBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "classify",
            abstract: "Classify generated messages on one core; print messages/s, latency percentiles and compile time.",
            discussion: """
                Generates --count messages (mixed es/en/pt/fr/ht, 20–600 characters), classifies \
                them one after another on one thread, then times `grep -F -i -f` with the lexicons' \
                plain terms over the same messages for comparison.
                """)

        @OptionGroup var config: ConfigOptions

        @Option(help: "How many messages.")
        var count = 100_000

        @Flag(help: "Skip the grep comparison.")
        var noGrep = false

        @Option(help: ArgumentHelp("Write the generated messages as JSON Lines to this file and stop (to compare `classify --file` output across builds).", valueName: "file"))
        var writeMessages: String?

        func run() async throws {
            let clock = ContinuousClock()
            let loadStart = clock.now
            let classifier = try loadClassifier(config)
            let loadTime = clock.now - loadStart
            var generator = MessageGenerator()
            let messages = (0..<count).map { _ in generator.next() }
            if let writeMessages {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                var out = Data()
                for (i, message) in messages.enumerated() {
                    out += try encoder.encode(["id": "bench-\(i)", "text": message])
                    out.append(0x0A)
                }
                try out.write(to: URL(fileURLWithPath: writeMessages))
                return
            }
            let bytes = messages.reduce(0) { $0 + $1.utf8.count }
            // Warm up the word-break iterator pool and caches.
            for message in messages.prefix(1000) { _ = classifier.classify(message) }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            var flagged = 0
            let start = clock.now
            for message in messages {
                let t0 = clock.now
                let result = classifier.classify(message)
                latencies.append((clock.now - t0).seconds * 1e6)
                if !result.flags.isEmpty { flagged += 1 }
            }
            let total = (clock.now - start).seconds
            latencies.sort()
            func p(_ q: Double) -> String { String(format: "%.1f", latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) }
            print("messages: \(count) (\(bytes / count) bytes on average, \(flagged) flagged)")
            print(String(format: "lexicon compile: %.1f ms (load and compile: %.1f ms)", classifier.compileDuration.seconds * 1000, loadTime.seconds * 1000))
            print(String(format: "throughput: %.0f messages/s on one core (%.2f s, %.1f MB/s)", Double(count) / total, total, Double(bytes) / total / 1e6))
            print("latency µs: p50 \(p(0.50))  p90 \(p(0.90))  p99 \(p(0.99))  p99.9 \(p(0.999))  max \(p(1.0))")
            if !noGrep { try compareWithGrep(messages: messages, terms: classifier.plainTerms, classifierSeconds: total) }
        }

        private func compareWithGrep(messages: [String], terms: [String], classifierSeconds: Double) throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("escucha-bench-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let messagesFile = dir.appendingPathComponent("messages.txt")
            let termsFile = dir.appendingPathComponent("terms.txt")
            try Data(messages.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n").utf8).write(to: messagesFile)
            try Data(terms.joined(separator: "\n").utf8).write(to: termsFile)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["grep", "-F", "-i", "-c", "-f", termsFile.path, messagesFile.path]
            process.standardOutput = FileHandle.nullDevice
            let clock = ContinuousClock()
            let start = clock.now
            try process.run()
            process.waitUntilExit()
            let grepSeconds = (clock.now - start).seconds
            print(String(format: "grep -F -i -f (%d plain terms): %.2f s; classifier/grep time ratio: %.2f", terms.count, grepSeconds, classifierSeconds / grepSeconds))
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
