import EscuchaChannels
import EscuchaCore
import Foundation
import Testing

/// Where the shared fixtures and the repository's Channels folder are.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var shared: URL {
        if let dir = ProcessInfo.processInfo.environment["ESCUCHA_SHARED_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        return repository.deletingLastPathComponent().appendingPathComponent("shared")
    }

    static var gatewayFixtures: URL { shared.appendingPathComponent("fixtures/gateways") }
    static var channels: String { repository.appendingPathComponent("Channels").path }
    static var config: String { repository.appendingPathComponent("Config/escucha.yaml").path }
}

/// The catalog loaded once from Channels/.
let sharedCatalog = Result<GatewayCatalog, ConfigError>(catching: { () throws(ConfigError) -> GatewayCatalog in try GatewayCatalog.load(directory: Paths.channels) })

/// One case of one fixture file.
struct FixtureCase: Sendable, CustomTestStringConvertible {
    let file: String
    let index: Int
    let name: String
    let raw: [String: JSONValue]

    var testDescription: String { "\(file) #\(index): \(name)" }

    func string(_ key: String) -> String? { raw[key]?.scalarText }
    var expect: [String: JSONValue] { if case .object(let o)? = raw["expect"] { return o } else { return [:] } }
    func expected(_ key: String) -> String? { expect[key]?.scalarText }

    var headers: [(name: String, value: String)] {
        guard case .object(let o)? = raw["headers"] else { return [] }
        return o.keys.sorted().map { ($0, o[$0]?.scalarText ?? "") }
    }

    var request: RawRequest {
        var headers = self.headers
        if let ct = string("content_type") { headers.append(("Content-Type", ct)) }
        return RawRequest(method: string("method") ?? "POST", path: string("path") ?? "/", query: string("query") ?? "", headers: headers,
                          body: Array((string("body") ?? "").utf8), scheme: "https")
    }

    static func all() -> [FixtureCase] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Paths.gatewayFixtures.path)) ?? []
        var out: [FixtureCase] = []
        for file in files.sorted() where file.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: Paths.gatewayFixtures.appendingPathComponent(file).path),
                  case .object(let root)? = JSONValue.parse(Array(data)), case .array(let cases)? = root["cases"] else { continue }
            for (i, c) in cases.enumerated() {
                guard case .object(let o) = c else { continue }
                out.append(FixtureCase(file: String(file.dropLast(5)), index: i, name: o["name"]?.scalarText ?? "?", raw: o))
            }
        }
        return out
    }

    /// Which gateway definition, instance and secrets the case needs (what the operator would configure).
    var setup: (gateway: String, instance: ChannelInstance, secrets: ChannelSecrets, now: Date) {
        let path = string("path") ?? ""
        let body = string("body") ?? ""
        let hasHeader = { (name: String) in self.headers.contains { $0.name.caseInsensitiveCompare(name) == .orderedSame } }
        var gateway = file
        var secret: String? = nil
        var verifyToken: String? = nil
        var publicURL: String? = nil
        var address: String? = nil
        var now = Date()
        switch file {
        case "twilio":
            publicURL = "https://localhost"
            if path.hasPrefix("/c/twa/") { gateway = "twilio-whatsapp" }
            if path.hasPrefix("/c/sw/") { gateway = "signalwire" } else { secret = "6789" }
        case "vonage":
            if body.contains("sig=") { secret = "vonage_signature_secret_example" }
            now = Date(timeIntervalSince1970: 1_577_887_800 + 30)
        case "plivo":
            address = "2020"
            publicURL = "https://example.org"
            if hasHeader("X-Plivo-Signature-V2") { secret = "plivo_auth_token_example" }
        case "messagebird":
            publicURL = "https://localhost"
            secret = "my_super_secret"
        case "telerivet": secret = "a9f2c4e1b7d84f0c9e6a3b5d7f1c2e8a"
        case "sinch":
            secret = "sinch_webhook_secret_example"
            now = Date(timeIntervalSince1970: 1_634_579_353 + 30)
        case "telegram": if hasHeader("X-Telegram-Bot-Api-Secret-Token") { secret = "fb7d3c2a_secret-token" }
        case "whatsapp-cloud":
            secret = "fb_app_secret"
            verifyToken = "fb_webhook_secret"
        case "frontlinesms": if body.contains("secret=") { secret = "shh" }
        case "external": gateway = "generic-json"
        default: break
        }
        let instance = ChannelInstance(id: "fixture", gateway: gateway, address: address, language: "es", publicURL: publicURL)
        return (gateway, instance, ChannelSecrets(secret: secret, verifyToken: verifyToken), now)
    }
}

/// ISO-8601 (with or without fractional seconds) to a date, for expectations.
func isoDate(_ text: String) -> Date? { Timestamps.parse(text, format: .iso8601) }

/// `content-type:url` or `url`, the fixtures' way of writing attachments.
func render(_ a: EscuchaCore.Attachment) -> String { a.contentType.map { "\($0):\(a.url)" } ?? a.url }
