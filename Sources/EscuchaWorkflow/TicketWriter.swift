import EscuchaClassifier
import EscuchaCore
import EscuchaStore
import Foundation

/// What happened to one inbound message.
struct WriteResult: Sendable {
    var duplicate: Bool
    /// The message, or the original a retry repeats; `inbound.message_id` of the request.
    var messageID: Int64?
    var ticketID: Int64?
    var reference: String?
    var newTicket: Bool
    var flags: [String]
}

/// A new message ready for `escucha_intake_new_messages`.
struct NewTicketItem: Sendable {
    /// The item object of the function.
    var json: JSON
    /// The contact's link hash: groups are written in its order.
    var addressHash: String
    /// The flags raised, for the result.
    var flags: [String]
}

/// What became of a new-ticket item.
enum NewTicketOutcome: Sendable {
    /// Written: the ticket, message, classification, escalations and acknowledgement.
    case written(WriteResult)
    /// Nothing written but the contact: a retry or a threaded message.
    case generalPath
    /// The item's subtransaction failed with this SQLSTATE (a concurrent retry, a deadlock).
    case failed(sqlState: String)
}

/// Writes one classified message inside the caller's transaction: the message, the
/// contact, the ticket (new or threaded), the classification, the audit event and the
/// acknowledgement in the outbox.
struct TicketWriter: Sendable {
    let protector: ContactProtector
    let templates: MessageTemplates
    let threadingWindow: TimeInterval
    let defaultLocation: String?
    let defaultLanguage: String
    /// Applies `Config/escalation.yaml` to new and updated tickets, in the same transaction.
    var escalation: EscalationPlanner? = nil

    /// Retries of a gateway carry the same provider id; without one, the sender, time and
    /// text identify the message.
    private func externalID(of message: InboundMessage) -> String {
        message.externalID ?? "derived:" + protector.linkHash(
            "\(message.sender)|\(Int(message.receivedAt.timeIntervalSince1970))|\(message.text)")
    }

    private func language(of prepared: PreparedMessage) -> String {
        prepared.classification.language == "und" ? (prepared.message.languageHint ?? defaultLanguage) : prepared.classification.language
    }

    private func contactKind(of message: InboundMessage) -> String {
        message.kind == .email ? "email" : (message.sender.contains(where: \.isLetter) && !message.sender.hasPrefix("+") ? "other" : "phone")
    }

    /// Intake's common case, a new message that starts a new ticket, as one item of
    /// `escucha_intake_new_messages` (migration 0012): everything the database function
    /// writes, with the escalation rules already applied to the ticket about to exist.
    /// Only for a request that carried this one message (the function records the
    /// request's outcome); opt-out words must not come here.
    func newTicketItem(_ prepared: PreparedMessage, inboundID: Int64) throws -> NewTicketItem {
        let message = prepared.message
        let classification = prepared.classification
        let language = language(of: prepared)
        let flags = classification.flags.map(\.rawValue)
        let location = classification.places.first?.name ?? defaultLocation
        let now = Date()
        var severity = classification.severity ?? .low
        var restricted = classification.restricted
        var outcome: EscalationOutcome?
        var rulesDetails: JSON?
        if let escalation {
            let decided = escalation.evaluate(
                flags: classification.flags, severity: severity, type: classification.type, channelID: message.channelID,
                location: location, language: language, team: nil, restricted: restricted, now: now)
            severity = max(severity, decided.severity)
            restricted = restricted || decided.restricted
            outcome = decided
            rulesDetails = escalation.eventDetails(decided)
        }
        // 2^30 references: a clash is rare; the function takes the first free one, and
        // swaps it into the acknowledgement's text if it is not the first.
        let references = (0..<4).map { _ in TicketReference.random() }
        let addressHash = protector.linkHash(message.sender)
        let steps = outcome?.steps ?? []
        var item = JSONObjectText()
        item.add("inbound_id", inboundID)
        item.add("channel_id", message.channelID)
        item.add("message_kind", message.kind.rawValue)
        item.add("external_id", externalID(of: message))
        item.add("text", message.text)
        item.add("received_at", message.receivedAt)
        item.add("language", language)
        item.add("contact_kind", contactKind(of: message))
        item.add("address_enc", bytea: protector.encrypt(message.sender))
        item.add("address_hash", addressHash)
        item.add("masked", ContactAddress.mask(message.sender))
        item.add("typed_references", TicketReference.candidates(in: message.text))
        item.add("window_seconds", Int64(threadingWindow))
        item.add("candidate_references", references)
        item.add("type", classification.type)
        item.add("flags", flags)
        item.add("sectors", classification.sectors)
        item.add("severity", severity.rawValue)
        item.add("restricted", restricted)
        item.add("location", location)
        item.add("team", outcome?.team)
        item.add("assignee", outcome?.assignee)
        item.add("ack_due_at", outcome?.acknowledgeBy)
        item.add("resolve_due_at", outcome?.resolveBy)
        item.add("classifier", classification.classifierVersion)
        item.add("class_language", classification.language)
        item.add("class_flags", flags)
        item.add("class_severity", classification.severity?.rawValue)
        item.add("class_restricted", classification.restricted)
        item.add("places", json: Self.json(classification.places))
        item.add("evidence", json: Self.json(classification.evidence))
        // The function adds message_id.
        item.add("created_details", json: JSON(strings: ["channel": message.channelID, "flags": flags.joined(separator: ",")]))
        item.add("rules_at", now)
        item.add("rules_details", json: rulesDetails)
        item.add("step_rules", steps.map(\.rule))
        item.add("step_levels", steps.map(\.level))
        item.add("step_targets", steps.map(\.target.description))
        item.add("step_due_at", steps.map(\.dueAt))
        item.add("ack_payload", json: acknowledgement(language: language, reference: references[0], restricted: restricted))
        return NewTicketItem(json: item.json, addressHash: addressHash, flags: flags)
    }

    /// Writes new-ticket items in one statement outside any transaction (it commits by
    /// itself), in the order of their address hashes so that concurrent groups lock
    /// contacts in the same order. Returns the outcome of each item, in the order given.
    static func writeNewTickets(_ items: [NewTicketItem], connection: PGConnection) throws -> [NewTicketOutcome] {
        try writeGroupOrEachAlone(
            items, write: { (group) throws(StoreError) in try writeGroup(group, connection: connection) },
            refused: { .failed(sqlState: $0.sqlState?.rawValue ?? "?") })
    }

    private static func writeGroup(_ items: [NewTicketItem], connection: PGConnection) throws(StoreError) -> [NewTicketOutcome] {
        let order = items.indices.sorted { items[$0].addressHash < items[$1].addressHash }
        let array = JSON("[" + order.map { items[$0].json.text }.joined(separator: ",") + "]")
        let rows = try connection.queryPrepared(
            "SELECT * FROM escucha_intake_new_messages(\(array))", operation: "writing new messages and their tickets")
        var outcomes = [NewTicketOutcome?](repeating: nil, count: items.count)
        for row in rows {
            let position = try row.decode("item", as: Int.self)
            guard order.indices.contains(position - 1), outcomes[order[position - 1]] == nil else {
                throw StoreError(operation: "writing new messages and their tickets", message: "the database answered item \(position) of \(items.count) twice or out of range")
            }
            let original = order[position - 1]
            switch try row.decode("outcome", as: String.self) {
            case "created":
                outcomes[original] = .written(
                    WriteResult(
                        duplicate: false, messageID: try row.decode("message_id"), ticketID: try row.decode("ticket_id"),
                        reference: try row.decode("reference"), newTicket: true, flags: items[original].flags))
            case "failed":
                outcomes[original] = .failed(sqlState: try row.decode("error", as: String?.self) ?? "?")
            default:
                // A retry, or a message that threads into a ticket: the general path
                // answers it in a transaction of its own.
                outcomes[original] = .generalPath
            }
        }
        // An item the database did not answer for is written alone on the general path.
        return outcomes.map { $0 ?? .generalPath }
    }

    func write(_ prepared: PreparedMessage, inboundID: Int64, connection: PGConnection) throws -> WriteResult {
        let message = prepared.message
        let classification = prepared.classification
        let externalID = externalID(of: message)
        let language = language(of: prepared)
        // Round trips are what intake waits on: the message and its contact go in one
        // statement, everything after the ticket is known in one more, and the raw request is
        // linked to its message by the caller's final update of `inbound` (one row version
        // instead of two). The contact is only touched when the message is new, as before.
        let kind = contactKind(of: message)
        let inserted = try connection.queryPrepared(
            """
            WITH message AS (
                INSERT INTO messages (inbound_id, channel_id, kind, external_id, direction, text, received_at, language)
                VALUES (\(inboundID), \(message.channelID), \(message.kind.rawValue), \(externalID), 'in', \(message.text), \(message.receivedAt), \(language))
                ON CONFLICT (channel_id, external_id) DO NOTHING
                RETURNING id),
            contact AS (
                INSERT INTO contacts (kind, address_enc, address_hash, masked, language)
                SELECT \(kind), \(protector.encrypt(message.sender)), \(protector.linkHash(message.sender)), \(ContactAddress.mask(message.sender)), \(language)
                FROM message
                ON CONFLICT (address_hash) DO UPDATE SET last_seen_at = now(), language = EXCLUDED.language
                RETURNING id, opted_out_at)
            SELECT message.id, contact.id AS contact_id, contact.opted_out_at FROM message CROSS JOIN contact
            """, operation: "storing a message and its contact")
        guard let messageRow = inserted.first else {
            let existing = try connection.queryPrepared(
                "SELECT id, ticket_id FROM messages WHERE channel_id = \(message.channelID) AND external_id = \(externalID)",
                operation: "finding the original of a retried message")
            return WriteResult(
                duplicate: true, messageID: try existing.first?.decode("id", as: Int64.self),
                ticketID: try existing.first?.decode("ticket_id", as: Int64?.self) ?? nil, reference: nil, newTicket: false, flags: [])
        }
        let messageID = try messageRow.decode("id", as: Int64.self)
        let contactID = try messageRow.decode("contact_id", as: Int64.self)
        var optedOut = try messageRow.decode("opted_out_at", as: Date?.self) != nil

        if templates.isOptOut(message.text) {
            try connection.execute("UPDATE messages SET contact_id = \(contactID) WHERE id = \(messageID)", operation: "linking the message to its contact")
            if !optedOut {
                try connection.execute("UPDATE contacts SET opted_out_at = now() WHERE id = \(contactID)", operation: "recording an opt-out")
                try connection.execute(
                    "INSERT INTO contact_events (contact_id, action, channel_id, inbound_id) VALUES (\(contactID), 'opted_out', \(message.channelID), \(inboundID))",
                    operation: "recording an opt-out")
                let text = templates.language(language).optedOut
                try connection.execute(
                    outboxSMS(
                        ticketID: nil, channelID: message.channelID, sender: message.sender,
                        payload: Self.smsPayload(text: text, template: "opted_out", language: language), key: "optout:\(messageID)"),
                    operation: "queueing a message to the person")
                optedOut = true
            }
            return WriteResult(duplicate: false, messageID: messageID, ticketID: nil, reference: nil, newTicket: false, flags: [])
        }

        let flags = classification.flags.map(\.rawValue)
        let severity = classification.severity ?? .low
        let location = classification.places.first?.name ?? defaultLocation
        let thread = try findThread(connection, contactID: contactID, text: message.text)
        var ticketID = thread?.id
        var reference: String
        var ticketFlags = classification.flags
        var ticketSeverity = severity
        var ticketRestricted = classification.restricted
        // Our INSERT, or findThread's SELECT … FOR UPDATE, locks the ticket row: the state
        // read with it is what the escalation rules see.
        var state = EscalationPlanner.TicketState(team: nil, acknowledgedAt: nil, status: "new")
        let newTicket = ticketID == nil
        // A message joining a ticket changes it in one UPDATE together with the rules'
        // changes (one row version, one round of index entries and statement triggers).
        var threadingChanges: [SQL] = []
        if let thread {
            reference = thread.reference
            ticketFlags = Array(Set(thread.flags + classification.flags)).sorted()
            ticketSeverity = max(thread.severity, severity)
            ticketRestricted = thread.restricted || classification.restricted
            state = EscalationPlanner.TicketState(
                team: thread.team, acknowledgedAt: thread.acknowledgedAt, status: thread.status == "pending" ? "open" : thread.status)
            threadingChanges = [
                "flags = ARRAY(SELECT DISTINCT unnest(flags || \(flags)) ORDER BY 1)",
                "sectors = ARRAY(SELECT DISTINCT unnest(sectors || \(classification.sectors)) ORDER BY 1)",
                "location = coalesce(location, \(location))",
                "status = CASE WHEN status = 'pending' THEN 'open' ELSE status END",
            ]
        } else {
            (ticketID, reference) = try createTicket(
                connection, classification: classification, severity: severity, language: language, location: location,
                contactID: contactID, channelID: message.channelID)
        }
        let ticket = ticketID!
        let placesJSON = Self.json(classification.places)
        let evidenceJSON = Self.json(classification.evidence)
        let details = JSON(strings: ["message_id": String(messageID), "channel": message.channelID, "flags": flags.joined(separator: ",")])
        var tables: [SQL] = [
            "linked AS (UPDATE messages SET contact_id = \(contactID), ticket_id = \(ticket) WHERE id = \(messageID))",
            """
            classified AS (INSERT INTO classifications (message_id, ticket_id, classifier_version, type, flags, sectors, language, places, evidence, severity, restricted)
            VALUES (\(messageID), \(ticket), \(classification.classifierVersion), \(classification.type), \(flags), \(classification.sectors),
                    \(classification.language), \(placesJSON), \(evidenceJSON), \(classification.severity?.rawValue), \(classification.restricted)))
            """,
        ]
        // Both audit rows in one VALUES list, so they keep their order.
        var events: [SQL] = ["(\(ticket), DEFAULT, 'system', 'http', \(newTicket ? "created" : "message"), \(details))"]
        if let escalation {
            let plan = try escalation.statements(
                ticketID: ticket, flags: ticketFlags, severity: ticketSeverity, type: classification.type, channelID: message.channelID,
                location: location, language: language, restricted: ticketRestricted, now: Date(), current: state,
                alsoSet: threadingChanges)
            ticketRestricted = ticketRestricted || plan.outcome.restricted
            tables += plan.tables
            events.append(plan.event)
        } else if !threadingChanges.isEmpty {
            let changes = threadingChanges + [
                "severity = \(ticketSeverity.rawValue)", "restricted = \(ticketRestricted)", "updated_at = now()",
            ]
            tables.append("threaded AS (UPDATE tickets SET " + SQL.joined(changes, separator: ", ") + " WHERE id = \(ticket))")
        }
        tables.append(
            "audited AS (INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details) VALUES " + SQL.joined(events, separator: ", ") + ")")
        if newTicket && !optedOut {
            let queued = outboxSMS(
                ticketID: ticket, channelID: message.channelID, sender: message.sender,
                payload: acknowledgement(language: language, reference: reference, restricted: ticketRestricted), key: "ack:\(messageID)")
            tables.append("acknowledged AS (" + queued + ")")
        }
        try connection.queryPrepared(
            "WITH " + SQL.joined(tables, separator: ",\n") + "\nSELECT 1",
            operation: "recording the classification, audit, escalation and acknowledgement of the ticket")
        return WriteResult(duplicate: false, messageID: messageID, ticketID: ticket, reference: reference, newTicket: newTicket, flags: flags)
    }

    /// The ticket a message joins, locked, with what the rules need to know of it.
    private struct ThreadTicket {
        var id: Int64
        var reference: String
        var flags: [FlagCode]
        var severity: Severity
        var restricted: Bool
        var team: String?
        var acknowledgedAt: Date?
        var status: String
    }

    /// A ticket reference written in the text by the same person, else their open ticket
    /// that saw a message within the threading window; its row is locked until commit.
    private func findThread(_ connection: PGConnection, contactID: Int64, text: String) throws -> ThreadTicket? {
        let candidates = TicketReference.candidates(in: text)
        let windowSeconds = Int(threadingWindow)
        // One round trip: COALESCE only looks for the open ticket when no reference matched.
        // A statement of its own (not part of the contact upsert), so its snapshot includes a
        // ticket that a concurrent message of the same person committed while we waited;
        // FOR UPDATE returns the ticket's latest version if another transaction changed it.
        let rows = try connection.queryPrepared(
            """
            SELECT t.id, t.reference, t.flags, t.severity, t.restricted, t.team, t.acknowledged_at, t.status
            FROM tickets t
            WHERE t.id = COALESCE(
                (SELECT id FROM tickets WHERE reference = ANY(\(candidates)) AND contact_id = \(contactID) ORDER BY created_at DESC LIMIT 1),
                (SELECT o.id FROM tickets o
                 WHERE o.contact_id = \(contactID) AND o.status NOT IN ('resolved', 'closed')
                   AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = o.id
                               AND m.received_at > now() - make_interval(secs => \(windowSeconds)))
                 ORDER BY o.updated_at DESC LIMIT 1))
            FOR UPDATE OF t
            """, operation: "finding the sender's ticket")
        guard let row = rows.first else { return nil }
        let severity = try row.decode("severity", as: String.self)
        return ThreadTicket(
            id: try row.decode("id"), reference: try row.decode("reference"),
            flags: try row.decode("flags", as: [String].self).map { FlagCode($0) },
            severity: Severity(rawValue: severity) ?? .low, restricted: try row.decode("restricted"),
            team: try row.decode("team"), acknowledgedAt: try row.decode("acknowledged_at"), status: try row.decode("status"))
    }

    private func createTicket(
        _ connection: PGConnection, classification: Classification, severity: Severity, language: String, location: String?,
        contactID: Int64, channelID: String
    ) throws -> (Int64, String) {
        // 2^30 references: a clash is rare; the unique index catches it and we draw again.
        for _ in 0..<8 {
            let reference = TicketReference.random()
            let rows = try connection.queryPrepared(
                """
                INSERT INTO tickets (reference, status, type, flags, sectors, severity, restricted, language, location, contact_id, channel_id)
                VALUES (\(reference), 'new', \(classification.type), \(classification.flags.map(\.rawValue)), \(classification.sectors),
                        \(severity.rawValue), \(classification.restricted), \(language), \(location), \(contactID), \(channelID))
                ON CONFLICT (reference) DO NOTHING
                RETURNING id
                """, operation: "creating a ticket")
            if let row = rows.first { return (try row.decode("id", as: Int64.self), reference) }
        }
        throw StoreError(operation: "creating a ticket", message: "could not draw a free ticket reference")
    }

    /// Most messages name no place and raise no flag: their arrays need no encoder.
    /// The places of a classification as the `places` column holds them (the members
    /// `Place` encodes, written by hand: JSONEncoder cost more than the rest of the item).
    static func json(_ places: [Place]) -> JSON {
        JSON("[" + places.map { place in
            var object = JSONObjectText()
            object.add("name", place.name)
            object.add("country", place.country)
            if let admin1 = place.admin1 { object.add("admin1", admin1) }
            if let admin2 = place.admin2 { object.add("admin2", admin2) }
            object.add("kind", place.kind)
            object.add("aliases", place.aliases)
            return object.json.text
        }.joined(separator: ",") + "]")
    }

    /// The evidence of a classification as the `evidence` column holds it.
    static func json(_ evidence: [Evidence]) -> JSON {
        JSON("[" + evidence.map { item in
            var object = JSONObjectText()
            object.add("flag", item.flag.rawValue)
            object.add("start", Int64(item.start))
            object.add("end", Int64(item.end))
            object.add("text", item.text)
            object.add("entry", item.entry)
            object.add("language", item.language)
            return object.json.text
        }.joined(separator: ",") + "]")
    }

    /// The outbox payload of a message to the person.
    private static func smsPayload(text: String, template: String, language: String) -> JSON {
        JSON(strings: ["text": text, "template": template, "language": language])
    }

    /// A new ticket's acknowledgement in the person's language; restricted tickets get the
    /// neutral text that never repeats the topic.
    private func acknowledgement(language: String, reference: String, restricted: Bool) -> JSON {
        Self.smsPayload(
            text: templates.acknowledgement(language: language, reference: reference, restricted: restricted),
            template: restricted ? "acknowledgement_restricted" : "acknowledgement", language: language)
    }

    /// The outbox row of a message to the person, as an `INSERT` to run alone or inside intake's statement.
    private func outboxSMS(ticketID: Int64?, channelID: String, sender: String, payload: JSON, key: String) -> SQL {
        """
            INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key)
            VALUES (\(ticketID), 'sms', \(channelID), \(protector.encrypt(sender)), \(payload), \(key))
            ON CONFLICT (idempotency_key) DO NOTHING
            """
    }
}
