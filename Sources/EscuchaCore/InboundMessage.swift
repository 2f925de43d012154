import Foundation

/// The kind of channel a message arrived on.
public enum ChannelKind: String, Sendable, Codable, CaseIterable {
    case sms
    case email
    case hotline
}

/// A message as a channel adapter understood it, before classification.
///
/// Adapters build these from raw input without any IO; intake stores them.
/// `description` never contains the sender or the text, so a value can be logged.
public struct InboundMessage: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The channel instance id (from `Config/escucha.yaml`), e.g. `twilio-cucuta`.
    public var channelID: String
    /// The kind of channel.
    public var kind: ChannelKind
    /// The provider's id for this message, used to recognise retries. `nil` when the
    /// gateway gives none.
    public var externalID: String?
    /// The sender's address: a phone number (E.164 where it can be recovered), an email
    /// address, or a gateway-specific id (Telegram chat id). Personal data.
    public var sender: String
    /// The address the message was sent to (short code, channel number).
    public var recipient: String?
    /// The text as the person wrote it. Personal data.
    public var text: String
    /// When the provider says it received the message, or when we did.
    public var receivedAt: Date
    /// A language the channel suggests (the instance's language or the gateway's).
    public var languageHint: String?
    /// Media attachments: URLs or content ids.
    public var attachments: [Attachment]
    /// Non-personal extra facts (segment count, gateway message type, …).
    public var metadata: [String: String]

    /// Creates a message.
    public init(
        channelID: String, kind: ChannelKind, externalID: String?, sender: String,
        recipient: String? = nil, text: String, receivedAt: Date, languageHint: String? = nil,
        attachments: [Attachment] = [], metadata: [String: String] = [:]
    ) {
        self.channelID = channelID
        self.kind = kind
        self.externalID = externalID
        self.sender = sender
        self.recipient = recipient
        self.text = text
        self.receivedAt = receivedAt
        self.languageHint = languageHint
        self.attachments = attachments
        self.metadata = metadata
    }

    /// A description without personal data.
    public var description: String {
        "InboundMessage(channel: \(channelID), kind: \(kind.rawValue), externalID: \(externalID ?? "-"), textLength: \(text.count))"
    }
}

/// A media item attached to a message.
public struct Attachment: Sendable, Equatable, Codable {
    /// Where the media can be fetched, or its content id.
    public var url: String
    /// The MIME type when known.
    public var contentType: String?

    /// Creates an attachment.
    public init(url: String, contentType: String? = nil) {
        self.url = url
        self.contentType = contentType
    }
}
