import EscuchaCore
import Testing

@Suite struct EscalationReferralTests {
    @Test func aReferralGoesFromInProgressToAcceptedToDone() throws {
        var state = ReferralState()
        try state.move(to: .accepted)
        try state.move(to: .done)
        #expect(state.status == .done)
        #expect(state.status.isFinal)
    }

    @Test(arguments: [
        (ReferralStatus.inProgress, ReferralStatus.done), (.rejected, .accepted), (.done, .revoked), (.revoked, .inProgress),
    ])
    func stepsOutOfOrderAreRefused(from: ReferralStatus, to: ReferralStatus) {
        var state = ReferralState(status: from)
        #expect(throws: ReferralError.invalidTransition(from: from, to: to)) { try state.move(to: to, reason: "r") }
    }

    @Test func revokingNeedsAReason() throws {
        var state = ReferralState(status: .accepted)
        #expect(throws: ReferralError.reasonRequired) { try state.move(to: .revoked) }
        try state.move(to: .revoked, reason: "the person withdrew consent")
        #expect(state.status == .revoked)
    }

    @Test func onlyClearedProtectionRolesMayOverrideConsent() throws {
        let override = ReferralConsent.overridden(reason: "unaccompanied child in danger")
        try ReferralState.authorise(consent: override, roles: [.protectionFocalPoint], clearance: true, officer: "p")
        #expect(throws: ReferralError.overrideNotAllowed(officer: "h")) {
            try ReferralState.authorise(consent: override, roles: [.handler], clearance: true, officer: "h")
        }
        #expect(throws: ReferralError.overrideNotAllowed(officer: "c")) {
            try ReferralState.authorise(consent: override, roles: [.coordinator], clearance: false, officer: "c")
        }
        #expect(throws: ReferralError.reasonRequired) {
            try ReferralState.authorise(consent: .overridden(reason: " "), roles: [.admin], clearance: true, officer: "a")
        }
        try ReferralState.authorise(consent: .given, roles: [.handler], clearance: false, officer: "h")
    }
}
