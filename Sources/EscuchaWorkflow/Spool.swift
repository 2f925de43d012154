import EscuchaChannels
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A raw request kept on local disk while PostgreSQL is unreachable.
public struct SpooledRequest: Codable, Sendable, Equatable {
    public var channelID: String
    public var method: String
    public var path: String
    public var query: String
    public var scheme: String
    public var headers: [[String]]
    /// The body, base64.
    public var body: String
    public var remoteAddress: String?
    public var receivedAt: Date

    public init(channelID: String, request: RawRequest, receivedAt: Date) {
        self.channelID = channelID
        method = request.method
        path = request.path
        query = request.query
        scheme = request.scheme
        headers = request.headers.map { [$0.name, $0.value] }
        body = Data(request.body).base64EncodedString()
        remoteAddress = request.remoteAddress
        self.receivedAt = receivedAt
    }

    /// The request as it was received.
    public var request: RawRequest {
        var request = RawRequest(method: method, target: query.isEmpty ? path : path + "?" + query)
        request.headers = headers.compactMap { $0.count == 2 ? (name: $0[0], value: $0[1]) : nil }
        request.body = [UInt8](Data(base64Encoded: body) ?? Data())
        request.remoteAddress = remoteAddress
        request.scheme = scheme
        return request
    }
}

/// Errors of the spool. They never contain request contents.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public var description: String {
        "spool: \(operation) failed (\(String(cString: strerror(errno)))); check that the spool folder exists, is writable and the disk is not full"
    }
}

/// A durable on-disk queue of raw requests: each is written to a temporary file, fsynced,
/// renamed into place and the folder fsynced, before the gateway hears success. A crash
/// after `append` returns cannot lose the request.
public struct Spool: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Writes `entry` durably and returns its file name.
    @discardableResult
    public func append(_ entry: SpooledRequest) throws(SpoolError) -> String {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SpoolError(operation: "creating the spool folder", errno: errno) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data: Data
        do { data = try encoder.encode(entry) } catch { throw SpoolError(operation: "encoding", errno: EINVAL) }
        let stamp = String(format: "%016llx", UInt64(entry.receivedAt.timeIntervalSince1970 * 1_000_000))
        let name = "\(stamp)-\(UUID().uuidString.lowercased()).json"
        let temporary = directory + "/." + name + ".tmp"
        let final = directory + "/" + name
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw SpoolError(operation: "creating a spool file", errno: errno) }
        var written = 0
        let ok = data.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        let writeErrno = errno
        guard ok, fsync(fd) == 0 else {
            close(fd)
            unlink(temporary)
            throw SpoolError(operation: "writing a spool file", errno: ok ? errno : writeErrno)
        }
        close(fd)
        guard rename(temporary, final) == 0 else {
            unlink(temporary)
            throw SpoolError(operation: "renaming a spool file", errno: errno)
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
        return name
    }

    /// The spooled file names, oldest first.
    public func pending() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
    }

    /// Reads one spooled request.
    public func read(_ name: String) throws -> SpooledRequest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SpooledRequest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
    }

    /// Removes a request once the database holds it.
    public func remove(_ name: String) {
        unlink(directory + "/" + name)
    }

    /// Moves a file that cannot be read aside, so it is kept but not retried forever.
    public func quarantine(_ name: String) {
        rename(directory + "/" + name, directory + "/" + name + ".unreadable")
    }
}
