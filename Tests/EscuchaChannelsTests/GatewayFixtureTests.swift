import EscuchaChannels
import EscuchaCore
import Foundation
import Testing

@Suite("Gateway fixtures (../shared/fixtures/gateways)")
struct GatewayFixtureTests {
    @Test("the fixtures are found")
    func fixturesPresent() {
        #expect(FixtureCase.all().count >= 200, "fixtures not found under \(Paths.gatewayFixtures.path); set ESCUCHA_SHARED_DIR")
    }

    @Test("every fixture case gives what its expect says", arguments: FixtureCase.all())
    func fixtureCase(_ fixture: FixtureCase) throws {
        let catalog = try sharedCatalog.get()
        let setup = fixture.setup
        let outcome = catalog.parse(request: fixture.request, instance: setup.instance, secrets: setup.secrets, now: setup.now)
        var kind = fixture.expected("kind") ?? "?"
        // Deliberate deviation: a valid ISO-8601 offset is accepted (the fixture records
        // courier's refusal, and gives the robust reading in robust_received_at).
        if fixture.expect["robust_received_at"] != nil, fixture.file == "zenvia", fixture.name.contains("Bad Date") { kind = "message" }

        switch kind {
        case "message":
            guard case .messages(let messages, _, _, _) = outcome, let m = messages.first else {
                Issue.record("expected a message, got \(outcome)"); return
            }
            try checkMessage(m, fixture, setup: setup)
        case "message_part":
            guard case .partial(let parts) = outcome, let p = parts.first else { Issue.record("expected a part, got \(outcome)"); return }
            try checkMessage(p.message, fixture, setup: setup)
            if case .object(let c)? = fixture.expect["concat"] {
                #expect(p.concat.ref == c["ref"]?.scalarText)
                #expect(String(p.concat.total) == c["total"]?.scalarText)
                #expect(String(p.concat.part) == c["part"]?.scalarText)
            }
        case "status", "event", "ignored":
            guard case .ignored(let ignored) = outcome else { Issue.record("expected ignored/status/event, got \(outcome)"); return }
            if case .array(let expected)? = fixture.expect["statuses"] {
                #expect(ignored.statuses.count == expected.count, "statuses")
                for (got, want) in zip(ignored.statuses, expected) {
                    guard case .object(let w) = want else { continue }
                    #expect(got.state.rawValue == w["status"]?.scalarText)
                    if let id = w["external_id"]?.scalarText { #expect(got.externalID == id) }
                    if let ref = w["msg_uuid"]?.scalarText { #expect(got.reference == ref) }
                    if let at = (w["done_at"] ?? w["at"])?.scalarText { #expect(got.at == isoDate(at)) }
                }
            } else if kind == "ignored" {
                #expect(ignored.statuses.isEmpty)
            }
            if case .array(let expected)? = fixture.expect["events"] {
                #expect(ignored.events.count == expected.count, "events")
                for (got, want) in zip(ignored.events, expected) {
                    guard case .object(let w) = want else { continue }
                    #expect(got.kind == (w["type"]?.scalarText == "StopContact" ? .optOut : .newConversation))
                    if let urn = w["urn"]?.scalarText {
                        let address = urn.split(separator: ":", maxSplits: 1).last.map { String($0.split(separator: "#").first ?? "") } ?? ""
                        #expect(got.address == address)
                    }
                }
            }
        case "rejected":
            guard case .rejected(let r) = outcome else { Issue.record("expected a rejection, got \(outcome)"); return }
            #expect(!r.reason.isEmpty)
            // The reason must be safe to log: never the sender or the text.
            if let text = fixture.expected("text"), text.count > 3 { #expect(!r.reason.contains(text)) }
        case "verification":
            guard case .challenge(let value) = outcome else { Issue.record("expected a challenge, got \(outcome)"); return }
            #expect(value == "yarchallenge")
        default:
            Issue.record("unknown expected kind \(kind)")
        }
    }

    func checkMessage(_ m: InboundMessage, _ fixture: FixtureCase, setup: (gateway: String, instance: ChannelInstance, secrets: ChannelSecrets, now: Date)) throws {
        #expect(m.channelID == "fixture")
        if let from = fixture.expected("from") { #expect(m.sender == from) }
        if let text = fixture.expected("text") { #expect(m.text == text) }
        if let id = fixture.expected("external_id") {
            // Telegram message ids are unique per chat only: ours are chat-id:message-id.
            let want = fixture.file == "telegram" ? "\(fixture.expected("from") ?? ""):\(id)" : id
            #expect(m.externalID == want)
        }
        let stamp = fixture.expected("robust_received_at") ?? fixture.expected("received_at")
        if let stamp {
            let want = try #require(isoDate(stamp))
            #expect(abs(m.receivedAt.timeIntervalSince(want)) < 0.0005, "received_at \(m.receivedAt) != \(stamp)")
        } else {
            #expect(m.receivedAt == setup.now, "no timestamp in the payload: arrival time")
        }
        if case .array(let wanted)? = fixture.expect["attachments"] {
            let want = wanted.compactMap(\.scalarText)
            #expect(m.attachments.count == want.count, "attachments")
            for (got, w) in zip(m.attachments, want) {
                if w.hasPrefix("https://api.telegram.org/file/") {
                    #expect(got.url.hasPrefix("telegram-file:"), "Telegram media are file ids to resolve with getFile")
                } else if w.hasPrefix("https://foo.bar/attachmentURL") {
                    #expect(got.url.hasPrefix("whatsapp-media:"), "WhatsApp media are ids to resolve with the Graph API")
                } else {
                    #expect(render(got) == w)
                }
            }
        }
    }
}
