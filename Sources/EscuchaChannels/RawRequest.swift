import EscuchaCore
import Foundation

/// An HTTP request exactly as a gateway sent it, before any interpretation.
///
/// The server builds one per webhook call and hands it to ``GatewayParser``; the parser
/// never does IO. `description` leaves out the body, which holds personal data.
public struct RawRequest: Sendable, Equatable, CustomStringConvertible {
    /// The HTTP method, upper case (`POST`, `GET`).
    public var method: String
    /// The request path as received, without the query string (`/webhooks/sms/twilio-1`).
    public var path: String
    /// The raw query string without `?` (still percent-encoded), empty when absent.
    public var query: String
    /// Header fields in arrival order; names are matched case-insensitively.
    public var headers: [(name: String, value: String)]
    /// The body bytes exactly as received.
    public var body: [UInt8]
    /// The peer address, when known (for logs and allow-lists, never for signatures).
    public var remoteAddress: String?
    /// The scheme the server itself was reached on (`http` behind a TLS-terminating proxy).
    public var scheme: String

    /// Creates a request.
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - path: the path without the query.
    ///   - query: the raw query string without `?`.
    ///   - headers: header fields in arrival order.
    ///   - body: the raw body bytes.
    ///   - remoteAddress: the peer address, if known.
    ///   - scheme: the scheme the server was reached on.
    public init(
        method: String, path: String, query: String = "", headers: [(name: String, value: String)] = [],
        body: [UInt8] = [], remoteAddress: String? = nil, scheme: String = "http"
    ) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.scheme = scheme
    }

    /// Creates a request from a path that may carry a query string (`/x?a=1`).
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - target: the request target, path plus optional `?query`.
    ///   - headers: header fields in arrival order.
    ///   - body: the raw body bytes.
    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        if let mark = target.firstIndex(of: "?") {
            self.init(method: method, path: String(target[..<mark]), query: String(target[target.index(after: mark)...]), headers: headers, body: body)
        } else {
            self.init(method: method, path: target, headers: headers, body: body)
        }
    }

    /// The last value of the header `name` (case-insensitive), or `nil`.
    /// - Parameter name: the header name.
    public func header(_ name: String) -> String? {
        headers.last { $0.name.equalsIgnoringCase(name) }?.value
    }

    /// The media type of the body without parameters, lower case (`application/json`).
    public var mediaType: String? {
        // Bytes: media types are ASCII, and this runs for every webhook.
        header("Content-Type").map { value in
            var bytes = Array(value.utf8.prefix { $0 != 0x3B })  // up to ';'
            while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
            let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.endIndex
            return String(decoding: bytes[start...].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
    }

    /// The last non-empty segment of the path (`status` for `/webhooks/sms/x/status/`).
    public var lastPathSegment: String {
        path.split(separator: "/").last.map(String.init) ?? ""
    }

    public static func == (lhs: RawRequest, rhs: RawRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.query == rhs.query && lhs.body == rhs.body
            && lhs.remoteAddress == rhs.remoteAddress && lhs.scheme == rhs.scheme
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    /// A description without the body or header values.
    public var description: String {
        "RawRequest(\(method) \(path), bodyBytes: \(body.count), headers: \(headers.count))"
    }
}
