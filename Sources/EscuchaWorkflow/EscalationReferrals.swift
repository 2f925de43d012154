public import EscuchaCore
public import EscuchaStore
public import Foundation

/// Referrals of tickets to other organisations, each step audited in `ticket_events`.
public enum EscalationReferrals {
    /// Refers a ticket. With `.overridden` consent the officer must hold clearance and a role
    /// of ``ReferralState/overrideRoles``.
    /// - Parameters:
    ///   - ticketID: the ticket.
    ///   - organisation: who receives it.
    ///   - service: the kind of service.
    ///   - consent: the person's consent, or an override with its reason.
    ///   - officer: the login of the officer referring.
    ///   - interface: `console`, `cli`, `http`.
    ///   - now: the time.
    ///   - connection: a connection in a transaction.
    /// - Returns: the referral id.
    @discardableResult
    public static func refer(
        ticketID: Int64, organisation: String, service: ReferralService, consent: ReferralConsent, officer: String,
        interface: String, now: Date, on connection: PGConnection
    ) throws -> Int64 {
        let (officerID, roles, clearance) = try officerRecord(officer, on: connection)
        try ReferralState.authorise(consent: consent, roles: roles, clearance: clearance, officer: officer)
        let (consentText, reason): (String, String?) =
            switch consent {
            case .given: ("given", nil)
            case .overridden(let reason): ("overridden", reason)
            }
        let rows = try connection.query(
            """
            INSERT INTO referrals (ticket_id, organisation, service, consent, override_reason, created_by, created_at, updated_at)
            VALUES (\(ticketID), \(organisation), \(service.rawValue), \(consentText), \(reason), \(officerID), \(now), \(now))
            RETURNING id
            """, operation: "recording a referral")
        let id: Int64 = try rows[0].decode("id")
        try audit(
            ticketID: ticketID, officer: officer, interface: interface, now: now,
            details: ReferralEvent(referral: id, from: nil, to: ReferralStatus.inProgress.rawValue, organisation: organisation, service: service.rawValue, consent: consentText, reason: reason),
            on: connection)
        return id
    }

    /// Moves a referral to `status` (accepted, rejected, done, revoked).
    /// - Parameters:
    ///   - referralID: the referral.
    ///   - status: the new status.
    ///   - reason: required to revoke.
    ///   - officer: the login of the officer recording it.
    ///   - interface: `console`, `cli`, `http`.
    ///   - now: the time.
    ///   - connection: a connection in a transaction.
    public static func move(
        referralID: Int64, to status: ReferralStatus, reason: String? = nil, officer: String, interface: String, now: Date,
        on connection: PGConnection
    ) throws {
        _ = try officerRecord(officer, on: connection)
        let rows = try connection.query(
            "SELECT ticket_id, status, organisation, service FROM referrals WHERE id = \(referralID) FOR UPDATE",
            operation: "reading the referral")
        guard let row = rows.first else { throw EscalationError.referralNotFound(referralID) }
        let current: String = try row.decode("status")
        var state = ReferralState(status: ReferralStatus(rawValue: current) ?? .inProgress)
        try state.move(to: status, reason: reason)
        try connection.execute(
            "UPDATE referrals SET status = \(status.rawValue), updated_at = \(now) WHERE id = \(referralID)",
            operation: "updating the referral")
        try audit(
            ticketID: try row.decode("ticket_id"), officer: officer, interface: interface, now: now,
            details: ReferralEvent(
                referral: referralID, from: current, to: status.rawValue, organisation: try row.decode("organisation"),
                service: try row.decode("service"), consent: nil, reason: reason),
            on: connection)
    }

    private static func officerRecord(_ login: String, on connection: PGConnection) throws -> (Int64, Set<OfficerRole>, Bool) {
        let rows = try connection.query(
            "SELECT id, roles, clearance FROM officers WHERE login = \(login) AND active", operation: "finding the officer")
        guard let row = rows.first else { throw EscalationError.officerNotFound(login) }
        let roles: [String] = try row.decode("roles")
        return (try row.decode("id"), Set(roles.compactMap(OfficerRole.init(rawValue:))), try row.decode("clearance"))
    }

    private static func audit(ticketID: Int64, officer: String, interface: String, now: Date, details: ReferralEvent, on connection: PGConnection) throws {
        let json = try JSON(encoding: details)
        try connection.execute(
            """
            INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
            VALUES (\(ticketID), \(now), \(officer), \(interface), 'referral', \(json))
            """, operation: "recording the referral step")
    }

    private struct ReferralEvent: Encodable {
        var referral: Int64
        var from: String?
        var to: String
        var organisation: String
        var service: String
        var consent: String?
        var reason: String?
    }
}
