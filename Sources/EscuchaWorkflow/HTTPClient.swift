import EscuchaCore
internal import CCurl
import Foundation
import Synchronization

// MARK: - Requests and responses

/// An HTTP request for ``HTTPClient``.
///
/// `description` shows the method, the origin and the body size only: URLs of gateway APIs
/// carry keys and phone numbers in their query, and bodies carry message text.
public struct HTTPRequest: Sendable, CustomStringConvertible {
    /// `GET`, `POST`, `PUT`, …
    public var method: String
    /// The absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields in order (a name may repeat).
    public var headers: [(name: String, value: String)]
    /// The body bytes (sent for every method but `GET` and `HEAD`).
    public var body: [UInt8]
    /// Basic-auth credentials, when the server wants them (libcurl builds the header).
    public var basicAuth: (user: String, password: String)?
    /// The whole exchange must end within this time.
    public var timeout: Duration

    /// Creates a request.
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - url: the absolute URL.
    ///   - headers: header fields.
    ///   - body: the body bytes.
    ///   - basicAuth: basic-auth user and password.
    ///   - timeout: the limit for the whole exchange (default 30 s).
    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        basicAuth: (user: String, password: String)? = nil, timeout: Duration = .seconds(30)
    ) {
        self.method = method.uppercased()
        self.url = url
        self.headers = headers
        self.body = body
        self.basicAuth = basicAuth
        self.timeout = timeout
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringCase(name) }?.value
    }

    public var description: String {
        "HTTPRequest(\(method) \(HTTPRedaction.origin(of: url)), bodyBytes: \(body.count))"
    }
}

/// The answer to an ``HTTPRequest``.
public struct HTTPResponse: Sendable, CustomStringConvertible {
    /// The status code (200, 404, …).
    public var status: Int
    /// Header fields of the final response, in order.
    public var headers: [(name: String, value: String)]
    /// The body (at most ``HTTPClient/Configuration/maxResponseBytes``).
    public var body: [UInt8]

    /// Creates a response (for transports that are not libcurl, e.g. test twins).
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringCase(name) }?.value
    }

    /// Leaves the body out (a gateway may echo the number or the text).
    public var description: String { "HTTPResponse(\(status), bodyBytes: \(body.count))" }
}

/// An email for an SMTP server, sent through libcurl.
public struct MailMessage: Sendable, CustomStringConvertible {
    /// The envelope sender (`MAIL FROM`).
    public var from: String
    /// The envelope recipients (`RCPT TO`).
    public var recipients: [String]
    /// The complete RFC 5322 message (headers, blank line, body), CRLF line ends.
    public var data: [UInt8]

    /// Creates a message.
    /// - Parameters:
    ///   - from: envelope sender.
    ///   - recipients: envelope recipients.
    ///   - data: the RFC 5322 message.
    public init(from: String, recipients: [String], data: [UInt8]) {
        self.from = from
        self.recipients = recipients
        self.data = data
    }

    /// Never shows addresses.
    public var description: String { "MailMessage(recipients: \(recipients.count), bytes: \(data.count))" }
}

/// Where and how to hand mail over: an `smtp://` or `smtps://` URL and credentials.
public struct SMTPServer: Sendable, CustomStringConvertible {
    /// `smtps://host:465` (TLS from the start) or `smtp://host:587` (STARTTLS).
    public var url: String
    /// Login user, when the server wants one.
    public var user: String?
    /// Login password. Secret.
    public var password: String?
    /// Refuse to send over a connection without TLS (default: true unless the host is loopback).
    public var requireTLS: Bool

    /// Creates the value.
    /// - Parameters:
    ///   - url: the server URL.
    ///   - user: login user.
    ///   - password: login password.
    ///   - requireTLS: refuse plain-text connections; `nil` = required unless the host is loopback.
    public init(url: String, user: String? = nil, password: String? = nil, requireTLS: Bool? = nil) {
        self.url = url
        self.user = user
        self.password = password
        let host = HTTPRedaction.host(of: url)
        self.requireTLS = requireTLS ?? !(host == "localhost" || host == "127.0.0.1" || host == "[::1]")
    }

    /// Never shows the password.
    public var description: String {
        "SMTPServer(\(HTTPRedaction.origin(of: url)), user: \(user == nil ? "none" : "set"), requireTLS: \(requireTLS))"
    }
}

// MARK: - Errors

/// A transfer that did not produce a response: no connection, timeout, TLS failure, …
///
/// `description` is safe to log and says what to check. It names the origin (scheme, host,
/// port) but never the path's query, the body, credentials or recipients; libcurl's own
/// detailed message is only in `debugDescription`.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, grouped by what a person does about it.
    public enum Kind: String, Sendable, Equatable {
        /// The request itself is unusable (bad URL, scheme not allowed).
        case invalidRequest
        /// The host name does not resolve.
        case couldNotResolveHost
        /// The TCP connection was refused or unreachable.
        case couldNotConnect
        /// No complete answer in time.
        case timedOut
        /// TLS handshake or certificate problem.
        case tls
        /// The connection broke while sending or receiving.
        case connectionLost
        /// The answer was larger than allowed.
        case responseTooLarge
        /// The server refused the login (SMTP).
        case authenticationFailed
        /// The server refused the message or a recipient (SMTP).
        case rejected
        /// The task was cancelled.
        case cancelled
        /// Anything else libcurl reported.
        case other
    }

    /// The group.
    public var kind: Kind
    /// libcurl's `CURLcode` (0 when the error did not come from libcurl).
    public var curlCode: Int
    /// libcurl's fixed text for the code (`curl_easy_strerror`), safe to log.
    public var curlMessage: String
    /// The origin (`https://api.twilio.com:443`) — never the path or query.
    public var origin: String
    /// What was being done, e.g. "sending POST".
    public var operation: String
    /// libcurl's detailed message (`CURLOPT_ERRORBUFFER`); may name paths. Debug only.
    public var detail: String?

    /// Creates an error.
    public init(
        kind: Kind, curlCode: Int = 0, curlMessage: String = "", origin: String, operation: String, detail: String? = nil
    ) {
        self.kind = kind
        self.curlCode = curlCode
        self.curlMessage = curlMessage
        self.origin = origin
        self.operation = operation
        self.detail = detail
    }

    /// Whether trying again later may succeed (network trouble, timeouts), as opposed to a
    /// request that will fail the same way every time.
    public var isTransient: Bool {
        switch kind {
        case .couldNotResolveHost, .couldNotConnect, .timedOut, .connectionLost, .cancelled, .other: true
        case .invalidRequest, .tls, .responseTooLarge, .authenticationFailed, .rejected: false
        }
    }

    /// What to check, in a few words.
    public var advice: String {
        switch kind {
        case .invalidRequest: "check the URL in the gateway's reply template or the outbox destination"
        case .couldNotResolveHost: "check DNS and the host name in the configuration"
        case .couldNotConnect: "check that the service is up and that the firewall or proxy lets this host out"
        case .timedOut: "the service is slow or unreachable; it will be retried"
        case .tls: "check the server certificate, the CA bundle and the system clock"
        case .connectionLost: "the connection broke; it will be retried"
        case .responseTooLarge: "the service answered with more than the allowed size"
        case .authenticationFailed: "check the SMTP user and password"
        case .rejected: "the mail server refused the sender or a recipient"
        case .cancelled: "the worker is shutting down"
        case .other: "see the libcurl code"
        }
    }

    public var description: String {
        let code = curlCode == 0 ? "" : " (curl \(curlCode): \(curlMessage))"
        return "\(operation) to \(origin) failed: \(kind.rawValue)\(code); \(advice)"
    }

    public var debugDescription: String {
        description + (detail.map { " — libcurl: \($0)" } ?? "")
    }
}

/// Helpers that strip personal data and secrets from URLs before they reach a message.
enum HTTPRedaction {
    /// `scheme://host[:port]` of `url`, without user info, path or query.
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme else { return "<invalid URL>" }
        var out = scheme + "://" + (components.host ?? "")
        if let port = components.port { out += ":\(port)" }
        return out
    }

    /// The host of `url`, or "".
    static func host(of url: String) -> String {
        URLComponents(string: url)?.host ?? ""
    }
}

// MARK: - The client

/// Sends HTTP requests and SMTP mail through libcurl.
///
/// Every transfer runs the blocking `curl_easy_perform` on one of the client's own lanes
/// (serial dispatch queues, each with a thread of its own while busy), never on one of
/// Swift's cooperative threads; the calling task waits on a continuation. Up to
/// ``Configuration/concurrentTransfers`` transfers run at once; more wait for a lane. Easy handles are kept between transfers (up to
/// ``Configuration/idleHandles``) so connections to a gateway are reused. Redirects are not
/// followed, only the schemes a transfer needs are allowed, and libcurl never uses signals.
/// Cancelling the calling task aborts the transfer.
public final class HTTPClient: OutboxTransport {
    /// Limits of every transfer.
    public struct Configuration: Sendable {
        /// Time to establish the TCP (and TLS) connection.
        public var connectTimeout: Duration = .seconds(10)
        /// Responses larger than this fail with ``HTTPClientError/Kind/responseTooLarge``.
        public var maxResponseBytes: Int = 1 << 20
        /// How many easy handles (and their connections) are kept for reuse.
        public var idleHandles: Int = 8
        /// Transfers that run at the same time. A concurrent dispatch queue would not do:
        /// on Linux it runs about one blocking transfer per core.
        public var concurrentTransfers: Int = 16
        /// Follow redirects (off: a gateway that redirects is misconfigured).
        public var followRedirects: Bool = false
        /// `User-Agent` sent with every request.
        public var userAgent: String = "escucha-outbox/1"

        /// Creates the default configuration.
        public init() {}
    }

    /// The configuration.
    public let configuration: Configuration
    private let lanes: [DispatchQueue]
    /// Lanes with no transfer, and the transfers waiting for one.
    private let dispatcher = Mutex<(free: [Int], waiting: [@Sendable (Int) -> Void])>(([], []))
    private let idle = Mutex<[CurlEasy]>([])

    /// Creates a client; initialises libcurl once per process.
    /// - Parameter configuration: limits of every transfer.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let count = max(1, configuration.concurrentTransfers)
        lanes = (0..<count).map { DispatchQueue(label: "escucha-curl-\($0)") }
        dispatcher.withLock { $0.free = Array((0..<count).reversed()) }
        _ = ccurl_global_init_once()
    }

    /// Runs `work` on a free lane, now or when one frees up; the lane is freed after it.
    private func onLane(_ work: @escaping @Sendable () -> Void) {
        let run: @Sendable (Int) -> Void = { lane in
            self.lanes[lane].async {
                work()
                self.release(lane)
            }
        }
        let lane = dispatcher.withLock { state -> Int? in
            if let lane = state.free.popLast() { return lane }
            state.waiting.append(run)
            return nil
        }
        if let lane { run(lane) }
    }

    private func release(_ lane: Int) {
        let next = dispatcher.withLock { state -> (@Sendable (Int) -> Void)? in
            if state.waiting.isEmpty {
                state.free.append(lane)
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?(lane)
    }

    /// Sends `request` and returns the response, whatever its status.
    /// - Parameter request: the request.
    /// - Throws: ``HTTPClientError`` when no response arrived.
    public func send(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        let operation = "sending \(request.method)"
        let origin = HTTPRedaction.origin(of: request.url)
        let lowered = request.url.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            throw HTTPClientError(
                kind: .invalidRequest, origin: origin, operation: operation,
                detail: "only http:// and https:// URLs are sent by HTTPClient")
        }
        let configuration = configuration
        return try await perform(origin: origin, operation: operation) { (easy, transfer) throws(HTTPClientError) in
            try easy.prepareHTTP(request, configuration: configuration, transfer: transfer)
        }
    }

    /// Hands `message` to the SMTP server `server`.
    /// - Parameters:
    ///   - message: envelope and RFC 5322 data.
    ///   - server: the server URL and login.
    /// - Throws: ``HTTPClientError`` when the server did not accept the message.
    public func sendMail(_ message: MailMessage, via server: SMTPServer) async throws(HTTPClientError) {
        let operation = "sending mail"
        let origin = HTTPRedaction.origin(of: server.url)
        let lowered = server.url.lowercased()
        guard lowered.hasPrefix("smtp://") || lowered.hasPrefix("smtps://") else {
            throw HTTPClientError(
                kind: .invalidRequest, origin: origin, operation: operation,
                detail: "ESCUCHA_SMTP_URL must start with smtp:// or smtps://")
        }
        guard !message.recipients.isEmpty else {
            throw HTTPClientError(
                kind: .invalidRequest, origin: origin, operation: operation, detail: "the message has no recipient")
        }
        let configuration = configuration
        _ = try await perform(origin: origin, operation: operation, isMail: true) { (easy, transfer) throws(HTTPClientError) in
            try easy.prepareSMTP(message, server: server, configuration: configuration, transfer: transfer)
        }
    }

    /// Runs one transfer on the client's queue: takes an idle handle (or makes one), lets
    /// `prepare` set it up, performs, and reads the result before anything else touches it.
    private func perform(
        origin: String, operation: String, isMail: Bool = false,
        prepare: @escaping @Sendable (CurlEasy, CurlTransfer) throws(HTTPClientError) -> Void
    ) async throws(HTTPClientError) -> HTTPResponse {
        let transfer = CurlTransfer(maxResponseBytes: configuration.maxResponseBytes, isMail: isMail)
        let result: Result<HTTPResponse, HTTPClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>) in
                onLane {
                    let easy: CurlEasy
                    if let reused = self.idle.withLock({ $0.popLast() }) {
                        easy = reused
                    } else if let fresh = CurlEasy() {
                        easy = fresh
                    } else {
                        continuation.resume(
                            returning: .failure(
                                HTTPClientError(
                                    kind: .other, origin: origin, operation: operation,
                                    detail: "curl_easy_init returned NULL (out of memory?)")))
                        return
                    }
                    let outcome: Result<HTTPResponse, HTTPClientError>
                    do throws(HTTPClientError) {
                        try prepare(easy, transfer)
                        outcome = .success(try easy.perform(transfer, origin: origin, operation: operation))
                    } catch {
                        var error = error
                        if error.origin.isEmpty { error.origin = origin }
                        outcome = .failure(error)
                    }
                    easy.finishTransfer()
                    self.idle.withLock { handles in
                        if handles.count < self.configuration.idleHandles { handles.append(easy) }
                    }
                    continuation.resume(returning: outcome)
                }
            }
        } onCancel: {
            transfer.cancel()
        }
        return try result.get()
    }
}

// MARK: - libcurl boundary

/// State shared between one transfer's callbacks (on the transfer thread) and the task
/// that may cancel it. Only `cancelled` is touched from another thread.
final class CurlTransfer: Sendable {
    private struct Buffers {
        var body: [UInt8] = []
        var headerLines: [String] = []
        var upload: [UInt8] = []
        var uploadOffset = 0
        var overflowed = false
    }

    let maxResponseBytes: Int
    /// An SMTP transfer: the response code is the server's last reply.
    let isMail: Bool
    private let cancelled = Atomic<Bool>(false)
    private let buffers = Mutex(Buffers())

    init(maxResponseBytes: Int, isMail: Bool) {
        self.maxResponseBytes = maxResponseBytes
        self.isMail = isMail
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func setUpload(_ bytes: [UInt8]) { buffers.withLock { $0.upload = bytes; $0.uploadOffset = 0 } }

    /// Appends body bytes; false when the limit is exceeded (the transfer is then aborted).
    func appendBody(_ pointer: UnsafeRawBufferPointer) -> Bool {
        buffers.withLock { b in
            guard b.body.count + pointer.count <= maxResponseBytes else {
                b.overflowed = true
                return false
            }
            b.body.append(contentsOf: pointer)
            return true
        }
    }

    /// Records one header line; a new status line starts a new header block (after 100
    /// Continue, only the final response's headers are kept).
    func appendHeaderLine(_ pointer: UnsafeRawBufferPointer) {
        // Header lines are ASCII with CR LF at the end: trim bytes, not Unicode (Foundation's
        // trimming cost more than the transfer).
        var bytes = pointer[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 || first == 0x0D || first == 0x0A { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 || last == 0x0D || last == 0x0A { bytes = bytes.dropLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        buffers.withLock { b in
            if line.hasPrefix("HTTP/") { b.headerLines.removeAll() } else if !line.isEmpty { b.headerLines.append(line) }
        }
    }

    /// Copies the next upload bytes into `destination`; returns how many.
    func readUpload(into destination: UnsafeMutableRawBufferPointer) -> Int {
        buffers.withLock { b in
            let count = min(destination.count, b.upload.count - b.uploadOffset)
            guard count > 0 else { return 0 }
            b.upload.withUnsafeBytes { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[b.uploadOffset..<b.uploadOffset + count]))
            }
            b.uploadOffset += count
            return count
        }
    }

    var overflowed: Bool { buffers.withLock { $0.overflowed } }

    func takeResponse(status: Int) -> HTTPResponse {
        buffers.withLock { b in
            let headers = b.headerLines.compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            return HTTPResponse(status: status, headers: headers, body: b.body)
        }
    }
}

/// One libcurl easy handle, owned by this object and cleaned up in `deinit`.
///
/// Used by one thread at a time: a handle is either inside one transfer on the client's
/// queue or in the client's idle list, and moves between them under the list's lock
/// (hence `@unchecked Sendable`).
final class CurlEasy: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    /// Lists that must live until the transfer ends (CURLOPT_HTTPHEADER, CURLOPT_MAIL_RCPT).
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    /// CURLOPT_ERRORBUFFER: libcurl writes its detailed message here.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// The transfer whose callbacks are running, retained while it runs.
    private var context: Unmanaged<CurlTransfer>?

    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
    }

    deinit {
        finishTransfer()
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Frees what the last transfer needed and resets the options (keeping connections).
    func finishTransfer() {
        for list in lists { curl_slist_free_all(list) }
        lists.removeAll()
        context?.release()
        context = nil
        curl_easy_reset(handle)
    }

    // MARK: Options

    private func set(_ option: CURLoption, _ value: Int, _ what: String) throws(HTTPClientError) {
        try check(ccurl_setopt_long(handle, option, value), setting: what)
    }

    private func set(_ option: CURLoption, _ value: String, _ what: String) throws(HTTPClientError) {
        try check(value.withCString { ccurl_setopt_string(handle, option, $0) }, setting: what)
    }

    private func setList(_ option: CURLoption, _ items: [String], _ what: String) throws(HTTPClientError) {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items {
            guard let appended = curl_slist_append(list, item) else {
                if let list { curl_slist_free_all(list) }
                throw HTTPClientError(kind: .other, origin: "", operation: "setting \(what)", detail: "curl_slist_append failed")
            }
            list = appended
        }
        guard let list else { return }
        lists.append(list)
        try check(ccurl_setopt_slist(handle, option, list), setting: what)
    }

    /// The boundary check for setopt: a failure here means this libcurl lacks a feature.
    private func check(_ code: CURLcode, setting what: String) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        throw HTTPClientError(
            kind: code == CURLE_UNSUPPORTED_PROTOCOL ? .invalidRequest : .other,
            curlCode: Int(code.rawValue), curlMessage: String(cString: curl_easy_strerror(code)),
            origin: "", operation: "setting \(what)")
    }

    /// Options every transfer shares: timeouts, no signals, no redirects, callbacks.
    private func prepareCommon(
        url: String, protocols: String, timeout: Duration, configuration: HTTPClient.Configuration,
        transfer: CurlTransfer
    ) throws(HTTPClientError) {
        errorBuffer[0] = 0
        context = Unmanaged.passRetained(transfer)
        let pointer = context!.toOpaque()
        try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), setting: "the error buffer")
        try set(CURLOPT_URL, url, "the URL")
        try set(CURLOPT_PROTOCOLS_STR, protocols, "the allowed protocols")
        try set(CURLOPT_NOSIGNAL, 1, "no signals")
        try set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout), "the connect timeout")
        try set(CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout), "the timeout")
        try set(CURLOPT_FOLLOWLOCATION, configuration.followRedirects ? 1 : 0, "redirects")
        try check(ccurl_setopt_write_function(handle, curlWriteBody), setting: "the write function")
        try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer), setting: "the write data")
        try check(ccurl_setopt_header_function(handle, curlWriteHeader), setting: "the header function")
        try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer), setting: "the header data")
        try check(ccurl_setopt_progress_function(handle, curlProgress), setting: "the progress function")
        try check(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, pointer), setting: "the progress data")
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    func prepareHTTP(_ request: HTTPRequest, configuration: HTTPClient.Configuration, transfer: CurlTransfer)
        throws(HTTPClientError)
    {
        try prepareCommon(
            url: request.url, protocols: "http,https", timeout: request.timeout, configuration: configuration,
            transfer: transfer)
        try set(CURLOPT_USERAGENT, configuration.userAgent, "the user agent")
        switch request.method {
        case "GET":
            try set(CURLOPT_HTTPGET, 1, "GET")
        case "HEAD":
            try set(CURLOPT_NOBODY, 1, "HEAD")
        default:
            if request.method != "POST" { try set(CURLOPT_CUSTOMREQUEST, request.method, "the method") }
            // Copied by libcurl (CURLOPT_COPYPOSTFIELDS), so the Swift buffer may go away.
            let code = request.body.withUnsafeBytes { buffer in
                ccurl_setopt_copy_postfields(
                    handle, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), curl_off_t(buffer.count))
            }
            try check(code, setting: "the body")
        }
        if let auth = request.basicAuth {
            try set(CURLOPT_HTTPAUTH, 1, "basic auth")  // CURLAUTH_BASIC (a cast macro Swift does not import)
            try set(CURLOPT_USERNAME, auth.user, "the user")
            try set(CURLOPT_PASSWORD, auth.password, "the password")
        }
        // "Expect:" stops libcurl from waiting for 100 Continue on larger bodies.
        var lines = request.headers.map { "\($0.name): \($0.value)" }
        if request.header("Expect") == nil { lines.append("Expect:") }
        try setList(CURLOPT_HTTPHEADER, lines, "the headers")
    }

    func prepareSMTP(
        _ message: MailMessage, server: SMTPServer, configuration: HTTPClient.Configuration, transfer: CurlTransfer
    ) throws(HTTPClientError) {
        try prepareCommon(
            url: server.url, protocols: "smtp,smtps", timeout: .seconds(60), configuration: configuration,
            transfer: transfer)
        try set(CURLOPT_USE_SSL, Int(server.requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue), "TLS")
        if let user = server.user { try set(CURLOPT_USERNAME, user, "the SMTP user") }
        if let password = server.password { try set(CURLOPT_PASSWORD, password, "the SMTP password") }
        try set(CURLOPT_MAIL_FROM, "<\(message.from)>", "MAIL FROM")
        try setList(CURLOPT_MAIL_RCPT, message.recipients.map { "<\($0)>" }, "RCPT TO")
        transfer.setUpload(message.data)
        try set(CURLOPT_UPLOAD, 1, "upload")
        try check(ccurl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.data.count)), setting: "the size")
        try check(ccurl_setopt_read_function(handle, curlReadUpload), setting: "the read function")
        try check(ccurl_setopt_pointer(handle, CURLOPT_READDATA, context!.toOpaque()), setting: "the read data")
    }

    /// Runs the transfer (blocking) and turns its CURLcode into an error straight away.
    func perform(_ transfer: CurlTransfer, origin: String, operation: String) throws(HTTPClientError) -> HTTPResponse {
        let code = curl_easy_perform(handle)
        // Read everything libcurl reports before anything else touches the handle.
        let detail = String(cString: errorBuffer)
        var status = 0
        _ = ccurl_getinfo_response_code(handle, &status)
        guard code == CURLE_OK else {
            let kind: HTTPClientError.Kind =
                switch code {
                // SMTP: a 5xx reply to MAIL, RCPT or DATA is a refusal, not a network failure.
                case _ where transfer.isMail && status >= 500 && code != CURLE_LOGIN_DENIED: .rejected
                case CURLE_WRITE_ERROR where transfer.overflowed: .responseTooLarge
                case CURLE_ABORTED_BY_CALLBACK where transfer.isCancelled: .cancelled
                case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_BAD_FUNCTION_ARGUMENT: .invalidRequest
                case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .couldNotResolveHost
                case CURLE_COULDNT_CONNECT: .couldNotConnect
                case CURLE_OPERATION_TIMEDOUT: .timedOut
                case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
                    CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_USE_SSL_FAILED:
                    .tls
                case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: .connectionLost
                case CURLE_LOGIN_DENIED: .authenticationFailed
                default: .other
                }
            throw HTTPClientError(
                kind: kind, curlCode: Int(code.rawValue), curlMessage: String(cString: curl_easy_strerror(code)),
                origin: origin, operation: operation, detail: detail.isEmpty ? nil : detail)
        }
        return transfer.takeResponse(status: status)
    }
}

// MARK: C callbacks (no captures: the context comes through the user-data pointer)

private func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let total = size * count
    guard total > 0, let data else { return 0 }
    return transfer.appendBody(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
}

private func curlWriteHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let total = size * count
    if total > 0, let data { transfer.appendHeaderLine(UnsafeRawBufferPointer(start: data, count: total)) }
    return total
}

private func curlReadUpload(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context, let buffer else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.readUpload(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}

private func curlProgress(
    _ context: UnsafeMutableRawPointer?, _ downloadTotal: curl_off_t, _ downloadNow: curl_off_t,
    _ uploadTotal: curl_off_t, _ uploadNow: curl_off_t
) -> Int32 {
    guard let context else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}
