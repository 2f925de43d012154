import EscuchaChannels
import EscuchaCore
import EscuchaServer
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Logging
import Testing

/// Real HTTP on loopback into the real server and a real PostgreSQL.
@Suite(.serialized) struct IntakeServerTests {
    static func twilioMessage(sid: String, from: String = "+573001234567", body: String) -> [(String, String)] {
        [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "ACtest"), ("From", from), ("To", "+15005550006"), ("Body", body), ("NumMedia", "0")]
    }

    @Test func aMessageBecomesATicketWithFlagsAndAQueuedAcknowledgement() async throws {
        try await TestServer.run("flow") { (server: TestServer) async throws in
            let response = try await server.postTwilio(Self.twilioMessage(sid: "SM0001", body: "mi esposo me pega todos los dias, estoy en Tapachula"))
            #expect(response.status == 200)
            #expect(response.body.contains("<Response"))
            #expect(response.headers["content-type"]?.contains("xml") == true)

            let flags = try await server.scalar("SELECT array_to_string(flags, ',') FROM tickets", as: String.self)
            #expect(flags.contains("protection.gbv"))
            #expect(try await server.scalar("SELECT restricted FROM tickets", as: Bool.self))
            #expect(try await server.scalar("SELECT severity FROM tickets", as: String.self) == "critical")
            #expect(try await server.scalar("SELECT location FROM tickets", as: String.self) == "Tapachula")
            #expect(try await server.scalar("SELECT status FROM inbound", as: String.self) == "accepted")
            #expect(try await server.scalar("SELECT count(*) FROM classifications", as: Int.self) == 1)
            #expect(try await server.scalar("SELECT count(*) FROM ticket_events WHERE action = 'created'", as: Int.self) == 1)

            // The contact is stored encrypted, linked by hash, masked; never in clear.
            let masked = try await server.scalar("SELECT masked FROM contacts", as: String.self)
            #expect(masked == "+57 *** *** 4567")
            let encrypted = try await server.scalar("SELECT address_enc FROM contacts", as: Data.self)
            #expect(try TestComponents.protector.decrypt(encrypted) == "+573001234567")
            #expect(!String(decoding: encrypted, as: UTF8.self).contains("3001234567"))

            // The acknowledgement is restricted: it never repeats the topic.
            let payload = try await server.scalar("SELECT payload::text FROM outbox", as: String.self)
            let reference = try await server.scalar("SELECT reference::text FROM tickets", as: String.self)
            #expect(payload.contains(reference))
            #expect(payload.contains("acknowledgement_restricted"))
            #expect(!payload.lowercased().contains("esposo"))
            #expect(try await server.scalar("SELECT status FROM outbox", as: String.self) == "pending")
        }
    }

    @Test func aRetryIsStoredOnceAndAnsweredAsSuccess() async throws {
        try await TestServer.run("dup") { (server: TestServer) async throws in
            let fields = Self.twilioMessage(sid: "SM0002", body: "Donde puedo recibir comida?")
            #expect(try await server.postTwilio(fields).status == 200)
            #expect(try await server.postTwilio(fields).status == 200)
            #expect(try await server.scalar("SELECT count(*) FROM messages", as: Int.self) == 1)
            #expect(try await server.scalar("SELECT count(*) FROM tickets", as: Int.self) == 1)
            #expect(try await server.scalar("SELECT count(*) FROM inbound", as: Int.self) == 2)
            #expect(try await server.scalar("SELECT count(*) FROM inbound WHERE status = 'duplicate'", as: Int.self) == 1)
            #expect(try await server.scalar("SELECT count(*) FROM outbox", as: Int.self) == 1)
        }
    }

    @Test func aFollowUpFromTheSameSenderJoinsTheOpenTicket() async throws {
        try await TestServer.run("thread") { (server: TestServer) async throws in
            #expect(try await server.postTwilio(Self.twilioMessage(sid: "SM0010", body: "Necesito ayuda con comida")).status == 200)
            #expect(try await server.postTwilio(Self.twilioMessage(sid: "SM0011", body: "y ademas la policia me pidio plata para pasar")).status == 200)
            #expect(try await server.scalar("SELECT count(*) FROM tickets", as: Int.self) == 1)
            #expect(try await server.scalar("SELECT count(*) FROM messages WHERE ticket_id IS NOT NULL", as: Int.self) == 2)
            // Another sender gets a ticket of their own; the first sender's reference in the text threads.
            #expect(try await server.postTwilio(Self.twilioMessage(sid: "SM0012", from: "+573009999999", body: "hola, necesito agua")).status == 200)
            #expect(try await server.scalar("SELECT count(*) FROM tickets", as: Int.self) == 2)
            #expect(try await server.scalar("SELECT count(*) FROM outbox", as: Int.self) == 2, "one acknowledgement per new ticket")
        }
    }

    @Test func badRequestsGetTheRightStatusAndAreKept() async throws {
        try await TestServer.run("bad") { (server: TestServer) async throws in
            // Wrong signature → 403.
            let forged = try await server.postTwilio(Self.twilioMessage(sid: "SM0100", body: "hola"), token: "wrong")
            #expect(forged.status == 403)
            // Unknown channel → 404.
            let unknown = try await server.send("POST", "/webhooks/sms/nowhere", headers: ["Content-Type": "application/json"], body: Data("{}".utf8))
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("Config/escucha.yaml"))
            // Oversize → 413.
            let big = Data(repeating: UInt8(ascii: "a"), count: 70 * 1024)
            let oversize = try await server.send("POST", "/webhooks/sms/json-test", headers: ["Content-Type": "application/json", "X-Escucha-Token": "s3cret"], body: big)
            #expect(oversize.status == 413)
            // Malformed JSON → 400 with the reason.
            let malformed = try await server.send("POST", "/webhooks/sms/json-test", headers: ["Content-Type": "application/json", "X-Escucha-Token": "s3cret"], body: Data("{\"from\": ".utf8))
            #expect(malformed.status == 400)
            #expect(!malformed.body.isEmpty)

            #expect(try await server.scalar("SELECT count(*) FROM inbound", as: Int.self) == 4, "every request is kept")
            #expect(try await server.scalar("SELECT count(*) FROM inbound WHERE status = 'rejected' AND reason IS NOT NULL", as: Int.self) == 4)
            #expect(try await server.scalar("SELECT octet_length(body) FROM inbound WHERE channel_id = 'json-test' ORDER BY id LIMIT 1", as: Int.self) == 64 * 1024)
            #expect(try await server.scalar("SELECT count(*) FROM tickets", as: Int.self) == 0)
        }
    }

    @Test func nulBytesInvalidUTF8AndLongTextsAreKeptVerbatim() async throws {
        try await TestServer.run("bytes") { (server: TestServer) async throws in
            // Invalid UTF-8 and a NUL byte inside a JSON body.
            var body = Array(#"{"id":"x-1","from":"+573001112233","text":"hola "#.utf8)
            body += [0xFF, 0xFE, 0x00, 0xC3]
            body += Array(#" fin"}"#.utf8)
            let odd = try await server.send("POST", "/webhooks/sms/json-test", headers: ["Content-Type": "application/json", "X-Escucha-Token": "s3cret"], body: Data(body))
            #expect([200, 400].contains(odd.status), "a clear answer, never a 500: got \(odd.status)")
            let stored = try await server.scalar("SELECT body FROM inbound ORDER BY id LIMIT 1", as: Data.self)
            #expect([UInt8](stored) == body, "stored byte for byte")

            // A 10,000-character text is accepted whole.
            let long = String(repeating: "necesito ayuda ", count: 667)
            let json = try JSONSerialization.data(withJSONObject: ["id": "x-2", "from": "+573001112244", "text": long])
            let accepted = try await server.send("POST", "/webhooks/sms/json-test", headers: ["Content-Type": "application/json", "X-Escucha-Token": "s3cret"], body: json)
            #expect(accepted.status == 200)
            #expect(try await server.scalar("SELECT char_length(text) FROM messages WHERE external_id = 'x-2'", as: Int.self) == long.count)
        }
    }

    @Test func healthAndMetricsAreServed() async throws {
        try await TestServer.run("health") { (server: TestServer) async throws in
            let health = try await server.send("GET", "/healthz")
            #expect(health.status == 200)
            _ = try await server.postTwilio(Self.twilioMessage(sid: "SM0200", body: "me golpearon y me robaron en la trocha"))
            let metrics = try await server.send("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#"escucha_webhook_requests_total{channel="twilio-test",outcome="accepted"} 1"#))
            #expect(metrics.body.contains("escucha_outbox_depth 1.0"))
            #expect(metrics.body.contains("escucha_flags_raised_total"))
        }
    }

    @Test func whenTheDatabaseIsDownRequestsAreSpooledThenDrained() async throws {
        let spool = "/tmp/escucha-spool-down-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        // A pool pointing at a socket where no server listens.
        let deadPool = PostgresPool(configuration: .init(conninfo: "host=/tmp/escucha-no-server-here dbname=x connect_timeout=2", size: 1))
        let down = TestComponents.intake(pool: deadPool, spoolDirectory: spool)
        let json = try JSONSerialization.data(withJSONObject: ["id": "sp-1", "from": "+573001119999", "text": "me quiero morir"])
        let request = RawRequest(method: "POST", path: "/webhooks/sms/json-test", headers: [("Content-Type", "application/json"), ("X-Escucha-Token", "s3cret")], body: Array(json))
        let response = await down.receive(channelID: "json-test", request: request)
        #expect(response.status == 200, "success only because the request is safely spooled")
        #expect(response.outcome == .spooled)
        #expect(Spool(directory: spool).pending().count == 1)
        // A second delivery while still down is spooled too.
        _ = await down.receive(channelID: "json-test", request: request)
        #expect(Spool(directory: spool).pending().count == 2)
        await deadPool.close()

        // The database is back: the drain stores both, recognises the retry, creates one ticket.
        let pool = try await TestCluster.migratedPool("spool")
        let up = TestComponents.intake(pool: pool, spoolDirectory: spool)
        #expect(await up.drainSpool() == 2)
        #expect(Spool(directory: spool).pending().isEmpty)
        let tickets = try await pool.withConnection { try $0.query("SELECT array_to_string(flags, ',') AS f FROM tickets") }
        #expect(tickets.count == 1)
        #expect(try tickets[0].decode("f", as: String.self).contains("protection.self_harm"))
        #expect(try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM inbound")[0].decode("n", as: Int.self) } == 2)
        await pool.close()
    }

    @Test func anUnwritableSpoolAndNoDatabaseMeans503() async throws {
        let deadPool = PostgresPool(configuration: .init(conninfo: "host=/tmp/escucha-no-server-here dbname=x connect_timeout=2", size: 1))
        let intake = TestComponents.intake(pool: deadPool, spoolDirectory: "/proc/escucha-cannot-write-here")
        let request = RawRequest(method: "POST", path: "/webhooks/sms/json-test", headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        let response = await intake.receive(channelID: "json-test", request: request)
        #expect(response.status == 503)
        await deadPool.close()
    }
}
