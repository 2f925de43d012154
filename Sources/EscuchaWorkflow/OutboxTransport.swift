import Foundation
import Synchronization

/// How the outbox reaches the outside world: HTTP requests to gateways and webhooks, and
/// mail to an SMTP server.
///
/// ``HTTPClient`` is the real one (libcurl); ``InMemoryOutboxTransport`` records what would
/// have been sent and answers from a script, for tests of code that enqueues messages.
public protocol OutboxTransport: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    /// - Parameter request: the request.
    /// - Throws: ``HTTPClientError`` when no response arrived.
    func send(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse

    /// Hands `message` to the SMTP server `server`.
    /// - Parameters:
    ///   - message: envelope and RFC 5322 data.
    ///   - server: the server and its login.
    /// - Throws: ``HTTPClientError`` when the server did not take the message.
    func sendMail(_ message: MailMessage, via server: SMTPServer) async throws(HTTPClientError)
}

/// An ``OutboxTransport`` that sends nothing: it records requests and mail and answers
/// each request with `respond` (default: 200 with an empty JSON object).
public final class InMemoryOutboxTransport: OutboxTransport {
    private let recorded = Mutex<(requests: [HTTPRequest], mail: [MailMessage])>(([], []))
    private let respond: @Sendable (HTTPRequest) throws(HTTPClientError) -> HTTPResponse

    /// Creates the transport.
    /// - Parameter respond: the answer to each request (it may throw to simulate a network failure).
    public init(
        respond: @escaping @Sendable (HTTPRequest) throws(HTTPClientError) -> HTTPResponse = { _ in
            HTTPResponse(status: 200, body: Array("{}".utf8))
        }
    ) {
        self.respond = respond
    }

    /// The requests sent so far, in order.
    public var requests: [HTTPRequest] { recorded.withLock { $0.requests } }
    /// The mail sent so far, in order.
    public var mail: [MailMessage] { recorded.withLock { $0.mail } }

    public func send(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        recorded.withLock { $0.requests.append(request) }
        return try respond(request)
    }

    public func sendMail(_ message: MailMessage, via server: SMTPServer) async throws(HTTPClientError) {
        recorded.withLock { $0.mail.append(message) }
    }
}
