public import EscuchaCore
import Foundation

/// How the request body is read.
public enum BodyFormat: String, Sendable, Equatable, CaseIterable {
    /// Chosen from the Content-Type: JSON, multipart, XML, otherwise URL-encoded form.
    case auto
    /// `application/x-www-form-urlencoded`.
    case form
    /// JSON (a body that does not parse is refused, whatever its Content-Type).
    case json
    /// `multipart/form-data`.
    case multipart
    /// XML, read with `xml://name` paths.
    case xml
    /// The body is ignored; data is in the query string.
    case none
}

/// A condition on a request or an `each` item.
public struct Condition: Sendable, Equatable {
    /// The test.
    public enum Test: Sendable, Equatable {
        /// The value is present and not empty (or absent, when `false`).
        case present(Bool)
        /// The value is one of these (case-sensitive).
        case oneOf([String])
        /// The value is none of these (or absent).
        case noneOf([String])
        /// The value is text that parses as a JSON object or array.
        case isJSON(Bool)
    }
    /// Where the value is read.
    public var path: FieldPath
    /// The test applied.
    public var test: Test
}

/// A value read from the request: alternatives tried in order, then cleaned up.
public struct ValueSpec: Sendable, Equatable {
    /// One way to find the value.
    public struct Alternative: Sendable, Equatable {
        /// A path to read, or `nil` for a template.
        public var path: FieldPath?
        /// A template such as `{{@.title}}, {{@.address}}`; yields nothing when a part is missing.
        public var template: String?
        /// Paths used by the template, in order of appearance.
        public var templatePaths: [FieldPath]
        /// Conditions that must hold for this alternative to be tried.
        public var when: [Condition]
    }
    /// The alternatives, first non-empty wins.
    public var alternatives: [Alternative]
    /// Used when no alternative gives a value.
    public var defaultValue: String?
    /// Whether a missing value refuses the request.
    public var required: Bool
    /// Prefixes removed from the value (`whatsapp:`).
    public var stripPrefixes: [String]
    /// Address normalisation, for senders and recipients.
    public var normalize: AddressNormalization
    /// A fixed charset for the value's bytes.
    public var charset: String?
    /// Where the charset name is read (`json:charset`).
    public var charsetFrom: FieldPath?
    /// Whether the value is percent-encoded bytes when its charset is not UTF-8 (Clickatell).
    public var percentEncoded: Bool
    /// `base64` (always decode) or `base64_if_encoded` (Twilio heuristic).
    public var decode: String?
    /// The timestamp format, for timestamps.
    public var format: TimestampFormat
    /// A regular expression the value must match to count (others are treated as absent).
    public var match: String?

    /// A spec with one path and defaults.
    init(path: FieldPath?) {
        alternatives = path.map { [Alternative(path: $0, template: nil, templatePaths: [], when: [])] } ?? []
        defaultValue = nil; required = false; stripPrefixes = []; normalize = .none
        charset = nil; charsetFrom = nil; percentEncoded = false; decode = nil; format = .auto; match = nil
    }
}

/// Where media attachments are found.
public struct MediaSpec: Sendable, Equatable {
    /// Items to walk (`json:message.contents[?type=file]`); `nil` for numbered form fields.
    public var each: FieldPath?
    /// The URL or content id (may use `{i}` for numbered form fields).
    public var url: ValueSpec?
    /// The MIME type.
    public var contentType: ValueSpec?
    /// Latitude and longitude, for locations (rendered as `geo:lat,long`).
    public var latitude: ValueSpec?
    /// See `latitude`.
    public var longitude: ValueSpec?
}

/// How the parts of a concatenated SMS are recognised.
public struct ConcatSpec: Sendable, Equatable {
    /// Conditions under which the message is a part.
    public var when: [Condition]
    /// The reference shared by all parts.
    public var ref: ValueSpec?
    /// The number of parts.
    public var total: ValueSpec?
    /// This part's number, from 1.
    public var part: ValueSpec?
    /// A hex User Data Header carrying all three (`050003CC0201`).
    public var udh: ValueSpec?
}

/// The fields of an inbound message.
public struct MessageSpec: Sendable, Equatable {
    public var sender: ValueSpec
    public var recipient: ValueSpec?
    public var text: ValueSpec?
    public var externalID: ValueSpec?
    public var receivedAt: ValueSpec?
    public var keyword: ValueSpec?
    public var media: [MediaSpec]
    public var concat: ConcatSpec?
    /// What to do with a message without text and media: `accept`, `ignore` or `reject`.
    public var empty: String
    /// Whether repeated external ids inside one request are dropped.
    public var dedupe: Bool
}

/// The fields of a delivery-status callback.
public struct StatusSpec: Sendable, Equatable {
    public var externalID: ValueSpec?
    /// Our own outbox reference, echoed back by the gateway.
    public var reference: ValueSpec?
    public var status: ValueSpec
    /// Gateway status → `queued`, `sent`, `delivered`, `read`, `failed`, `errored`, `ignore` or `reject`.
    public var map: [String: String]
    /// What an unmapped status becomes: `reject`, `ignore` or a status.
    public var unknown: String
    /// Status replacements under conditions (an error code that means "rate limited").
    public var overrides: [(when: [Condition], status: String)]
    public var at: ValueSpec?
    /// The error code, kept for the outbox.
    public var errorCode: ValueSpec?

    public static func == (lhs: StatusSpec, rhs: StatusSpec) -> Bool {
        lhs.externalID == rhs.externalID && lhs.reference == rhs.reference && lhs.status == rhs.status && lhs.map == rhs.map
            && lhs.unknown == rhs.unknown && lhs.at == rhs.at && lhs.overrides.map(\.status) == rhs.overrides.map(\.status)
    }
}

/// One rule of a route: when it applies and what the request means.
public struct RuleSpec: Sendable, Equatable {
    /// What the rule produces.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case message, status, event, ignore, reject, challenge
    }
    public var kind: Kind
    public var line: Int?
    public var when: [Condition]
    /// Items the rule applies to, one result per item.
    public var each: FieldPath?
    /// Whether a missing `each` refuses the request (otherwise the rule does not apply).
    public var eachRequired: Bool
    /// Paths that must be present, or the request is refused.
    public var require: [FieldPath]
    /// Per-item conditions that skip an item, with the reason.
    public var skipWhen: [(when: [Condition], reason: String)]
    /// Per-item conditions that refuse an item, with the reason.
    public var rejectWhen: [(when: [Condition], reason: String)]
    /// Whether later rules still run after this one applied (batched payloads).
    public var continues: Bool
    /// The reason, for `ignore` and `reject`.
    public var reason: String?
    /// The HTTP status, for `reject`.
    public var httpStatus: Int
    public var message: MessageSpec?
    public var status: StatusSpec?
    /// `opt_out` or `new_conversation`, for `event` (and opt-outs reported on statuses).
    public var event: String?
    public var eventWhen: [Condition]
    public var eventAddress: ValueSpec?
    /// Where a subscription handshake carries its token and challenge.
    public var challengeToken: ValueSpec?
    public var challengeValue: ValueSpec?
    /// A value that must equal the instance's `address` (Plivo's To/From).
    public var addressMustMatch: ValueSpec?

    public static func == (lhs: RuleSpec, rhs: RuleSpec) -> Bool {
        lhs.kind == rhs.kind && lhs.line == rhs.line && lhs.when == rhs.when && lhs.each == rhs.each && lhs.message == rhs.message && lhs.status == rhs.status
    }
}

/// How authenticity is checked.
public struct VerificationSpec: Sendable, Equatable {
    /// The kinds of verification.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case none
        case twilioSignature = "twilio-signature"
        case hmac
        case vonageSignature = "vonage-signature"
        case messagebirdJWT = "messagebird-jwt"
        case plivoV2 = "plivo-v2"
        case basicAuth = "basic-auth"
        case token
    }
    public var kind: Kind
    /// The header carrying the signature.
    public var header: String?
    /// `sha256`, `sha1` or `md5` (hmac).
    public var algorithm: String
    /// `hex` or `base64` (hmac).
    public var encoding: String
    /// Text before the signature in the header (`sha256=`).
    public var prefix: String
    /// What is signed (hmac): `{body}` and `{header:Name}` placeholders.
    public var message: String
    /// Where the shared token is read (token), first present wins.
    public var sources: [FieldPath]
    /// Where a signed timestamp is read, for the replay window.
    public var timestamp: FieldPath?
    /// The replay window in seconds; 0 disables the check.
    public var maxAge: Int

    /// No verification.
    public static let none = VerificationSpec(kind: .none, header: nil, algorithm: "sha256", encoding: "hex", prefix: "", message: "{body}", sources: [], timestamp: nil, maxAge: 0)
}

/// What a gateway expects back on success.
public struct ResponseSpec: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String
}

/// A route: the requests one path suffix and method receive.
public struct RouteSpec: Sendable, Equatable {
    public var name: String
    public var line: Int?
    /// Last path segments served (`status`); empty = every path.
    public var paths: [String]
    /// Whether the route also serves the bare channel path (`/webhooks/sms/{id}`).
    public var isDefault: Bool
    /// Methods served; empty = any.
    public var methods: [String]
    /// Overrides the gateway's verification for this route.
    public var verification: VerificationSpec?
    public var rules: [RuleSpec]
    /// What happens when no rule applies: `reject` or `ignore`.
    public var otherwise: String
}

/// A gateway, described declaratively in `Channels/<id>.yaml`.
public struct GatewayDefinition: Sendable, Equatable {
    public var id: String
    public var name: String
    public var file: String
    public var kind: ChannelKind
    public var body: BodyFormat
    public var caseInsensitiveFields: Bool
    public var verification: VerificationSpec
    public var success: ResponseSpec
    /// The status used for refusals (Meta wants 200 even for errors); `nil` = the rule's own.
    public var rejectionStatus: Int?
    public var routes: [RouteSpec]
    public var reply: OutboundTemplate?
    /// Non-fatal remarks found while loading (shown by `escucha channels check`).
    public var warnings: [ConfigError]
}
