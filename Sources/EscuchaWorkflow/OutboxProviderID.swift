import EscuchaChannels
import EscuchaCore

/// Where each gateway's send API puts the id of the message it accepted, in its JSON
/// answer: a path of object keys and `[n]` array indices, e.g. `messages[0].message-id`.
///
/// Delivery-status callbacks name the message by this id, so the sender stores it in
/// `outbox.provider_id`. A gateway missing here (Kannel and FrontlineSMS answer plain
/// text) leaves `provider_id` NULL; its callbacks must carry our reference instead.
/// (This table belongs in each `Channels/*.yaml` `reply:` block as a `response_id:` path;
/// it lives here until the definition format has that key.)
public enum OutboxProviderID {
    /// The response path for each gateway id.
    public static let responsePaths: [String: String] = [
        "twilio": "sid",
        "twilio-whatsapp": "sid",
        "signalwire": "sid",
        "vonage": "messages[0].message-id",
        "plivo": "message_uuid[0]",
        "messagebird": "id",
        "infobip": "messages[0].messageId",
        "africastalking": "SMSMessageData.Recipients[0].messageId",
        "clickatell": "messages[0].apiMessageId",
        "telerivet": "id",
        "sinch": "id",
        "telegram": "result.message_id",
        "whatsapp-cloud": "messages[0].id",
        "zenvia": "id",
        "generic-json": "id",
    ]

    /// The provider's message id in `body`, following `path`; `nil` when the body is not
    /// JSON or the path leads nowhere or to a non-scalar.
    /// - Parameters:
    ///   - body: the response body.
    ///   - path: dot-separated keys with optional `[n]` indices.
    public static func extract(from body: [UInt8], path: String) -> String? {
        guard var value = JSONValue.parse(body) else { return nil }
        for component in path.split(separator: ".") {
            var key = Substring(component)
            var indices: [Int] = []
            while key.hasSuffix("]"), let open = key.lastIndex(of: "[") {
                guard let index = Int(key[key.index(after: open)..<key.index(before: key.endIndex)]) else { return nil }
                indices.insert(index, at: 0)
                key = key[..<open]
            }
            if !key.isEmpty {
                guard case .object(let object) = value, let next = object[String(key)] else { return nil }
                value = next
            }
            for index in indices {
                guard case .array(let array) = value, array.indices.contains(index) else { return nil }
                value = array[index]
            }
        }
        guard let text = value.scalarText, !text.isEmpty else { return nil }
        return text
    }

    /// The provider id in a response from gateway `gateway`, when the table knows where it is.
    /// - Parameters:
    ///   - body: the response body.
    ///   - gateway: the gateway id.
    public static func extract(from body: [UInt8], gateway: String) -> String? {
        responsePaths[gateway].flatMap { extract(from: body, path: $0) }
    }
}
