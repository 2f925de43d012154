import EscuchaCore

/// Why a flag was raised: the words the person wrote and the lexicon entry they matched.
public struct Evidence: Sendable, Equatable, Codable {
    public var flag: FlagCode
    /// UTF-16 offsets into the original text, `[start, end)`.
    public var start: Int
    public var end: Int
    /// The original words. Personal data: never log it.
    public var text: String
    /// The lexicon entry, e.g. `es:protection.gbv#2`.
    public var entry: String
    /// The language of the lexicon entry.
    public var language: String
}

/// What the classifier found in one message.
public struct Classification: Sendable, Equatable, Codable {
    /// Flags, sorted by code.
    public var flags: [FlagCode]
    public var evidence: [Evidence]
    /// Exactly one feedback type.
    public var type: String
    public var sectors: [String]
    /// The main language (ISO 639-1), or `und` when nothing tells.
    public var language: String
    /// Every language with clear evidence, main first (code-switching).
    public var languages: [String]
    /// The main script (ISO 15924).
    public var script: String
    public var places: [Place]
    /// The highest default severity of the flags; `nil` without flags.
    public var severity: Severity?
    public var restricted: Bool
    /// Identifies the classifier code and lexicon that produced this result.
    public var classifierVersion: String
}
