import EscuchaChannels
import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Logging
import Testing

/// Intake's one-call path for new tickets (`escucha_intake_new_message`, migration 0012)
/// must leave the same tickets as the general path, with the escalation rules applied.
@Suite(.serialized) struct IntakeNewTicketTests {
    static let teamsYAML = """
        teams:
          - {id: cea, name: CEA}
          - {id: protection, name: Protection}
        officers:
          - {login: prot-fp, team: protection, roles: [protection_focal_point], clearance: true, email: prot@example.org}
        """

    static func planner() throws -> EscalationPlanner {
        EscalationPlanner(rules: try EscalationPlanner.load(configDirectory: RepositoryLayout.config).rules)
    }

    static func intake(_ pool: PostgresPool) throws -> Intake {
        Intake(
            pool: pool, classifier: TestComponents.classifier, catalog: TestComponents.catalog, instances: TestComponents.instances,
            templates: TestComponents.templates, protector: TestComponents.protector,
            configuration: IntakeConfiguration(spoolDirectory: NSTemporaryDirectory() + "escucha-newticket-spool-\(getpid())"),
            escalation: try planner(), environment: testEnvironment, logger: Logger(label: "test.intake", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static func post(_ intake: Intake, id: String, from: String, text: String) async throws -> IntakeResponse {
        let body = try JSONSerialization.data(withJSONObject: ["id": id, "from": from, "text": text])
        let request = RawRequest(
            method: "POST", target: "/webhooks/sms/json-test",
            headers: [(name: "Content-Type", value: "application/json"), (name: "X-Escucha-Token", value: "s3cret")], body: [UInt8](body))
        return await intake.receive(channelID: "json-test", request: request)
    }

    /// Posts `count` messages at once; `message(i)` gives the id, sender and text of the i-th.
    static func postAtOnce(_ intake: Intake, count: Int, _ message: @escaping @Sendable (Int) -> (id: String, from: String, text: String)) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                group.addTask {
                    let (id, from, text) = message(index)
                    return try await post(intake, id: id, from: from, text: text).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
    }

    static func pool(_ label: String) async throws -> PostgresPool {
        let pool = try await TestCluster.migratedPool(label)
        let directory = try EscalationDirectory.parse(teamsYAML, file: "teams.yaml")
        try await pool.withTransaction { connection in _ = try EscalationDirectorySync.sync(directory, on: connection) }
        return pool
    }

    @Test func aNewTicketCarriesWhatTheRulesDecideAsPlanningAnExistingTicketWould() async throws {
        let pool = try await Self.pool("newticket_rules")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        let text = "un hombre está abusando de mi hija de 9 años en Tapachula"
        let response = try await Self.post(intake, id: "m1", from: "+573001110000", text: text)
        #expect(response.status == 200)
        #expect(response.outcome == .accepted)
        let ticketID = try #require(response.ticketIDs.first)

        // The same facts planned the general way, on a ticket inserted without the rules.
        let classification = TestComponents.classifier.classify(text, languageHint: "en")
        let reference = TicketReference.random()
        let planned = try await pool.withTransaction { connection -> Int64 in
            let id: Int64 = try connection.query(
                """
                INSERT INTO tickets (reference, type, flags, severity, restricted, language, location, channel_id)
                VALUES (\(reference), \(classification.type), \(classification.flags.map(\.rawValue)), \(classification.severity!.rawValue),
                        \(classification.restricted), \(classification.language), 'Tapachula', 'json-test')
                RETURNING id
                """)[0].decode("id")
            try Self.planner().plan(
                ticketID: id, flags: classification.flags, severity: classification.severity!, type: classification.type,
                channelID: "json-test", location: "Tapachula", language: classification.language, restricted: classification.restricted,
                now: Date(), on: connection)
            return id
        }
        func summary(_ id: Int64) async throws -> [String] {
            try await pool.withConnection { connection in
                let ticket = try connection.query(
                    """
                    SELECT t.severity, t.restricted, t.team, coalesce(o.login, '-') AS assignee, t.status, array_to_string(t.flags, ',') AS flags,
                           round(extract(epoch FROM t.ack_due_at - t.created_at) / 60)::text AS ack_minutes,
                           round(extract(epoch FROM t.resolve_due_at - t.created_at) / 60)::text AS resolve_minutes
                    FROM tickets t LEFT JOIN officers o ON o.id = t.assignee_id WHERE t.id = \(id)
                    """)[0]
                let steps = try connection.query("SELECT rule || '/' || level || '/' || target AS s FROM escalations WHERE ticket_id = \(id) ORDER BY rule, level")
                let rules = try connection.query(
                    "SELECT (details - 'planned')::text AS d, details ->> 'planned' AS n FROM ticket_events WHERE ticket_id = \(id) AND action = 'rules'")
                return [
                    try ticket.decode("severity"), String(try ticket.decode("restricted", as: Bool.self)), try ticket.decode("team", as: String?.self) ?? "-",
                    try ticket.decode("assignee"), try ticket.decode("status"), try ticket.decode("flags"),
                    try ticket.decode("ack_minutes", as: String?.self) ?? "-", try ticket.decode("resolve_minutes", as: String?.self) ?? "-",
                ] + (try steps.map { try $0.decode("s", as: String.self) }) + (try rules.map { try $0.decode("d", as: String.self) + " planned " + $0.decode("n", as: String.self) })
            }
        }
        let fast = try await summary(ticketID)
        #expect(fast == (try await summary(planned)))
        #expect(fast[5].contains("protection.child_at_risk"))
        #expect(fast[2] == "protection", "the rules route child-at-risk cases to protection")

        // Everything else intake writes, once: message linked to ticket and contact, one
        // classification, the events in order, the acknowledgement, the request's outcome.
        let row = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT (SELECT count(*) FROM messages WHERE ticket_id = \(ticketID) AND contact_id IS NOT NULL) AS messages,
                       (SELECT count(*) FROM classifications WHERE ticket_id = \(ticketID)) AS classifications,
                       (SELECT string_agg(action, ',' ORDER BY at, id) FROM ticket_events WHERE ticket_id = \(ticketID)) AS events,
                       (SELECT payload ->> 'template' FROM outbox WHERE ticket_id = \(ticketID)) AS template,
                       (SELECT payload ->> 'text' FROM outbox WHERE ticket_id = \(ticketID)) AS ack,
                       (SELECT reference::text FROM tickets WHERE id = \(ticketID)) AS reference,
                       (SELECT status || '/' || (message_id IS NOT NULL) FROM inbound) AS inbound
                """)[0]
        }
        #expect(try row.decode("messages", as: Int.self) == 1)
        #expect(try row.decode("classifications", as: Int.self) == 1)
        #expect(try row.decode("events", as: String.self) == "created,rules")
        #expect(try row.decode("template", as: String.self) == "acknowledgement_restricted")
        #expect(try row.decode("ack", as: String.self).contains(try row.decode("reference", as: String.self)))
        #expect(!(try row.decode("ack", as: String.self)).contains("hija"))
        #expect(try row.decode("inbound", as: String.self) == "accepted/true")
    }

    @Test func aFollowUpMergesIntoItsTicketAndTheRulesSeeTheMergedFacts() async throws {
        let pool = try await Self.pool("followup_rules")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        let first = try await Self.post(intake, id: "f1", from: "+573001112222", text: "Necesito ayuda con comida en Cúcuta")
        let ticketID = try #require(first.ticketIDs.first)
        func ticket() async throws -> PostgresRow {
            try await pool.withConnection { connection in
                try connection.query(
                    """
                    SELECT severity, restricted, coalesce(team, '-') AS team, status, array_to_string(flags, ',') AS flags,
                           array_to_string(sectors, ',') AS sectors, coalesce(location, '-') AS location,
                           (SELECT string_agg(rule || '/' || level, ',') FROM escalations WHERE ticket_id = \(ticketID)) AS escalations,
                           (SELECT string_agg(action, ',' ORDER BY at, id) FROM ticket_events WHERE ticket_id = \(ticketID)) AS events
                    FROM tickets WHERE id = \(ticketID)
                    """)[0]
            }
        }
        let before = try await ticket()
        #expect(try before.decode("flags", as: String.self) == "")
        #expect(try before.decode("severity", as: String.self) == "low")

        let followUp = try await Self.post(intake, id: "f2", from: "+573001112222", text: "dejaron sola a mi sobrina de 9 años en la terminal, nadie la cuida")
        #expect(followUp.status == 200)
        #expect(followUp.ticketIDs == [ticketID], "the follow-up joins the open ticket")
        let after = try await ticket()
        let mergedFlags = try after.decode("flags", as: String.self).split(separator: ",").map(String.init)
        #expect(mergedFlags == ["protection.child_at_risk"])
        // The union of both messages' sectors, sorted (food from the first, protection from the
        // second at least).
        let sectors = Set(TestComponents.classifier.classify("Necesito ayuda con comida en Cúcuta").sectors)
            .union(TestComponents.classifier.classify("dejaron sola a mi sobrina de 9 años en la terminal, nadie la cuida").sectors)
        #expect(sectors.isSuperset(of: ["food", "protection"]))
        #expect(try after.decode("sectors", as: String.self) == sectors.sorted().joined(separator: ","), "sectors merged, sorted")
        #expect(try after.decode("severity", as: String.self) == "critical")
        #expect(try after.decode("restricted", as: Bool.self))
        #expect(try after.decode("location", as: String.self) == "Cúcuta", "the first place is kept")
        #expect(try after.decode("team", as: String.self) == (try before.decode("team", as: String.self)), "a team, once set, stays")
        // The rules saw the merged ticket: the child-at-risk rule planned its notifications.
        let beforeTeam = try before.decode("team", as: String.self)
        let rules = try EscalationPlanner.load(configDirectory: RepositoryLayout.config).rules.evaluate(
            EscalationFacts(
                flags: Set(mergedFlags.map { FlagCode($0) }), severity: .critical, type: "complaint", channelID: "json-test", location: "Cúcuta",
                language: "es", team: beforeTeam == "-" ? nil : beforeTeam, restricted: true),
            now: Date(), workingHours: [:])
        #expect(!rules.steps.isEmpty)
        let plannedText: String = try after.decode("escalations", as: String?.self) ?? ""
        let planned = Set(plannedText.split(separator: ",").map(String.init))
        for step in rules.steps { #expect(planned.contains("\(step.rule)/\(step.level)"), "\(step.rule) level \(step.level)") }
        #expect(try after.decode("events", as: String.self) == "created,rules,message,rules")
        #expect(try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM outbox WHERE kind = 'sms' AND ticket_id = \(ticketID) AND idempotency_key LIKE 'ack:%'")[0].decode("n", as: Int.self) } == 1)
    }

    @Test func aTakenReferenceMovesToTheNextCandidateAndTheAcknowledgementFollows() async throws {
        let pool = try await Self.pool("newticket_clash")
        defer { Task { await pool.close() } }
        let taken = "AAAAAA"
        let result = try await pool.withConnection { connection in
            try connection.execute("INSERT INTO tickets (reference) VALUES (\(taken))")
            let inbound: Int64 = try connection.query(
                "INSERT INTO inbound (channel_id, kind, body) VALUES ('json-test', 'http', '\\x00') RETURNING id")[0].decode("id")
            let payload = JSON(#"{"text": "Recibimos su mensaje. Referencia AAAAAA.", "template": "acknowledgement", "language": "es"}"#)
            let none: [String] = []
            return try connection.query(
                """
                SELECT * FROM escucha_intake_new_message(
                    \(inbound), 'json-test', 'sms', 'ext-1', 'necesito agua', now(), 'es', 'phone', '\\x01'::bytea, 'hash-1', '+57 *** 1',
                    \(none), 1209600, \(["AAAAAA", "BBBBBB"]), 'request', \(none), \(none), 'low', false, NULL,
                    NULL, NULL, NULL, NULL, 'v1', 'es', \(none), NULL, false, '[]', '[]', '{}', now(), NULL,
                    \(none), \([Int]()), \(none), '{}', \(payload))
                """)[0]
        }
        #expect(try result.decode("outcome", as: String.self) == "created")
        #expect(try result.decode("reference", as: String.self) == "BBBBBB")
        let ack = try await pool.withConnection { connection in
            try connection.query("SELECT payload ->> 'text' AS t FROM outbox")[0].decode("t", as: String.self)
        }
        #expect(ack == "Recibimos su mensaje. Referencia BBBBBB.")
    }

    /// An item of `escucha_intake_new_messages`, as TicketWriter writes them.
    static func groupItem(_ external: String, hash: String, severity: String = "low", reference: String) -> String {
        """
        {"inbound_id": null, "channel_id": "json-test", "message_kind": "sms", "external_id": "\(external)",
         "text": "necesito agua", "received_at": "2026-11-30 10:00:00.000000+00", "language": "es", "contact_kind": "phone",
         "address_enc": "\\\\x01", "address_hash": "\(hash)", "masked": "+57 *** 1", "typed_references": [], "window_seconds": 1209600,
         "candidate_references": ["\(reference)"], "type": "request", "flags": [], "sectors": [], "severity": "\(severity)",
         "restricted": false, "location": null, "team": null, "assignee": null, "ack_due_at": null, "resolve_due_at": null,
         "classifier": "v1", "class_language": "es", "class_flags": [], "class_severity": null, "class_restricted": false,
         "places": [], "evidence": [], "created_details": {}, "rules_at": "2026-11-30 10:00:00.000000+00", "rules_details": null,
         "step_rules": [], "step_levels": [], "step_targets": [], "step_due_at": [], "ack_payload": {"text": "Ref \(reference)"}}
        """
    }

    static func writeGroup(_ items: [String], pool: PostgresPool) async throws -> [String] {
        let group = JSON("[" + items.joined(separator: ",") + "]")
        return try await pool.withConnection { connection in
            try connection.query("SELECT item, outcome, error FROM escucha_intake_new_messages(\(group)) ORDER BY item").map {
                "\(try $0.decode("item", as: Int.self)):\(try $0.decode("outcome", as: String.self)):\(try $0.decode("error", as: String?.self) ?? "-")"
            }
        }
    }

    @Test func aGroupIsWrittenTogetherWithItsRetriesAndThreadsToldApart() async throws {
        let pool = try await Self.pool("newticket_set")
        defer { Task { await pool.close() } }
        #expect(try await Self.writeGroup([Self.groupItem("a1", hash: "ha", reference: "AAAAA1")], pool: pool) == ["1:created:-"])
        try await pool.withConnection { connection in try connection.execute("INSERT INTO tickets (reference) VALUES ('TAKEN1')") }
        let outcomes = try await Self.writeGroup([
            Self.groupItem("b1", hash: "hb", reference: "BBBBB1"),
            Self.groupItem("a1", hash: "hz", reference: "ZZZZZ1"),  // a retry of a1
            Self.groupItem("a2", hash: "ha", reference: "AAAAA2"),  // the person of a1 again
            Self.groupItem("c1", hash: "hc", reference: "TAKEN1"),  // the reference is taken
            Self.groupItem("d1", hash: "hd", reference: "DDDDD1"),
        ], pool: pool)
        #expect(outcomes == ["1:created:-", "2:duplicate:-", "3:threaded:-", "4:failed:reference", "5:created:-"])
        let row = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT (SELECT string_agg(reference::text, ',' ORDER BY reference) FROM tickets) AS tickets,
                       (SELECT string_agg(external_id || '>' || t.reference, ',' ORDER BY external_id) FROM messages m JOIN tickets t ON t.id = m.ticket_id) AS messages,
                       (SELECT string_agg(payload ->> 'text', ',' ORDER BY id) FROM outbox) AS acks,
                       (SELECT count(*) FROM classifications) AS classifications,
                       (SELECT string_agg(action, ',' ORDER BY id) FROM ticket_events) AS events,
                       (SELECT count(*) FROM contacts) AS contacts
                """)[0]
        }
        #expect(try row.decode("tickets", as: String.self) == "AAAAA1,BBBBB1,DDDDD1,TAKEN1")
        #expect(try row.decode("messages", as: String.self) == "a1>AAAAA1,b1>BBBBB1,d1>DDDDD1")
        #expect(try row.decode("acks", as: String.self) == "Ref AAAAA1,Ref BBBBB1,Ref DDDDD1")
        #expect(try row.decode("classifications", as: Int.self) == 3)
        #expect(try row.decode("events", as: String.self) == "created,created,created")
        #expect(try row.decode("contacts", as: Int.self) == 4, "the threaded and the failed item's people are upserted, the retry's not")
    }

    @Test func aFailingItemOfAGroupLeavesTheOthersWritten() async throws {
        let pool = try await Self.pool("newticket_group")
        defer { Task { await pool.close() } }
        // An impossible severity fails the group's set statements; item by item, only
        // that item fails.
        let outcomes = try await Self.writeGroup([
            Self.groupItem("e1", hash: "h1", reference: "CCCCC1"),
            Self.groupItem("e2", hash: "h2", severity: "bogus", reference: "CCCCC2"),
            Self.groupItem("e3", hash: "h3", severity: "high", reference: "CCCCC3"),
        ], pool: pool)
        #expect(outcomes == ["1:created:-", "2:failed:23514", "3:created:-"])
        let written = try await pool.withConnection { connection in
            try connection.query("SELECT string_agg(external_id, ',' ORDER BY external_id) AS e FROM messages")[0].decode("e", as: String.self)
        }
        #expect(written == "e1,e3", "the failed item left nothing behind")
    }

    @Test func manyPeopleWritingAtOnceEachGetOneTicket() async throws {
        let pool = try await Self.pool("newticket_many")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        let statuses = try await Self.postAtOnce(intake, count: 40) { index in
            ("many-\(index)", "+5730033\(String(format: "%05d", index % 20))", "no tenemos comida \(index)")
        }
        #expect(statuses == Array(repeating: 200, count: 40))
        let counts = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT (SELECT count(*) FROM tickets) AS tickets, (SELECT count(*) FROM messages WHERE ticket_id IS NOT NULL) AS linked,
                       (SELECT count(*) FROM outbox) AS acks, (SELECT count(*) FROM inbound WHERE status = 'accepted' AND message_id IS NOT NULL) AS inbound,
                       (SELECT count(DISTINCT contact_id) FROM tickets) AS people
                """)[0]
        }
        #expect(try counts.decode("tickets", as: Int.self) == 20)
        #expect(try counts.decode("people", as: Int.self) == 20)
        #expect(try counts.decode("linked", as: Int.self) == 40)
        #expect(try counts.decode("acks", as: Int.self) == 20)
        #expect(try counts.decode("inbound", as: Int.self) == 40)
    }

    @Test func rawRequestsStoredTogetherKeepTheirOwnRowsEvenWithANulInAHeader() async throws {
        let pool = try await Self.pool("newticket_raw")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        let outcomes = try await withThrowingTaskGroup(of: (Int, IntakeResponse).self) { group in
            for index in 0..<12 {
                group.addTask {
                    let body = try JSONSerialization.data(withJSONObject: ["id": "raw-\(index)", "from": "+5730044\(String(format: "%05d", index))", "text": "hola \(index)"])
                    var headers: [(name: String, value: String)] = [(name: "Content-Type", value: "application/json"), (name: "X-Escucha-Token", value: "s3cret")]
                    if index == 5 { headers.append((name: "X-Odd", value: "a\u{0}b")) }
                    let request = RawRequest(method: "POST", target: "/webhooks/sms/json-test?n=\(index)", headers: headers, body: [UInt8](body))
                    return (index, await intake.receive(channelID: "json-test", request: request))
                }
            }
            return try await group.reduce(into: [Int: IntakeResponse]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.values.allSatisfy { $0.outcome == .accepted })
        // Each request's row holds its own path and body, whatever group stored it.
        let rows = try await pool.withConnection { connection in
            try connection.query("SELECT id, path, convert_from(body, 'UTF8') AS body, headers ->> 'x-odd' AS odd FROM inbound")
        }
        #expect(rows.count == 12)
        for row in rows {
            let id: Int64 = try row.decode("id")
            let path: String = try row.decode("path")
            let index = try #require(Int(path.split(separator: "=").last ?? ""))
            #expect(outcomes[index]?.inboundID == id)
            #expect(try row.decode("body", as: String.self).contains("\"raw-\(index)\""))
            #expect(try row.decode("odd", as: String?.self) == (index == 5 ? "a\u{FFFD}b" : nil))
        }
    }

    @Test func aNulInTheTextIsStoredAsAReplacementCharacterAndTakesNoOneElseDown() async throws {
        let pool = try await Self.pool("newticket_nul")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        // JSONSerialization writes U+0000 as the escape \u0000, which JSON gateways decode to a NUL.
        let statuses = try await Self.postAtOnce(intake, count: 8) { index in
            ("nul-\(index)", "+5730055\(String(format: "%05d", index))", index == 3 ? "hola\u{0}fin" : "hola \(index)")
        }
        #expect(statuses == Array(repeating: 200, count: 8))
        let text = try await pool.withConnection { connection in
            try connection.query("SELECT text FROM messages WHERE external_id = 'nul-3'")[0].decode("text", as: String.self)
        }
        #expect(text == "hola\u{FFFD}fin")
        let raw = try await pool.withConnection { connection in
            try connection.query("SELECT strpos(convert_from(body, 'UTF8'), '\\u0000') > 0 AS kept FROM inbound WHERE message_id = (SELECT id FROM messages WHERE external_id = 'nul-3')")[0].decode("kept", as: Bool.self)
        }
        #expect(raw, "the raw request keeps the escape as it came")
    }

    @Test func concurrentFirstMessagesOfOnePersonShareOneTicket() async throws {
        let pool = try await Self.pool("newticket_race")
        defer { Task { await pool.close() } }
        let intake = try Self.intake(pool)
        let statuses = try await Self.postAtOnce(intake, count: 6) { index in ("race-\(index)", "+573002220000", "necesito comida \(index)") }
        #expect(statuses == Array(repeating: 200, count: 6))
        let counts = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT (SELECT count(*) FROM tickets) AS tickets, (SELECT count(DISTINCT ticket_id) FROM messages) AS linked,
                       (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM outbox) AS acks
                """)[0]
        }
        #expect(try counts.decode("tickets", as: Int.self) == 1)
        #expect(try counts.decode("linked", as: Int.self) == 1)
        #expect(try counts.decode("messages", as: Int.self) == 6)
        #expect(try counts.decode("acks", as: Int.self) == 1)
    }
}
