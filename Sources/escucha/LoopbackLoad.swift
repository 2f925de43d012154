import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The load generator of `escucha bench intake`: one thread and one kept-alive TCP
/// connection per simulated client, each sending prepared HTTP/1.1 requests and reading the
/// answers with plain socket calls.
///
/// The generator shares two cores with the server and PostgreSQL, so every microsecond it
/// spends is taken from what it measures (libcurl cost about 0.2 ms of CPU per request
/// here; this costs a few hundredths). It speaks only what the benchmark needs: requests
/// with a Content-Length, answers with a Content-Length or none (204, 304), and it
/// reconnects when the server closes.
struct LoopbackLoad: Sendable {
    /// Where the requests go: a loopback IPv4 or IPv6 address and port.
    let host: String
    let port: UInt16
    /// Bytes of one request, by index; called on the client threads.
    let request: @Sendable (Int) -> [UInt8]

    /// One answer: its status (0 when the connection failed) and the time from the first
    /// byte sent to the last byte read, in milliseconds.
    struct Answer: Sendable {
        var status: Int
        var milliseconds: Double
    }

    /// Sends `count` requests over `connections` concurrent connections and returns every
    /// answer; blocks the caller until the last one.
    func run(count: Int, connections: Int) -> [Answer] {
        let next = Atomic<Int>(0)
        let answers = Mutex<[Answer]>([])
        let done = DispatchGroup()
        for _ in 0..<connections {
            done.enter()
            let thread = Thread {
                var local: [Answer] = []
                var client = Connection(host: host, port: port)
                while true {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if index >= count { break }
                    local.append(client.exchange(request(index)))
                }
                client.close()
                answers.withLock { $0 += local }
                done.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        done.wait()
        return answers.withLock { $0 }
    }

    /// One kept-alive connection; reconnects after an error or a `Connection: close`.
    private struct Connection {
        let host: String
        let port: UInt16
        var socket: Int32 = -1
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        /// Answer bytes read but not yet consumed.
        var pending: [UInt8] = []

        init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }

        mutating func exchange(_ request: [UInt8]) -> Answer {
            let started = DispatchTime.now().uptimeNanoseconds
            let status = (try? attempt(request)) ?? 0
            if status == 0 { close() }
            return Answer(status: status, milliseconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        }

        mutating func close() {
            if socket >= 0 { Glibc.close(socket) }
            socket = -1
            pending.removeAll()
        }

        private struct Failure: Error {}

        private mutating func attempt(_ request: [UInt8]) throws -> Int {
            if socket < 0 { try connect() }
            try request.withUnsafeBytes { bytes in
                var sent = 0
                while sent < bytes.count {
                    let n = send(socket, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                    if n <= 0 { throw Failure() }
                    sent += n
                }
            }
            // The head: status line and headers, up to the blank line.
            var headEnd: Int
            while true {
                if let end = Self.headEnd(in: pending) { headEnd = end; break }
                try receive()
            }
            let head = String(decoding: pending[0..<headEnd], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
                  let status = Int(statusLine.dropFirst(9).prefix(3)) else { throw Failure() }
            var length = 0
            var closing = false
            for line in lines.dropFirst() {
                let lowered = line.lowercased()
                if lowered.hasPrefix("content-length:") {
                    length = Int(lowered.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                } else if lowered.hasPrefix("connection:") && lowered.contains("close") {
                    closing = true
                } else if lowered.hasPrefix("transfer-encoding:") {
                    throw Failure()  // chunked answers are not expected from a webhook
                }
            }
            let total = headEnd + 4 + length
            while pending.count < total { try receive() }
            pending.removeFirst(total)
            if closing { close() }
            return status
        }

        private mutating func receive() throws {
            let n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if n <= 0 { throw Failure() }
            pending += buffer[0..<n]
        }

        private static func headEnd(in bytes: [UInt8]) -> Int? {
            guard bytes.count >= 4 else { return nil }
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                return i
            }
            return nil
        }

        private mutating func connect() throws {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { throw Failure() }
            defer { freeaddrinfo(list) }
            let fd = Glibc.socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
            if fd < 0 { throw Failure() }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
                Glibc.close(fd)
                throw Failure()
            }
            socket = fd
        }
    }
}
