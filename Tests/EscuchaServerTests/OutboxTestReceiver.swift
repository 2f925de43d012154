import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A request the test receiver got.
struct ReceivedRequest: Sendable {
    var method: String
    /// Path and query as sent.
    var target: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Form fields of an `application/x-www-form-urlencoded` body.
    var formFields: [String: String] {
        var out: [String: String] = [:]
        for pair in bodyText.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            out[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return out
    }
}

/// What the test receiver answers.
struct CannedResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    /// Wait this long before answering (for timeouts).
    var delay: Duration = .zero

    static func json(_ status: Int, _ text: String) -> CannedResponse {
        CannedResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }
}

/// A tiny server on 127.0.0.1 (random port) with plain POSIX sockets, standing in for an
/// SMS gateway, a webhook consumer or an SMTP server. One thread handles one connection at
/// a time and closes it after each exchange: enough for tests, and no dependency on the
/// code under test.
final class OutboxTestReceiver: Sendable {
    enum Mode: Sendable {
        case http(@Sendable (ReceivedRequest) -> CannedResponse)
        /// HTTP, each connection on a thread of its own (to observe concurrent clients).
        case concurrentHTTP(@Sendable (ReceivedRequest) -> CannedResponse)
        /// Answers SMTP; recipients in `rejecting` get 550.
        case smtp(rejecting: Set<String>)
    }

    /// One message the SMTP mode accepted.
    struct ReceivedMail: Sendable {
        var from: String
        var recipients: [String]
        var data: String
    }

    let port: Int
    private let listener: Int32
    private let mode: Mode
    private let state = Mutex<(requests: [ReceivedRequest], mail: [ReceivedMail])>(([], []))

    init(_ mode: Mode) throws {
        self.mode = mode
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "outbox-test-receiver"
        thread.start()
    }

    /// `http://127.0.0.1:PORT`.
    var origin: String { "http://127.0.0.1:\(port)" }

    var requests: [ReceivedRequest] { state.withLock { $0.requests } }
    var mail: [ReceivedMail] { state.withLock { $0.mail } }

    private let stopped = Atomic<Bool>(false)

    /// Stops accepting (the thread ends). Call it once the test is done. Only the accept
    /// thread closes the socket, so its descriptor cannot be reused by another receiver
    /// while that thread may still call `accept` on it.
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            switch mode {
            case .http(let respond): serveHTTP(client, respond)
            case .concurrentHTTP(let respond):
                let thread = Thread { [self] in
                    serveHTTP(client, respond)
                    close(client)
                }
                thread.start()
                continue
            case .smtp(let rejecting): serveSMTP(client, rejecting: rejecting)
            }
            close(client)
        }
    }

    // MARK: HTTP

    private func serveHTTP(_ client: Int32, _ respond: (ReceivedRequest) -> CannedResponse) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
            headerEnd = Self.find([13, 10, 13, 10], in: buffer)
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        var body = Array(buffer[(headerEnd! + 4)...])
        while body.count < length {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { break }
            body += chunk[0..<n]
        }
        let request = ReceivedRequest(
            method: requestLine.count > 0 ? String(requestLine[0]) : "",
            target: requestLine.count > 1 ? String(requestLine[1]) : "", headers: headers, body: body)
        state.withLock { $0.requests.append(request) }
        let response = respond(request)
        if response.delay > .zero {
            let (seconds, attoseconds) = response.delay.components
            usleep(UInt32(seconds) * 1_000_000 + UInt32(attoseconds / 1_000_000_000_000))
        }
        var out = "HTTP/1.1 \(response.status) Canned\r\n"
        for header in response.headers { out += "\(header.name): \(header.value)\r\n" }
        out += "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        writeAll(client, Array(out.utf8) + response.body)
    }

    // MARK: SMTP

    private func serveSMTP(_ client: Int32, rejecting: Set<String>) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func readLine() -> String? {
            while true {
                if let end = Self.find([13, 10], in: pending) {
                    let line = String(decoding: pending[0..<end], as: UTF8.self)
                    pending.removeFirst(end + 2)
                    return line
                }
                let n = read(client, &chunk, chunk.count)
                if n <= 0 { return nil }
                pending += chunk[0..<n]
            }
        }
        func say(_ text: String) { writeAll(client, Array((text + "\r\n").utf8)) }
        func address(_ line: String) -> String {
            guard let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">") else { return "" }
            return String(line[line.index(after: open)..<close])
        }
        say("220 127.0.0.1 ESMTP test")
        var from = ""
        var recipients: [String] = []
        while let line = readLine() {
            let verb = line.prefix(4).uppercased()
            switch verb {
            case "EHLO", "HELO": say("250 127.0.0.1")
            case "MAIL":
                from = address(line)
                recipients = []
                say("250 OK")
            case "RCPT":
                let recipient = address(line)
                if rejecting.contains(recipient) {
                    say("550 no such user")
                } else {
                    recipients.append(recipient)
                    say("250 OK")
                }
            case "DATA":
                say("354 go ahead")
                var data: [String] = []
                while let dataLine = readLine(), dataLine != "." { data.append(dataLine) }
                let mail = ReceivedMail(from: from, recipients: recipients, data: data.joined(separator: "\r\n"))
                state.withLock { $0.mail.append(mail) }
                say("250 OK queued")
            case "QUIT":
                say("221 bye")
                return
            default: say("250 OK")
            }
        }
    }

    // MARK: Helpers

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<i + needle.count].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
