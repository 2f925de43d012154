import EscuchaCore
import EscuchaServer
import EscuchaStore
import EscuchaWorkflow
import Foundation
import Logging
import Testing

/// The core path end to end: an SMS webhook becomes a ticket with flags, and the
/// acknowledgement reaches a local HTTP receiver standing in for the gateway's API.
@Suite(.serialized) struct EndToEndTests {
    @Test func theAcknowledgementReachesTheGatewayWithTheReference() async throws {
        let receiver = try OutboxTestReceiver(.http { _ in .json(201, #"{"sid":"SMack0001","status":"queued"}"#) })
        defer { receiver.stop() }
        try await TestServer.run("e2e") { (server: TestServer) async throws in
            let fields = IntakeServerTests.twilioMessage(sid: "SM9001", from: "+573005550123", body: "Hola, donde entregan comida en Cucuta?")
            #expect(try await server.postTwilio(fields).status == 200)
            let reference = try await server.scalar("SELECT reference::text FROM tickets", as: String.self)

            var configuration = OutboxSender.Configuration(workerID: "test-e2e")
            configuration.originOverrides = ["twilio-test": receiver.origin]
            let sender = OutboxSender(
                pool: server.pool, transport: HTTPClient(), catalog: TestComponents.catalog, channels: TestComponents.instances,
                protector: TestComponents.protector, environment: testEnvironment, configuration: configuration,
                logger: Logger(label: "test.outbox"))
            #expect(try await sender.runOnce(now: Date()) == 1)

            let requests = receiver.requests
            #expect(requests.count == 1)
            let form = try #require(requests.first).formFields
            #expect(form["To"] == "+573005550123", "the decrypted number goes to the gateway, and only there")
            #expect(form["From"] == "+15005550006")
            #expect(form["Body"]?.contains(reference) == true)
            #expect(form["Body"]?.hasPrefix("Cruz Roja") == true, "Spanish acknowledgement")
            #expect(try await server.scalar("SELECT status FROM outbox", as: String.self) == "sent")
            #expect(try await server.scalar("SELECT provider_id FROM outbox", as: String.self) == "SMack0001")
        }
    }
}
