@testable import EscuchaConsole
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation
import Testing

/// Officers' actions and the console's reads against a real PostgreSQL, as the officer
/// role with row-level security.
@Suite struct OfficerDeskTests {
    @Test func restrictedTicketsFollowClearance() async throws {
        let fixture = try await ConsoleFixture.make("desk_rls")
        defer { Task { await fixture.pool.close() } }
        let open = try await fixture.add(.init(reference: "AAAA01", text: "no hay agua en el albergue", flags: []))
        let restricted = try await fixture.add(
            .init(reference: "AAAA02", text: "mi esposo me pega", flags: ["protection.gbv"], team: "protection",
                  ackDue: Date(timeIntervalSinceNow: -60), evidence: [("protection.gbv", 0..<17)]))
        let handler = fixture.desk("handler1")
        let focal = fixture.desk("prot-fp")
        try await fixture.pool.withConnection { connection in
            let handlerData = ConsoleData(desk: handler, officerID: try handler.profile(on: connection).id)
            let seen = try handlerData.queue(QueueFilter(), after: nil, limit: 50, on: connection).map(\.reference)
            #expect(seen == ["AAAA01"])
            #expect(try handlerData.hidden(now: Date(), on: connection) == HiddenTickets(count: 1, overdue: 1))
            #expect(throws: OfficerActionError.ticketNotFound(restricted)) {
                try handlerData.detail(ticketID: restricted, recordView: true, on: connection)
            }
            #expect(throws: OfficerActionError.ticketNotFound(restricted)) {
                try handler.assign(ticketID: restricted, to: "handler1", now: Date(), on: connection)
            }
            let focalData = ConsoleData(desk: focal, officerID: try focal.profile(on: connection).id)
            #expect(try focalData.queue(QueueFilter(), after: nil, limit: 50, on: connection).map(\.reference) == ["AAAA02", "AAAA01"])
            let detail = try focalData.detail(ticketID: restricted, recordView: true, on: connection)
            #expect(detail.conversation.first?.highlights == [0..<17])
            #expect(detail.history.map(\.action) == ["created", "viewed"])
            #expect(detail.contactMasked.contains("***"))
            _ = open
        }
    }

    @Test func takeReplyResolveAndCloseTheLoop() async throws {
        let fixture = try await ConsoleFixture.make("desk_flow")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(.init(reference: "BBBB01", text: "necesito informacion sobre el permiso", language: "en", phone: "+573004445566"))
        let desk = fixture.desk("handler1")
        let now = Date()
        try await fixture.pool.withConnection { connection in
            try desk.assign(ticketID: id, to: "handler1", now: now, on: connection)
            try desk.reply(ticketID: id, text: "We will call you tomorrow", now: now, on: connection)
            #expect(throws: OfficerActionError.notResolved("BBBB01")) { try desk.closeLoop(ticketID: id, now: now, on: connection) }
            #expect(throws: OfficerActionError.unknownResolutionCode("done", known: fixture.resolutionCodes)) {
                try desk.resolve(ticketID: id, code: "done", note: "", now: now, on: connection)
            }
            try desk.resolve(ticketID: id, code: "answered", note: "called back", now: now, on: connection)
            #expect(try desk.closeLoop(ticketID: id, now: now, on: connection) == .messageQueued)
        }
        let state = try await fixture.pool.withConnection { connection in
            try connection.query(
                """
                SELECT t.status, t.resolution_code, t.acknowledged_at IS NOT NULL AS acknowledged, o.login,
                       (SELECT array_agg(action ORDER BY id) FROM ticket_events e WHERE e.ticket_id = t.id) AS actions
                  FROM tickets t JOIN officers o ON o.id = t.assignee_id WHERE t.id = \(id)
                """)[0]
        }
        #expect(try state.decode("status", as: String.self) == "closed")
        #expect(try state.decode("resolution_code", as: String.self) == "answered")
        #expect(try state.decode("acknowledged", as: Bool.self))
        #expect(try state.decode("login", as: String.self) == "handler1")
        #expect(try state.decode("actions", as: [String].self) == ["created", "acknowledged", "assigned", "replied", "resolved", "closed_loop"])
        let outbox = try await fixture.pool.withConnection { connection in
            try connection.query("SELECT destination, payload ->> 'template' AS template, payload ->> 'text' AS text FROM outbox WHERE ticket_id = \(id) ORDER BY id")
        }
        #expect(try outbox.map { try $0.decode("template", as: String.self) } == ["reply", "resolution"])
        // The database copied the person's encrypted address: it decrypts to their number.
        for row in outbox { #expect(try fixture.protector.decrypt(try row.decode("destination", as: Data.self)) == "+573004445566") }
        #expect(try outbox[1].decode("text", as: String.self).contains("BBBB01"))
        #expect(try outbox[1].decode("text", as: String.self).hasPrefix("Red Cross"))
    }

    @Test func aPersonWhoOptedOutGetsNoMessage() async throws {
        let fixture = try await ConsoleFixture.make("desk_optout")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(.init(reference: "CCCC01", text: "gracias", optedOut: true))
        let desk = fixture.desk("handler1")
        let outcome = try await fixture.pool.withConnection { connection in
            #expect(throws: OfficerActionError.optedOut("CCCC01")) { try desk.reply(ticketID: id, text: "hola", now: Date(), on: connection) }
            try desk.resolve(ticketID: id, code: "not_actionable", note: "", now: Date(), on: connection)
            return try desk.closeLoop(ticketID: id, now: Date(), on: connection)
        }
        guard case .closedWithoutMessage = outcome else {
            Issue.record("expected a silent close, got \(outcome)")
            return
        }
        let counts = try await fixture.pool.withConnection { connection in
            try connection.query(
                "SELECT (SELECT count(*) FROM outbox WHERE ticket_id = \(id))::int AS outbox, (SELECT status FROM tickets WHERE id = \(id)) AS status")[0]
        }
        #expect(try counts.decode("outbox", as: Int.self) == 0)
        #expect(try counts.decode("status", as: String.self) == "closed")
    }

    @Test func correctionsBecomeHumanLabels() async throws {
        let fixture = try await ConsoleFixture.make("desk_labels")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(
            .init(reference: "DDDD01", text: "Dicen que los venecos nos quitan el trabajo, llame al 3001234567", flags: [], type: "question"))
        let desk = fixture.desk("cea-sup")
        try await fixture.pool.withConnection { connection in
            #expect(throws: OfficerActionError.unknownFlag("stigma.nope")) {
                try desk.correct(ticketID: id, type: "rumour", flags: ["stigma.nope"], sectors: [], now: Date(), on: connection)
            }
            #expect(throws: (any Error).self) { try desk.correct(ticketID: id, type: "gossip", flags: [], sectors: [], now: Date(), on: connection) }
            let flag = fixture.taxonomy.flags.first { !$0.restricted && $0.severity == .medium }!.code.rawValue
            try desk.correct(ticketID: id, type: "rumour", flags: [flag], sectors: ["livelihoods"], now: Date(), on: connection)
            let ticket = try connection.query("SELECT type, flags, severity FROM tickets WHERE id = \(id)")[0]
            #expect(try ticket.decode("type", as: String.self) == "rumour")
            #expect(try ticket.decode("flags", as: [String].self) == [flag])
            #expect(try ticket.decode("severity", as: String.self) == "medium")
            let label = try connection.query("SELECT officer, type, flags, sectors, previous ->> 'type' AS before, message_id FROM human_labels")
            #expect(label.count == 1)
            #expect(try label[0].decode("officer", as: String.self) == "cea-sup")
            #expect(try label[0].decode("before", as: String.self) == "question")
            #expect(try label[0].decode("message_id", as: Int64?.self) != nil)
        }
        // `escucha export labels` writes it in the evaluation set's format, redacted.
        let output = "/tmp/escucha-labels-\(getpid()).jsonl"
        defer { unlink(output) }
        let status = try ChildProcess.run(
            [RepositoryConfig.root + "/.build/debug/escucha", "export", "labels", "--database-url", fixture.conninfo, "--out", output],
            outputPath: output + ".log")
        #expect(status == 0, "\((try? String(contentsOfFile: output + ".log", encoding: .utf8)) ?? "")")
        unlink(output + ".log")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        let record = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(record?["id"] as? String == "label-DDDD01")
        #expect(record?["type"] as? String == "rumour")
        #expect(record?["lang"] as? String == "es")
        #expect(record?["channel"] as? String == "sms")
        #expect((record?["flags"] as? [String])?.count == 1)
        #expect(record?["sectors"] as? [String] == ["livelihoods"])
        let text = record?["text"] as? String ?? ""
        #expect(text.contains("venecos nos quitan el trabajo"))
        #expect(!text.contains("3001234567"))
    }

    @Test func showingAContactNeedsClearanceAndIsRecorded() async throws {
        let fixture = try await ConsoleFixture.make("desk_reveal")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(.init(reference: "EEEE01", text: "ayuda", phone: "+573009998877", team: "protection"))
        try await fixture.pool.withConnection { connection in
            #expect(throws: OfficerActionError.needsClearance) { try fixture.desk("handler1").revealContact(ticketID: id, on: connection) }
            #expect(try fixture.desk("prot-fp").revealContact(ticketID: id, on: connection) == "+573009998877")
            let events = try connection.query("SELECT actor FROM ticket_events WHERE ticket_id = \(id) AND action = 'contact_revealed'")
            #expect(try events.map { try $0.decode("actor", as: String.self) } == ["prot-fp"])
            // The officer role cannot read the encrypted address by hand either.
            #expect(throws: (any Error).self) {
                try fixture.desk("prot-fp").inSession(connection) { try connection.query("SELECT address_enc FROM contacts") }
            }
        }
    }

    @Test func referralsNeedConsentOrAClearedOverride() async throws {
        let fixture = try await ConsoleFixture.make("desk_refer")
        defer { Task { await fixture.pool.close() } }
        let id = try await fixture.add(.init(reference: "FFFF01", text: "necesito un abogado para el asilo"))
        try await fixture.pool.withConnection { connection in
            let handler = fixture.desk("handler1")
            #expect(throws: OfficerActionError.emptyText("organisation")) {
                try handler.refer(ticketID: id, organisation: " ", service: .legalAid, consent: .given, now: Date(), on: connection)
            }
            #expect(throws: (any Error).self) {
                try handler.refer(ticketID: id, organisation: "NRC", service: .legalAid, consent: .overridden(reason: "urgent"), now: Date(), on: connection)
            }
            try handler.refer(ticketID: id, organisation: "NRC", service: .legalAid, consent: .given, now: Date(), on: connection)
            let data = ConsoleData(desk: handler, officerID: try handler.profile(on: connection).id)
            let detail = try data.detail(ticketID: id, recordView: false, on: connection)
            #expect(detail.referrals == [ReferralLine(organisation: "NRC", service: "legal_aid", status: "in_progress", consent: "given")])
            #expect(detail.history.map(\.action) == ["created", "referral"])
        }
    }

    @Test func keysetPagesGiveTheWholeUrgencyOrder() async throws {
        let fixture = try await ConsoleFixture.make("desk_paging")
        defer { Task { await fixture.pool.close() } }
        var random = SeededRandom(seed: 7)
        let flags = ["", "protection.detention", "stigma.xenophobic_speech", "protection.extortion"].filter { $0.isEmpty || fixture.taxonomy.flag(FlagCode($0)) != nil }
        for index in 0..<240 {
            let flag = flags[Int(random.next() % UInt64(flags.count))]
            let due: Date? = random.next() % 5 == 0 ? nil : Date(timeIntervalSinceNow: Double(random.next() % 400) * 60 - 6000)
            try await fixture.add(
                .init(reference: String(format: "P%05d", index).replacingOccurrences(of: "I", with: "1"), text: index % 10 == 0 ? "agua potable \(index)" : "hola",
                      flags: flag.isEmpty ? [] : [flag], ackDue: due))
        }
        let desk = fixture.desk("handler1")
        try await fixture.pool.withConnection { connection in
            let data = ConsoleData(desk: desk, officerID: try desk.profile(on: connection).id)
            let whole = try data.queue(QueueFilter(), after: nil, limit: 1000, on: connection)
            #expect(whole.count == 240)
            var paged: [QueueRow] = []
            var key: QueueKey?
            repeat {
                let page = try data.queue(QueueFilter(), after: key, limit: 37, on: connection)
                paged += page
                key = page.last?.key
                if page.count < 37 { break }
            } while true
            #expect(paged.map(\.id) == whole.map(\.id))
            // Most severe first; within a severity the nearest deadline first, none last.
            for (a, b) in zip(whole, whole.dropFirst()) {
                #expect(a.severityRank >= b.severityRank)
                if a.severityRank == b.severityRank, let bDue = b.due { #expect(a.due != nil && a.due! <= bDue) }
            }
            var search = QueueFilter()
            search.search = "agua potable"
            #expect(try data.queue(search, after: nil, limit: 100, on: connection).count == 24)
            #expect(try data.count(search, on: connection) == 24)
            var byReference = QueueFilter()
            byReference.search = "p00010"
            #expect(try data.queue(byReference, after: nil, limit: 10, on: connection).map(\.reference) == ["P00010"])
            var closed = QueueFilter()
            closed.scope = .all
            closed.status = "closed"
            #expect(try data.count(closed, on: connection) == 0)
            closed.status = "new"
            #expect(try data.count(closed, on: connection) == 240)
            var family = QueueFilter()
            family.flag = "protection"
            #expect(try data.queue(family, after: nil, limit: 1000, on: connection).allSatisfy { $0.flags.contains { $0.hasPrefix("protection.") } })
        }
    }
}
