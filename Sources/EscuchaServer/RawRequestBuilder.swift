import EscuchaChannels

/// Builds the channel layer's raw request from what the HTTP server received.
enum RawRequestBuilder {
    static func make(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8], remote: String?) -> RawRequest {
        var request = RawRequest(method: method, target: uri, headers: headers, body: body)
        request.remoteAddress = remote
        return request
    }
}
