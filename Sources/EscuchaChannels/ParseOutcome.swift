public import EscuchaCore
public import Foundation

/// What a webhook request meant.
public enum ParseOutcome: Sendable, CustomStringConvertible {
    /// Complete messages to store (plus any parts, statuses and events in the same batch).
    case messages([InboundMessage], parts: [MessagePart] = [], statuses: [DeliveryStatusUpdate] = [], events: [ChannelEvent] = [])
    /// Only parts of concatenated SMS: feed them to a ``MultipartAssembler``.
    case partial([MessagePart])
    /// Not a message: a delivery-status callback, an opt-out or other event, a probe. Answer success.
    case ignored(IgnoredRequest)
    /// A subscription handshake (WhatsApp `hub.challenge`): answer 200 with this text.
    case challenge(String)
    /// Refused: answer `rejection.httpStatus` and keep the raw request with the reason.
    case rejected(Rejection)

    /// A description without personal data.
    public var description: String {
        switch self {
        case .messages(let m, let p, let s, let e): "messages(\(m.count), parts: \(p.count), statuses: \(s.count), events: \(e.count))"
        case .partial(let p): "partial(\(p.count))"
        case .ignored(let i): "ignored(\(i.reason), statuses: \(i.statuses.count), events: \(i.events.count))"
        case .challenge: "challenge"
        case .rejected(let r): "rejected(\(r.httpStatus), \(r.reason))"
        }
    }
}

/// A request that carries no message, with what it does carry.
public struct IgnoredRequest: Sendable, Equatable {
    /// Why nothing is stored as a message (safe to log).
    public var reason: String
    /// Delivery-status updates for the outbox.
    public var statuses: [DeliveryStatusUpdate]
    /// Opt-outs and other events.
    public var events: [ChannelEvent]

    /// Creates the value.
    public init(reason: String, statuses: [DeliveryStatusUpdate] = [], events: [ChannelEvent] = []) {
        self.reason = reason
        self.statuses = statuses
        self.events = events
    }
}

/// A refusal with a reason a person can act on. The reason never holds message text or addresses.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status to answer (400 malformed, 403 authenticity, 404 unknown route, 500 configuration).
    public var httpStatus: Int
    /// What is wrong.
    public var reason: String

    /// Creates the value.
    public init(httpStatus: Int, reason: String) {
        self.httpStatus = httpStatus
        self.reason = reason
    }

    public var description: String { "\(httpStatus): \(reason)" }
}

/// The delivery state of a message we sent, normalised across gateways.
public enum DeliveryState: String, Sendable, Equatable, CaseIterable {
    case queued, sent, delivered, read, failed, errored
}

/// A delivery-status callback, for the outbox.
public struct DeliveryStatusUpdate: Sendable, Equatable, CustomStringConvertible {
    /// The gateway's id of the message we sent.
    public var externalID: String?
    /// Our own outbox reference, when the gateway echoes it back.
    public var reference: String?
    /// The normalised state.
    public var state: DeliveryState
    /// The gateway's own status word.
    public var providerStatus: String
    /// The gateway's error code, when any.
    public var errorCode: String?
    /// When the gateway says the state was reached.
    public var at: Date?

    public var description: String {
        "DeliveryStatusUpdate(externalID: \(externalID ?? "-"), reference: \(reference ?? "-"), state: \(state.rawValue))"
    }
}

/// A non-message event from a channel.
public struct ChannelEvent: Sendable, Equatable, CustomStringConvertible {
    /// The kinds of events.
    public enum Kind: String, Sendable, Equatable {
        /// The person asked to receive nothing more (STOP, or the gateway says so).
        case optOut = "opt_out"
        /// The person opened a conversation (Telegram `/start`).
        case newConversation = "new_conversation"
    }
    /// The kind.
    public var kind: Kind
    /// The person's address. Personal data.
    public var address: String

    public var description: String { "ChannelEvent(\(kind.rawValue))" }
}

/// Where a part sits in a concatenated SMS.
public struct ConcatInfo: Sendable, Equatable, Hashable, Codable {
    /// The reference shared by all parts (as sent: decimal or hex).
    public var ref: String
    /// How many parts there are.
    public var total: Int
    /// This part's number, from 1.
    public var part: Int

    /// Creates the value.
    public init(ref: String, total: Int, part: Int) {
        self.ref = ref
        self.total = total
        self.part = part
    }
}

/// One part of a concatenated SMS: the part as a message of its own, plus its position.
public struct MessagePart: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The part (its text is only this part's text).
    public var message: InboundMessage
    /// Its position.
    public var concat: ConcatInfo

    /// Creates the value.
    public init(message: InboundMessage, concat: ConcatInfo) {
        self.message = message
        self.concat = concat
    }

    /// The key that groups parts of one message: channel, sender, recipient and reference.
    public var groupKey: String {
        [message.channelID, message.sender, message.recipient ?? "", concat.ref, String(concat.total)].joined(separator: "\u{1F}")
    }

    public var description: String { "MessagePart(channel: \(message.channelID), part: \(concat.part)/\(concat.total))" }
}
