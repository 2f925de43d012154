import Foundation

/// Where a ticket is referred: the kind of service another organisation provides.
public enum ReferralService: String, Sendable, Hashable, CaseIterable {
    /// Health care.
    case health
    /// Legal aid, documentation, asylum.
    case legalAid = "legal_aid"
    /// Child protection services.
    case childProtection = "child_protection"
    /// Restoring family links.
    case familyLinks = "family_links"
    /// GBV case management.
    case gbv
    /// Mental health and psychosocial support.
    case mentalHealth = "mental_health"
    /// Shelter.
    case shelter
    /// Anything else (say which in the organisation's name).
    case other
}

/// Where a referral stands.
public enum ReferralStatus: String, Sendable, Hashable, CaseIterable {
    /// Sent; the receiving organisation has not answered.
    case inProgress = "in_progress"
    /// The organisation took the case.
    case accepted
    /// The organisation declined it.
    case rejected
    /// The service was provided.
    case done
    /// Withdrawn: the person withdrew consent, or it was made in error.
    case revoked

    /// Whether nothing more can happen.
    public var isFinal: Bool { self == .rejected || self == .done || self == .revoked }
}

/// How the person agreed to be referred.
public enum ReferralConsent: Sendable, Hashable {
    /// The person agreed (recorded by the officer who asked).
    case given
    /// No consent, overridden by a cleared role for the person's safety (a child at risk,
    /// a life in danger), with the reason. Audited.
    case overridden(reason: String)
}

/// Why a referral step was refused. `description` holds no personal data.
public enum ReferralError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step is not allowed from the current status.
    case invalidTransition(from: ReferralStatus, to: ReferralStatus)
    /// An override of consent needs a cleared role.
    case overrideNotAllowed(officer: String)
    /// An override or a revocation needs a reason.
    case reasonRequired

    public var description: String {
        switch self {
        case .invalidTransition(let from, let to):
            "a referral that is \(from.rawValue) cannot become \(to.rawValue); allowed: in_progress → accepted/rejected/revoked, accepted → done/revoked"
        case .overrideNotAllowed(let officer):
            "officer '\(officer)' may not refer without consent: only cleared protection or PSEA focal points, coordinators and admins may override"
        case .reasonRequired:
            "say why (--reason): overrides and revocations are audited"
        }
    }
}

/// The referral state machine: pure, time passed in by the caller.
public struct ReferralState: Sendable, Hashable {
    /// The status.
    public private(set) var status: ReferralStatus

    /// A referral in `status`.
    /// - Parameter status: the current status (new referrals are in progress).
    public init(status: ReferralStatus = .inProgress) { self.status = status }

    /// Roles that may refer without consent, with clearance.
    public static let overrideRoles: Set<OfficerRole> = [.protectionFocalPoint, .pseaFocalPoint, .coordinator, .admin]

    /// Checks that an officer may make a referral with this consent.
    /// - Parameters:
    ///   - consent: the person's consent or an override.
    ///   - roles: the officer's roles.
    ///   - clearance: the officer's clearance.
    ///   - officer: the login, for the error.
    public static func authorise(consent: ReferralConsent, roles: Set<OfficerRole>, clearance: Bool, officer: String) throws(ReferralError) {
        guard case .overridden(let reason) = consent else { return }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw .reasonRequired }
        guard clearance, !roles.isDisjoint(with: overrideRoles) else { throw .overrideNotAllowed(officer: officer) }
    }

    /// Moves to `next`.
    /// - Parameters:
    ///   - next: the new status.
    ///   - reason: required to revoke.
    public mutating func move(to next: ReferralStatus, reason: String? = nil) throws(ReferralError) {
        let allowed: Set<ReferralStatus> =
            switch status {
            case .inProgress: [.accepted, .rejected, .revoked]
            case .accepted: [.done, .revoked]
            case .rejected, .done, .revoked: []
            }
        guard allowed.contains(next) else { throw .invalidTransition(from: status, to: next) }
        if next == .revoked && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty { throw .reasonRequired }
        status = next
    }
}
