@testable import EscuchaConsole
import EscuchaCore
import EscuchaStore
import Foundation
import Testing

/// A console process in a real terminal: tmux runs it, `send-keys` types, `capture-pane`
/// reads the screen.
final class TmuxSession {
    let socket = "escucha-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let name = "console"

    init(command: String, columns: Int, rows: Int) throws {
        try run(["new-session", "-d", "-s", name, "-x", String(columns), "-y", String(rows), command])
    }

    deinit {
        _ = try? run(["kill-server"])
        unlink(outputPath)
    }

    let outputPath = "/tmp/escucha-tmux-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"

    /// Runs tmux on this test's own server. Foundation's Process is not used: it was seen
    /// to hang waiting for children on Linux (see EscuchaStore.ChildProcess).
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let status = try ChildProcess.run(["tmux", "-L", socket] + arguments, outputPath: outputPath)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        if status != 0, arguments.first != "kill-server" {
            Issue.record("tmux \(arguments.first ?? "") failed (\(status)): \(output)")
        }
        return output
    }

    func keys(_ keys: String...) throws { try run(["send-keys", "-t", name] + keys) }
    func type(_ text: String) throws { try run(["send-keys", "-t", name, "-l", text]) }
    func screen() throws -> String { try run(["capture-pane", "-p", "-t", name]) }
    func resize(columns: Int, rows: Int) throws { try run(["resize-window", "-t", name, "-x", String(columns), "-y", String(rows)]) }

    /// Waits until the screen satisfies `condition` (the console redraws within 250 ms of a
    /// change; the limit only bounds a failing test).
    @discardableResult
    func waitFor(_ what: String, _ condition: (String) -> Bool) throws -> String {
        var last = ""
        for _ in 0..<100 {
            last = try screen()
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("the screen never showed \(what):\n\(last)")
        return last
    }

    @discardableResult
    func waitFor(_ text: String) throws -> String { try waitFor("'\(text)'") { $0.contains(text) } }

    /// Waits until every text is on the screen: a redraw caught half-way shows the first
    /// line of a screen before the rest.
    @discardableResult
    func waitForAll(_ texts: [String]) throws -> String {
        try waitFor(texts.map { "'\($0)'" }.joined(separator: ", ")) { screen in texts.allSatisfy { screen.contains($0) } }
    }
}

@Suite(.serialized) struct ConsoleTerminalTests {
    static var binary: String { RepositoryConfig.root + "/.build/debug/escucha" }

    func launch(
        _ fixture: ConsoleFixture, officer: String, language: String, columns: Int = 80, rows: Int = 24, extra: [String] = []
    ) throws -> TmuxSession {
        try TmuxSession(command: try launchCommand(fixture, officer: officer, language: language, extra: extra), columns: columns, rows: rows)
    }

    func launchCommand(_ fixture: ConsoleFixture, officer: String, language: String, extra: [String] = []) throws -> String {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the escucha binary first (swift build --build-tests)")
        let command = ([
            "env", "TERM=xterm-256color", "LANG=C.UTF-8", "ESCUCHA_SECRET_KEY=\(fixture.secret)", "ESCUCHA_DATA_DIR=/tmp/escucha-console-\(getpid())",
            Self.binary, "console", "--as", officer, "--lang", language, "--database-url", "'\(fixture.conninfo)'",
            "--config-dir", RepositoryConfig.root + "/Config",
        ] + extra + ["2>/tmp/escucha-console-\(getpid()).err"]).joined(separator: " ")
        return command
    }

    func ticketLines(_ screen: String) -> [String] {
        screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
            line.count > 8 && line.dropFirst(2).prefix(6).allSatisfy { $0.isUppercase || $0.isNumber } && line.dropFirst(8).first == " "
        }
    }

    @Test func officersWorkTheQueueThroughTheTerminal() async throws {
        let fixture = try await ConsoleFixture.make("console_tmux")
        defer { Task { await fixture.pool.close() } }
        let now = Date()
        let urgent = try await fixture.add(
            .init(reference: "KKKK01", text: "mi hija tiene fiebre muy alta y no respira bien", flags: ["protection.medical_emergency"],
                  ackDue: now.addingTimeInterval(-600), evidence: [("protection.medical_emergency", 0..<10)]))
        try await fixture.add(.init(reference: "KKKK02", text: "la policia se llevo a mi hermano", flags: ["protection.detention"], ackDue: now.addingTimeInterval(3600)))
        try await fixture.add(.init(reference: "KKKK03", text: "¿dónde entregan kits de higiene?", type: "question", ackDue: now.addingTimeInterval(7200)))
        try await fixture.add(.init(reference: "KKKK04", text: "مرحبا، أحتاج إلى مساعدة في الأوراق", language: "ar", type: "request", ackDue: now.addingTimeInterval(8000)))
        try await fixture.add(.init(reference: "KKKK05", text: "👍🏽👍🏽 gracias por el agua 💧", type: "praise", ackDue: now.addingTimeInterval(9000)))
        try await fixture.add(.init(reference: "KKKK06", text: "me pega", flags: ["protection.gbv"], team: "protection"))

        let tmux = try launch(fixture, officer: "handler1", language: "en")
        var screen = try tmux.waitFor("five ticket lines") { $0.contains("5 tickets") && ticketLines($0).count == 5 }
        // Sorted by urgency; the restricted ticket is counted, never listed.
        #expect(ticketLines(screen).map { String($0.dropFirst(2).prefix(6)) } == ["KKKK01", "KKKK02", "KKKK03", "KKKK04", "KKKK05"])
        #expect(screen.contains("+1 restricted"))
        #expect(!screen.contains("KKKK06"))
        // The overdue ticket shows a negative time left.
        #expect(ticketLines(screen)[0].hasSuffix("-10m") || ticketLines(screen)[0].contains(" -1"))

        // Move down twice and open: the third ticket.
        try tmux.keys("j", "j", "Enter")
        screen = try tmux.waitForAll(["Ticket KKKK03", "¿dónde entregan kits de higiene?"])
        try tmux.keys("q")
        try tmux.waitFor("5 tickets")

        // Search by words, then clear.
        try tmux.keys("/")
        try tmux.type("policia")
        try tmux.keys("Enter")
        screen = try tmux.waitFor("one ticket line") { $0.contains("1 tickets") && ticketLines($0).count == 1 }
        #expect(ticketLines(screen).map { String($0.dropFirst(2).prefix(6)) } == ["KKKK02"])
        try tmux.keys("x")
        try tmux.waitFor("5 tickets")

        // Filter by flag family through the menu.
        try tmux.keys("f")
        try tmux.waitFor("Filter the queue")
        try tmux.keys("Enter")  // first entry: flag
        try tmux.type("protection")
        try tmux.keys("Enter")
        screen = try tmux.waitFor("two ticket lines") { $0.contains("flag=protection") && ticketLines($0).count == 2 }
        #expect(ticketLines(screen).map { String($0.dropFirst(2).prefix(6)) } == ["KKKK01", "KKKK02"])
        // Mine: nothing yet.
        try tmux.keys("m")
        try tmux.waitFor("No tickets match")
        try tmux.keys("x")
        try tmux.waitFor("5 tickets")

        // Open the urgent ticket, take it, reply, resolve and close the loop.
        try tmux.keys("g", "Enter")
        screen = try tmux.waitForAll(["Ticket KKKK01", "protection.medical_emergency", "+57 *** ***"])
        #expect(!screen.contains("3001112233"))
        try tmux.keys("a")
        try tmux.waitFor("is yours")
        try tmux.keys("r")
        try tmux.type("Vamos en camino, quédese donde está")
        screen = try tmux.waitForAll(["UCS-2", "SMS: 1 part(s)"])  // é and á are not GSM-7
        try tmux.keys("Enter")
        try tmux.waitFor("queued for sending")
        try tmux.keys("R")
        try tmux.waitFor("Resolution code")
        try tmux.keys("Enter")  // answered
        try tmux.waitFor("Resolution note")
        try tmux.type("ambulance sent")
        try tmux.keys("Enter")
        try tmux.waitFor("Press C to close the loop")
        try tmux.keys("C")
        try tmux.waitFor("Send the resolution message")
        try tmux.keys("Enter")
        try tmux.waitFor("resolution message is queued")

        let state = try await fixture.pool.withConnection { connection in
            try connection.query(
                """
                SELECT t.status, t.resolution_code, o.login,
                       (SELECT array_agg(payload ->> 'template' ORDER BY id) FROM outbox WHERE ticket_id = t.id) AS sent,
                       (SELECT text FROM messages WHERE ticket_id = t.id AND direction = 'out' ORDER BY id LIMIT 1) AS reply
                  FROM tickets t LEFT JOIN officers o ON o.id = t.assignee_id WHERE t.id = \(urgent)
                """)[0]
        }
        #expect(try state.decode("status", as: String.self) == "closed")
        #expect(try state.decode("resolution_code", as: String.self) == "answered")
        #expect(try state.decode("login", as: String.self) == "handler1")
        #expect(try state.decode("sent", as: [String].self) == ["reply", "resolution"])
        #expect(try state.decode("reply", as: String.self) == "Vamos en camino, quédese donde está")

        // Back in the queue the closed ticket has left open work; a live update from
        // another session (intake creating a ticket) appears without a key.
        try tmux.keys("q")
        try tmux.waitFor("4 tickets")
        try await fixture.add(.init(reference: "KKKK07", text: "nueva llegada", ackDue: now.addingTimeInterval(60)))
        screen = try tmux.waitForAll(["KKKK07", "5 tickets"])

        // Resize: a wider terminal shows the location and the person's last words.
        try tmux.resize(columns: 130, rows: 30)
        screen = try tmux.waitForAll(["Last message", "Location"])
        try tmux.keys("q")
    }

    @Test func aTerminationSignalRestoresTheTerminal() async throws {
        let fixture = try await ConsoleFixture.make("console_signal")
        defer { Task { await fixture.pool.close() } }
        try await fixture.add(.init(reference: "SSSS01", text: "hola"))
        // tmux runs the command through the shell: it prints how the console ended, on the
        // screen the console must give back.
        let tmux = try TmuxSession(
            command: try launchCommand(fixture, officer: "handler1", language: "en") + "; echo console-ended-$?; sleep 30", columns: 80, rows: 24)
        try tmux.waitFor("1 tickets")
        let database = try #require(fixture.pool.configuration.parameters.first { $0.keyword == "dbname" }?.value)
        let log = "/tmp/escucha-pkill-\(getpid())"
        defer { unlink(log) }
        // Anchored at the binary: tmux's and the shell's command lines contain the same words.
        #expect(try ChildProcess.run(["pkill", "-TERM", "-f", "^\(Self.binary) console .*dbname=\(database)"], outputPath: log) == 0)
        let screen = try tmux.waitFor("console-ended-0")
        // curses left the alternate screen: the queue is gone, the shell's line is there.
        #expect(!screen.contains("SSSS01"))
    }

    @Test func wideAndRightToLeftTextStaysAligned() async throws {
        let fixture = try await ConsoleFixture.make("console_align")
        defer { Task { await fixture.pool.close() } }
        let now = Date()
        try await fixture.add(.init(reference: "MMMM01", text: "مرحبا، أحتاج إلى مساعدة في الأوراق", language: "ar", type: "request", ackDue: now.addingTimeInterval(3600)))
        try await fixture.add(.init(reference: "MMMM02", text: "👍🏽👍🏽 gracias por el agua 💧 e\u{301}", type: "praise", ackDue: now.addingTimeInterval(3700)))
        try await fixture.add(.init(reference: "MMMM03", text: "我们需要水和食物", language: "zh", type: "request", ackDue: now.addingTimeInterval(3800)))
        try await fixture.add(.init(reference: "MMMM04", text: "plain text here", type: "question", ackDue: now.addingTimeInterval(3900)))

        let tmux = try launch(fixture, officer: "handler1", language: "es", columns: 140, rows: 20)
        let screen = try tmux.waitForAll(["4 casos", "Último mensaje"])
        let lines = ticketLines(screen)
        #expect(lines.count == 4)
        // Every column before the message starts at the same terminal column on every line,
        // and no line runs past the right edge (which would wrap and shift the next one).
        let deadlineColumns = try lines.map { line -> Int in
            let range = try #require(line.range(of: "1h "))
            return TerminalText.width(String(line[..<range.lowerBound]))
        }
        #expect(Set(deadlineColumns).count == 1, "\(deadlineColumns)")
        for line in lines { #expect(TerminalText.width(line) <= 140) }
        #expect(screen.contains("مرحبا"))
        #expect(screen.contains("👍🏽"))
        #expect(screen.contains("我们需要"))

        // The ticket screen shows the whole text, wrapped inside the window.
        try tmux.keys("Enter")
        try tmux.waitForAll(["Caso MMMM01", "مرحبا، أحتاج إلى مساعدة في الأوراق", "Conversación"])
        try tmux.keys("q", "q")
    }

    @Test func aClearedOfficerOpensTheTicketANoticeNames() async throws {
        let fixture = try await ConsoleFixture.make("console_notice")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(
            .init(reference: "NNNN01", text: "hay un niño solo en la terminal", flags: ["protection.child_at_risk"], team: "protection",
                  evidence: [("protection.child_at_risk", 7..<20)]))
        // As typed from a notice: lower case, with a dash.
        let tmux = try launch(fixture, officer: "prot-fp", language: "en", extra: ["--ticket", "nnnn-01"])
        try tmux.waitForAll(["Ticket NNNN01", "RESTRICTED", "niño solo en la terminal", "(v: show the number)"])
        try tmux.keys("v")
        try tmux.waitForAll(["recorded in the history", "+573001112233"])
        // Refer to child protection without consent: allowed to a cleared focal point, with a reason.
        try tmux.keys("F")
        try tmux.waitFor("Refer to a service")
        try tmux.keys("j", "j", "Enter")  // health, legal aid, child protection
        try tmux.waitFor("Organisation receiving")
        try tmux.type("ICBF Cúcuta")
        try tmux.keys("Enter")
        try tmux.waitFor("consent")
        try tmux.keys("j", "Enter")
        try tmux.waitFor("Why consent is overridden")
        try tmux.type("niño solo, riesgo inmediato")
        try tmux.keys("Enter")
        try tmux.waitForAll(["NNNN01 referred", "child protection → ICBF Cúcuta"])
        try tmux.keys("q", "q")
        let actions = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT actor, action FROM ticket_events WHERE ticket_id = \(id) ORDER BY id").map {
                try $0.decode("actor", as: String.self) + ":" + $0.decode("action", as: String.self)
            }
        }
        #expect(actions == ["system:created", "prot-fp:viewed", "prot-fp:contact_revealed", "prot-fp:referral"])
        let referral = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT organisation, service, consent, override_reason FROM referrals WHERE ticket_id = \(id)")
        }
        #expect(referral.count == 1)
        #expect(try referral[0].decode("service", as: String.self) == "child_protection")
        #expect(try referral[0].decode("consent", as: String.self) == "overridden")
        #expect(try referral[0].decode("override_reason", as: String.self) == "niño solo, riesgo inmediato")
    }
}
