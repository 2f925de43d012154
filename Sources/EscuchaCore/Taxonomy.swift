import Foundation

/// How serious a ticket is. Ordered: `low < medium < high < critical`.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high, critical

    /// 0 for low … 3 for critical (`tickets.severity_rank`).
    public var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A flag code such as `protection.gbv`: `family.name`.
public struct FlagCode: RawRepresentable, Hashable, Sendable, Codable, Comparable,
    CustomStringConvertible, ExpressibleByStringLiteral
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    /// The family: the part before the first dot.
    public var family: String {
        rawValue.split(separator: ".", maxSplits: 1).first.map(String.init) ?? rawValue
    }
    public var description: String { rawValue }
    public static func < (lhs: FlagCode, rhs: FlagCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One flag of the taxonomy.
public struct FlagDefinition: Sendable, Equatable {
    public var code: FlagCode
    public var family: String
    public var summary: String
    public var severity: Severity
    public var restricted: Bool
    /// An optional place in a National Society's own coding framework
    /// (type → category → code), kept for exports.
    public var framework: String?
    /// The framework category the code belongs to, when the framework has one.
    public var category: String?
}

/// The classifier's contract: flags, feedback types and sectors, loaded from
/// `Config/taxonomy.yaml`.
public struct Taxonomy: Sendable, Equatable {
    public var flags: [FlagDefinition]
    public var types: [String]
    public var sectors: [String]
    /// The type used when nothing else fits.
    public var fallbackType: String

    public init(flags: [FlagDefinition], types: [String], sectors: [String], fallbackType: String) {
        self.flags = flags
        self.types = types
        self.sectors = sectors
        self.fallbackType = fallbackType
    }

    /// The definition of `code`, or `nil` when the taxonomy has no such flag.
    public func flag(_ code: FlagCode) -> FlagDefinition? {
        flags.first { $0.code == code }
    }

    /// The codes of critical severity, in taxonomy order: the model never vetoes these.
    public var criticalFlags: [FlagCode] {
        flags.filter { $0.severity == .critical }.map(\.code)
    }

    /// The families in taxonomy order.
    public var families: [String] {
        var seen: [String] = []
        for flag in flags where !seen.contains(flag.family) { seen.append(flag.family) }
        return seen
    }

    /// The highest default severity of `codes`, or `nil` when there are none.
    public func severity(of codes: some Sequence<FlagCode>) -> Severity? {
        codes.compactMap { flag($0)?.severity }.max()
    }

    /// Whether any of `codes` is restricted.
    public func isRestricted(_ codes: some Sequence<FlagCode>) -> Bool {
        codes.contains { flag($0)?.restricted == true }
    }
}
