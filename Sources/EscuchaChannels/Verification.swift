import Crypto
import EscuchaCore
import Foundation

/// Authenticity checks over the raw request. Every comparison is constant-time.
enum Verifier {
    static func check(_ spec: VerificationSpec, request: RawRequest, context: RequestContext, instance: ChannelInstance, secret: String, now: Date) -> Rejection? {
        func forbidden(_ reason: String) -> Rejection { Rejection(httpStatus: 403, reason: reason) }
        switch spec.kind {
        case .none:
            return nil
        case .twilioSignature:
            guard let given = request.header(spec.header ?? "X-Twilio-Signature"), !given.isEmpty else {
                return forbidden("missing request signature (header \(spec.header ?? "X-Twilio-Signature"))")
            }
            var message = PublicURL.reconstruct(request: request, instance: instance)
            if !request.query.isEmpty { message += "?" + request.query }
            if context.request.method != "GET" {
                let params: [(name: String, value: String)] = context.form.pairs.map { pair in (pair.name, TextDecoding.lenientUTF8(pair.value)) }
                let sorted = params.sorted { (a: (name: String, value: String), b: (name: String, value: String)) -> Bool in
                    a.name == b.name ? a.value < b.value : a.name < b.name
                }
                for pair in sorted { message += pair.name + pair.value }
            }
            let expected = Data(Digests.hmac("sha1", key: Array(secret.utf8), message: Array(message.utf8))).base64EncodedString()
            return constantTimeEqual(expected, given) ? nil : forbidden("invalid request signature: check the auth token and that public_url (or the proxy's X-Forwarded-* headers) give the URL the gateway called")
        case .hmac:
            guard let raw = request.header(spec.header ?? ""), !raw.isEmpty else { return forbidden("missing request signature (header \(spec.header ?? ""))") }
            guard raw.hasPrefix(spec.prefix) else { return forbidden("request signature does not start with '\(spec.prefix)'") }
            let given = String(raw.dropFirst(spec.prefix.count))
            if let stale = staleTimestamp(spec, context: context, now: now) { return stale }
            let mac = Digests.hmac(spec.algorithm, key: Array(secret.utf8), message: render(spec.message, request: request))
            let expected = spec.encoding == "hex" ? Digests.hex(mac) : Data(mac).base64EncodedString()
            let ok = spec.encoding == "hex" ? constantTimeEqual(expected, given.lowercased()) : constantTimeEqual(expected, given)
            return ok ? nil : forbidden("invalid request signature: check the shared secret")
        case .vonageSignature:
            var params = context.query.pairs + context.form.pairs
            guard let sigIndex = params.lastIndex(where: { $0.name == "sig" }) else { return forbidden("missing request signature (parameter sig)") }
            let given = TextDecoding.lenientUTF8(params[sigIndex].value).lowercased()
            params.removeAll { $0.name == "sig" }
            if let stale = staleTimestamp(spec, context: context, now: now) { return stale }
            var latest: [String: String] = [:]
            for p in params { latest[p.name] = TextDecoding.lenientUTF8(p.value) }
            let signed = latest.keys.sorted().map { "&\($0)=" + latest[$0]!.replacingOccurrences(of: "&", with: "_").replacingOccurrences(of: "=", with: "_") }.joined()
            let key = Array(secret.utf8), message = Array(signed.utf8)
            var candidates: [String] = []
            switch given.count {
            case 32: candidates = [Digests.hex(Digests.hash("md5", message + key)), Digests.hex(Digests.hmac("md5", key: key, message: message))]
            case 40: candidates = [Digests.hex(Digests.hmac("sha1", key: key, message: message))]
            case 64: candidates = [Digests.hex(Digests.hmac("sha256", key: key, message: message))]
            case 128: candidates = [Digests.hex(Digests.hmac("sha512", key: key, message: message))]
            default: return forbidden("request signature has an unexpected length")
            }
            var ok = false
            for c in candidates where constantTimeEqual(c, given) { ok = true }
            return ok ? nil : forbidden("invalid request signature: check the Vonage signature secret")
        case .messagebirdJWT:
            guard let token = request.header(spec.header ?? ""), !token.isEmpty else { return forbidden("missing request signature") }
            let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, let headerBytes = TextDecoding.base64(parts[0]), let payloadBytes = TextDecoding.base64(parts[1]),
                  let signature = TextDecoding.base64(parts[2]), case .object(let header)? = JSONValue.parse(headerBytes),
                  case .object(let claims)? = JSONValue.parse(payloadBytes) else {
                return forbidden("request signature is not a JWT")
            }
            guard header["alg"]?.scalarText == "HS256" else { return forbidden("request signature uses an algorithm other than HS256") }
            let expected = Digests.hmac("sha256", key: Array(secret.utf8), message: Array((parts[0] + "." + parts[1]).utf8))
            guard constantTimeEqual(expected, signature) else { return forbidden("invalid request signature: check the MessageBird signing key") }
            let leeway = 60.0
            if let nbf = claims["nbf"]?.scalarText.flatMap(Double.init), now.timeIntervalSince1970 + leeway < nbf {
                return forbidden("request signature is not valid yet (nbf): check the server clock")
            }
            if let exp = claims["exp"]?.scalarText.flatMap(Double.init), now.timeIntervalSince1970 - leeway > exp {
                return forbidden("request signature has expired")
            }
            var url = PublicURL.reconstruct(request: request, instance: instance)
            if !request.query.isEmpty { url += "?" + request.query }
            guard let urlHash = claims["url_hash"]?.scalarText, constantTimeEqual(Digests.hex(Digests.hash("sha256", Array(url.utf8))), urlHash.lowercased()) else {
                return forbidden("invalid request signature, signature doesn't match expected signature for URL: check public_url")
            }
            if !request.body.isEmpty || claims["payload_hash"] != nil {
                let payloadHash = claims["payload_hash"]?.scalarText?.lowercased() ?? ""
                guard constantTimeEqual(Digests.hex(Digests.hash("sha256", request.body)), payloadHash) else {
                    return forbidden("invalid request signature, signature doesn't match expected signature for body.")
                }
            }
            return nil
        case .plivoV2:
            guard let given = request.header(spec.header ?? "X-Plivo-Signature-V2"), let nonce = request.header((spec.header ?? "X-Plivo-Signature-V2") + "-Nonce") else {
                return forbidden("missing request signature or nonce")
            }
            let url = PublicURL.reconstruct(request: request, instance: instance)
            let expected = Data(Digests.hmac("sha256", key: Array(secret.utf8), message: Array((url + nonce).utf8))).base64EncodedString()
            return constantTimeEqual(expected, given) ? nil : forbidden("invalid request signature: check the Plivo auth token and public_url")
        case .basicAuth:
            guard let auth = request.header("Authorization"), auth.lowercased().hasPrefix("basic "),
                  let decoded = TextDecoding.base64(String(auth.dropFirst(6))) else {
                return Rejection(httpStatus: 401, reason: "missing basic authentication")
            }
            return constantTimeEqual(decoded, Array(secret.utf8)) ? nil : Rejection(httpStatus: 401, reason: "wrong user name or password")
        case .token:
            var given: String? = nil
            for source in spec.sources {
                if let v = context.values(source).first?.text, !v.isEmpty { given = v; break }
            }
            guard let given else { return forbidden("missing shared token (\(spec.sources.map(\.description).joined(separator: " or ")))") }
            return constantTimeEqual(given, secret) ? nil : forbidden("wrong shared token: check the secret configured at the gateway")
        }
    }

    static func staleTimestamp(_ spec: VerificationSpec, context: RequestContext, now: Date) -> Rejection? {
        guard spec.maxAge > 0, let path = spec.timestamp else { return nil }
        guard let text = context.values(path).first?.text, let ts = Double(text) else {
            return Rejection(httpStatus: 403, reason: "missing signed timestamp (\(path))")
        }
        if abs(now.timeIntervalSince1970 - ts) > Double(spec.maxAge) {
            return Rejection(httpStatus: 403, reason: "signed timestamp is outside the \(spec.maxAge) s replay window: a replay, or the server clock is wrong")
        }
        return nil
    }

    /// Renders `{body}` and `{header:Name}` placeholders to the bytes to sign.
    static func render(_ template: String, request: RawRequest) -> [UInt8] {
        var out: [UInt8] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += Array(rest[..<open].utf8)
            let name = rest[rest.index(after: open)..<close]
            if name == "body" {
                out += request.body
            } else if name.hasPrefix("header:") {
                out += Array((request.header(String(name.dropFirst(7))) ?? "").utf8)
            } else {
                out += Array(rest[open...close].utf8)
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + Array(rest.utf8)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0xFF)
        }
        return diff == 0
    }
}

/// Hashes and MACs by name.
enum Digests {
    static func hmac(_ algorithm: String, key: [UInt8], message: [UInt8]) -> [UInt8] {
        let k = SymmetricKey(data: key)
        switch algorithm {
        case "sha1": return Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: k))
        case "md5": return Array(HMAC<Insecure.MD5>.authenticationCode(for: message, using: k))
        case "sha512": return Array(HMAC<SHA512>.authenticationCode(for: message, using: k))
        default: return Array(HMAC<SHA256>.authenticationCode(for: message, using: k))
        }
    }

    static func hash(_ algorithm: String, _ message: [UInt8]) -> [UInt8] {
        switch algorithm {
        case "md5": return Array(Insecure.MD5.hash(data: message))
        case "sha1": return Array(Insecure.SHA1.hash(data: message))
        default: return Array(SHA256.hash(data: message))
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { TextEncoding.hex(bytes) }
}

/// The URL a gateway called, rebuilt for signature checks.
public enum PublicURL {
    /// Scheme, host and path of the URL the gateway called, without the query.
    ///
    /// With `public_url` configured, that origin is used; otherwise the standard proxy
    /// headers (`Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port`)
    /// and `Host`. The path is `X-Forwarded-Path` when a proxy rewrote it, else
    /// `X-Forwarded-Prefix` + the path received.
    /// - Parameters:
    ///   - request: the request as received.
    ///   - instance: the channel (its `publicURL`).
    public static func reconstruct(request: RawRequest, instance: ChannelInstance) -> String {
        let path: String
        if let forwarded = request.header("X-Forwarded-Path"), !forwarded.isEmpty {
            path = forwarded
        } else if let prefix = request.header("X-Forwarded-Prefix"), !prefix.isEmpty {
            path = (prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix) + request.path
        } else {
            path = request.path
        }
        if var base = instance.publicURL, !base.isEmpty {
            while base.hasSuffix("/") { base.removeLast() }
            return base + path
        }
        var forwardedPairs: [String: String] = [:]
        if let forwarded = request.header("Forwarded")?.split(separator: ",").first {
            for pair in forwarded.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                if kv.count == 2 { forwardedPairs[kv[0].lowercased()] = kv[1] }
            }
        }
        func first(_ header: String) -> String? {
            request.header(header)?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let scheme = forwardedPairs["proto"] ?? first("X-Forwarded-Proto") ?? request.scheme
        var host = forwardedPairs["host"] ?? first("X-Forwarded-Host") ?? request.header("Host") ?? "localhost"
        if let port = first("X-Forwarded-Port"), !host.contains(":"), !(scheme == "https" && port == "443"), !(scheme == "http" && port == "80") {
            host += ":" + port
        }
        return scheme + "://" + host + path
    }
}
