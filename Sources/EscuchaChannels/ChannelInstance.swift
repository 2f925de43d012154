public import EscuchaCore
import Foundation

/// A configured channel: one gateway account serving one route, from `Config/escucha.yaml`.
///
/// ```yaml
/// channels:
///   - id: twilio-cucuta
///     gateway: twilio
///     secret_env: ESCUCHA_TWILIO_CUCUTA_AUTH_TOKEN
///     public_url: https://escucha.example.org
///     default_location: Cúcuta
///     language: es
/// ```
public struct ChannelInstance: Sendable, Equatable, CustomStringConvertible {
    /// The id used in URLs (`/webhooks/sms/{id}`) and stored on every message.
    public var id: String
    /// The gateway definition id (`twilio`).
    public var gateway: String
    /// The environment variable holding the inbound secret (auth token, app secret,
    /// webhook secret); `nil` = requests are not authenticated.
    public var secretEnv: String?
    /// The environment variable holding a subscription verify token (WhatsApp).
    public var verifyTokenEnv: String?
    /// The environment variable holding the outbound API secret, when it differs.
    public var outboundSecretEnv: String?
    /// The gateway account id or user name, for outbound templates.
    public var account: String?
    /// The channel's own number or short code (replies are sent from it).
    public var address: String?
    /// The country calling code for national numbers (`57`).
    public var countryCode: String?
    /// Where tickets from this channel are located when the text names no place.
    public var defaultLocation: String?
    /// The language hint (`es`).
    public var language: String?
    /// The public origin the gateway calls (`https://escucha.example.org`), for signatures.
    public var publicURL: String?
    /// Where the definition file says this was declared.
    public var file: String
    public var line: Int?

    /// Creates an instance.
    public init(
        id: String, gateway: String, secretEnv: String? = nil, verifyTokenEnv: String? = nil, outboundSecretEnv: String? = nil,
        account: String? = nil, address: String? = nil, countryCode: String? = nil, defaultLocation: String? = nil,
        language: String? = nil, publicURL: String? = nil, file: String = "<memory>", line: Int? = nil
    ) {
        self.id = id; self.gateway = gateway; self.secretEnv = secretEnv; self.verifyTokenEnv = verifyTokenEnv
        self.outboundSecretEnv = outboundSecretEnv; self.account = account; self.address = address; self.countryCode = countryCode
        self.defaultLocation = defaultLocation; self.language = language; self.publicURL = publicURL; self.file = file; self.line = line
    }

    public var description: String { "ChannelInstance(\(id), gateway: \(gateway))" }

    static let keys = ["id", "gateway", "secret_env", "verify_token_env", "outbound_secret_env", "account", "address",
                       "country_code", "default_location", "language", "public_url"]

    /// Reads the `channels:` list of a configuration document.
    /// - Parameter root: the document root (other keys are left to their owners).
    /// - Throws: ``ConfigError`` with file and line.
    public static func list(from root: ConfigNode) throws(ConfigError) -> [ChannelInstance] {
        guard let list = root["channels"] else { return [] }
        var out: [ChannelInstance] = []
        var seen: Set<String> = []
        for node in list.items {
            let instance = try ChannelInstance(node: node)
            guard seen.insert(instance.id).inserted else { throw node.error("channel id '\(instance.id)' is used twice; ids must be unique") }
            out.append(instance)
        }
        return out
    }

    /// Reads one instance.
    /// - Parameter node: the mapping.
    public init(node: ConfigNode) throws(ConfigError) {
        guard node.isMapping else { throw node.error("a channel is a mapping with 'id:' and 'gateway:'") }
        try DefinitionReader.checkKeys(node, Self.keys)
        let id = try node.requireString("id")
        guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw node["id"]!.error("channel id '\(id)' may only hold ASCII letters, digits, '-' and '_' (it is part of the URL)")
        }
        for key in ["secret_env", "verify_token_env", "outbound_secret_env"] {
            if let v = node[key]?.string, !v.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }) {
                throw node[key]!.error("'\(key)' names an environment variable (like ESCUCHA_TWILIO_TOKEN), not the secret itself")
            }
        }
        if let url = node["public_url"]?.string, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            throw node["public_url"]!.error("'public_url' must start with https:// (the address the gateway calls)")
        }
        self.init(
            id: id, gateway: try node.requireString("gateway"), secretEnv: node["secret_env"]?.string, verifyTokenEnv: node["verify_token_env"]?.string,
            outboundSecretEnv: node["outbound_secret_env"]?.string, account: node["account"]?.string, address: node["address"]?.string,
            countryCode: node["country_code"]?.string, defaultLocation: node["default_location"]?.string, language: node["language"]?.string,
            publicURL: node["public_url"]?.string, file: node.file, line: node.line)
    }
}

/// The secret values of one instance, read from the environment by the caller.
public struct ChannelSecrets: Sendable, Equatable, CustomStringConvertible {
    /// The inbound signing secret or shared token.
    public var secret: String?
    /// The subscription verify token (WhatsApp).
    public var verifyToken: String?

    /// Creates the value.
    public init(secret: String? = nil, verifyToken: String? = nil) {
        self.secret = secret
        self.verifyToken = verifyToken
    }

    /// Reads the variables the instance names from `environment` (pass `ProcessInfo.processInfo.environment`).
    /// - Parameters:
    ///   - instance: the channel.
    ///   - environment: the environment.
    public init(for instance: ChannelInstance, environment: [String: String]) {
        secret = instance.secretEnv.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        verifyToken = instance.verifyTokenEnv.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Never shows the values.
    public var description: String { "ChannelSecrets(secret: \(secret == nil ? "unset" : "set"), verifyToken: \(verifyToken == nil ? "unset" : "set"))" }
}
