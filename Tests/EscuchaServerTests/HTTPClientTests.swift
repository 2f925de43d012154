import EscuchaWorkflow
import Foundation
import Synchronization
import Testing

/// The libcurl client against a local receiver on loopback (no external network).
@Suite("HTTPClient over libcurl")
struct HTTPClientTests {
    @Test func postSendsTheExactBodyBytesHeadersAndBasicAuthAndReadsTheResponse() async throws {
        let receiver = try OutboxTestReceiver(
            .http { _ in
                CannedResponse(status: 201, headers: [("X-Answer", "yes")], body: Array(#"{"sid":"SM1"}"#.utf8))
            })
        defer { receiver.stop() }
        // A body built from a temporary string, with non-ASCII and a NUL byte: CURLOPT_COPYPOSTFIELDS
        // must copy it (POSTFIELDS would send whatever is left at the pointer).
        func makeBody() -> [UInt8] { Array("Hola, ñandú ✓ ".utf8) + [0] + Array("fin".utf8) }
        let client = HTTPClient()
        let response = try await client.send(
            HTTPRequest(
                method: "POST", url: receiver.origin + "/send?x=1",
                headers: [("Content-Type", "application/octet-stream"), ("X-Trace", "abc")], body: makeBody(),
                basicAuth: (user: "AC1", password: "s3cret")))
        #expect(response.status == 201)
        #expect(response.header("x-answer") == "yes")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"sid":"SM1"}"#)
        let received = try #require(receiver.requests.first)
        #expect(received.method == "POST")
        #expect(received.target == "/send?x=1")
        #expect(received.body == makeBody())
        #expect(received.header("X-Trace") == "abc")
        #expect(received.header("Content-Type") == "application/octet-stream")
        #expect(received.header("Authorization") == "Basic " + Data("AC1:s3cret".utf8).base64EncodedString())
        #expect(received.header("Expect") == nil)
    }

    @Test func getAndPutAndEmptyBodiesWork() async throws {
        let receiver = try OutboxTestReceiver(.http { request in .json(200, #"{"method":"\#(request.method)"}"#) })
        defer { receiver.stop() }
        let client = HTTPClient()
        for method in ["GET", "PUT", "POST", "DELETE"] {
            let response = try await client.send(HTTPRequest(method: method, url: receiver.origin + "/m"))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"method":"\#(method)"}"#)
        }
        #expect(receiver.requests.map(\.method) == ["GET", "PUT", "POST", "DELETE"])
        #expect(receiver.requests.allSatisfy { $0.body.isEmpty })
    }

    @Test func redirectsAreNotFollowed() async throws {
        let receiver = try OutboxTestReceiver(
            .http { _ in CannedResponse(status: 302, headers: [("Location", "http://127.0.0.1:1/elsewhere")]) })
        defer { receiver.stop() }
        let response = try await HTTPClient().send(HTTPRequest(method: "POST", url: receiver.origin + "/a", body: [1]))
        #expect(response.status == 302)
        #expect(receiver.requests.count == 1)
    }

    @Test func aRefusedConnectionIsTransientAndItsDescriptionHidesQueryAndBody() async throws {
        // Bind and stop a receiver to get a port nobody listens on.
        let closed = try OutboxTestReceiver(.http { _ in CannedResponse(status: 200) })
        let port = closed.port
        closed.stop()
        let request = HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(port)/send?secret=TOPSECRET&to=%2B573001234567",
            body: Array("Body=violencia en el albergue&To=+573001234567".utf8),
            basicAuth: (user: "AC1", password: "pw-hidden"))
        do {
            _ = try await HTTPClient().send(request)
            Issue.record("the request should have failed")
        } catch {
            #expect(error.kind == .couldNotConnect)
            #expect(error.curlCode == 7)
            #expect(error.isTransient)
            for text in [error.description, "\(request)"] {
                #expect(text.contains("127.0.0.1:\(port)"))
                for secret in ["TOPSECRET", "573001234567", "violencia", "pw-hidden", "/send"] {
                    #expect(!text.contains(secret), "\(secret) leaked into \(text)")
                }
            }
        }
    }

    @Test func aSlowServerTimesOut() async throws {
        // The server would answer after 30 s; the 300 ms timeout must cut it short. libcurl's
        // "operation timed out" (28) is what shows the answer was not awaited: a wall-clock
        // bound is not asserted, because on a loaded machine the request may first wait its
        // turn for a blocking thread (CI runs saw 19.6 s and 33.6 s with every suite at once).
        let receiver = try OutboxTestReceiver(.http { _ in CannedResponse(status: 200, delay: .seconds(30)) })
        defer { receiver.stop() }
        do {
            _ = try await HTTPClient().send(
                HTTPRequest(method: "POST", url: receiver.origin + "/slow?key=K", body: [1, 2], timeout: .milliseconds(300)))
            Issue.record("the request should have timed out")
        } catch {
            #expect(error.kind == .timedOut)
            #expect(error.curlCode == 28)
            #expect(error.isTransient)
            #expect(!error.description.contains("key=K"))
        }
    }

    @Test func cancellingTheTaskAbortsTheTransfer() async throws {
        // The server would answer after 30 s; cancelling must end the wait long before.
        let receiver = try OutboxTestReceiver(.http { _ in CannedResponse(status: 200, delay: .seconds(30)) })
        defer { receiver.stop() }
        let client = HTTPClient()
        let task = Task { () -> HTTPClientError.Kind? in
            do {
                _ = try await client.send(HTTPRequest(url: receiver.origin + "/slow"))
                return nil
            } catch let error as HTTPClientError {
                return error.kind
            } catch {
                return nil
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        task.cancel()
        let kind = await task.value
        #expect(kind == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(29), "under the server's 30 s: the answer was not awaited")
    }

    @Test func oversizeResponsesFail() async throws {
        let receiver = try OutboxTestReceiver(
            .http { _ in CannedResponse(status: 200, body: [UInt8](repeating: 65, count: 200_000)) })
        defer { receiver.stop() }
        var configuration = HTTPClient.Configuration()
        configuration.maxResponseBytes = 1000
        do {
            _ = try await HTTPClient(configuration: configuration).send(HTTPRequest(url: receiver.origin + "/big"))
            Issue.record("the request should have failed")
        } catch {
            #expect(error.kind == .responseTooLarge)
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "smtp://127.0.0.1/"])
    func onlyHTTPURLsAreSent(url: String) async throws {
        do {
            _ = try await HTTPClient().send(HTTPRequest(url: url))
            Issue.record("\(url) should have been refused")
        } catch {
            #expect(error.kind == .invalidRequest)
            #expect(!error.isTransient)
        }
    }

    @Test func manyConcurrentRequestsReuseHandlesSafely() async throws {
        let receiver = try OutboxTestReceiver(.http { request in .json(200, request.bodyText) })
        defer { receiver.stop() }
        let client = HTTPClient()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    let response = try await client.send(
                        HTTPRequest(method: "POST", url: receiver.origin + "/echo", body: Array("n=\(i)".utf8)))
                    #expect(String(decoding: response.body, as: UTF8.self) == "n=\(i)")
                }
            }
            try await group.waitForAll()
        }
        #expect(receiver.requests.count == 40)
    }

    @Test func transfersRunAtTheSameTimeUpToTheConfiguredNumber() async throws {
        // Each answer waits until `wanted` requests are in the receiver at once (or gives
        // up after 10 s with 503): only a client that really runs them together gets 200s.
        let wanted = 12
        let arrived = Mutex(0)
        let receiver = try OutboxTestReceiver(.concurrentHTTP { _ in
            arrived.withLock { $0 += 1 }
            let deadline = Date().addingTimeInterval(10)
            while arrived.withLock({ $0 }) < wanted && Date() < deadline { usleep(2_000) }
            return arrived.withLock { $0 } >= wanted ? .json(200, "{}") : .json(503, "{}")
        })
        defer { receiver.stop() }
        var configuration = HTTPClient.Configuration()
        configuration.concurrentTransfers = wanted
        let client = HTTPClient(configuration: configuration)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<wanted {
                group.addTask { try await client.send(HTTPRequest(method: "GET", url: receiver.origin + "/slow")).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: wanted))
    }

    @Test func mailGoesThroughSMTPWithEnvelopeAndData() async throws {
        let receiver = try OutboxTestReceiver(.smtp(rejecting: ["nobody@example.org"]))
        defer { receiver.stop() }
        let client = HTTPClient()
        let data = Array("From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nline one\r\n.leading dot\r\n".utf8)
        try await client.sendMail(
            MailMessage(from: "a@example.org", recipients: ["b@example.org"], data: data),
            via: SMTPServer(url: "smtp://127.0.0.1:\(receiver.port)"))
        let mail = try #require(receiver.mail.first)
        #expect(mail.from == "a@example.org")
        #expect(mail.recipients == ["b@example.org"])
        #expect(mail.data.contains("Subject: hi"))
        // libcurl dot-stuffs the line; the receiver keeps the stuffed form.
        #expect(mail.data.contains("..leading dot"))

        do {
            try await client.sendMail(
                MailMessage(from: "a@example.org", recipients: ["nobody@example.org"], data: data),
                via: SMTPServer(url: "smtp://127.0.0.1:\(receiver.port)"))
            Issue.record("a refused recipient should fail")
        } catch {
            #expect(error.kind == .rejected)
            #expect(!error.isTransient)
            #expect(!error.description.contains("nobody@example.org"))
        }
    }
}
