public import EscuchaCore
public import Foundation

/// Reassembles concatenated SMS from their parts (Vonage `concat-*`, UDH headers).
///
/// A pure value: the server persists it (it is `Codable`) or the pending parts, adds
/// each new part, and stores the message when one is complete. Parts may arrive out of
/// order, twice, or never; ``expire(olderThan:)`` gives up on incomplete groups.
public struct MultipartAssembler: Sendable, Equatable, Codable {
    /// Parts waiting for their siblings, by group key.
    public private(set) var pending: [String: [MessagePart]] = [:]

    /// Creates an empty assembler.
    public init() {}

    /// What adding a part produced.
    public enum Result: Sendable, Equatable {
        /// The part is kept; `received` of `total` parts are here.
        case waiting(received: Int, total: Int)
        /// The last part arrived: the whole message.
        case complete(InboundMessage)
        /// This part was already here (a gateway retry).
        case duplicate
    }

    /// Adds a part.
    /// - Parameter part: the part.
    public mutating func add(_ part: MessagePart) -> Result {
        let key = part.groupKey
        var group = pending[key] ?? []
        if group.contains(where: { $0.concat.part == part.concat.part }) { return .duplicate }
        group.append(part)
        if group.count < part.concat.total {
            pending[key] = group
            return .waiting(received: group.count, total: part.concat.total)
        }
        pending[key] = nil
        return .complete(Self.combine(group))
    }

    /// Combines a full set of parts: texts in part order, the first part's id, the
    /// earliest timestamp, all attachments; metadata records the part ids.
    /// - Parameter parts: all parts of one message.
    public static func combine(_ parts: [MessagePart]) -> InboundMessage {
        let ordered = parts.sorted { $0.concat.part < $1.concat.part }
        var message = ordered[0].message
        message.text = ordered.map(\.message.text).joined()
        message.receivedAt = ordered.map(\.message.receivedAt).min() ?? message.receivedAt
        message.attachments = ordered.flatMap(\.message.attachments)
        message.metadata["concat_part"] = nil
        message.metadata["concat_parts"] = String(ordered.count)
        message.metadata["concat_part_ids"] = ordered.compactMap(\.message.externalID).joined(separator: ",")
        return message
    }

    /// Removes groups whose newest part is older than `date` and returns their parts, so
    /// the server can store them as they are (a partial message is better than none).
    /// - Parameter date: the cut-off.
    public mutating func expire(olderThan date: Date) -> [[MessagePart]] {
        var expired: [[MessagePart]] = []
        for (key, group) in pending where (group.map(\.message.receivedAt).max() ?? date) < date {
            expired.append(group.sorted { $0.concat.part < $1.concat.part })
            pending[key] = nil
        }
        return expired
    }
}
