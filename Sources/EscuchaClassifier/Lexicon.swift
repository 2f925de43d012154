import EscuchaCore
import Foundation

/// One language's lexicon as written in `Config/lexicon/<lang>.yaml`.
public struct LexiconFile: Sendable {
    /// The ISO 639-1 code, e.g. `es`, `ht`.
    public var language: String
    /// The file it came from, for errors.
    public var file: String
    public var negation: Negation
    public var abbreviations: [(from: String, to: String, line: Int?)]
    /// Frequent words that identify the language.
    public var functionWords: [String]
    public var flagEntries: [FlagEntry]
    public var exclusions: [Exclusion]
    public var typeCues: [(type: String, weight: Int, patterns: [String], line: Int?)]
    public var sectorCues: [(sector: String, patterns: [String], line: Int?)]

    /// Negation cues and how far they reach.
    public struct Negation: Sendable {
        public var cues: [String]
        /// How many tokens before a match a cue may stand.
        public var scope: Int
        /// Phrases that begin with a cue but deny nothing that follows them: "no aguanto
        /// más, quiero matarme" is despair, not a negated wish.
        public var notNegating: [String] = []
    }

    /// One way a flag is recognised.
    public struct FlagEntry: Sendable {
        /// `lang:flag#n`, shown as evidence.
        public var id: String
        public var flag: FlagCode
        /// One slot for a term or phrase entry; two for a proximity entry.
        public var slots: [[String]]
        /// For proximity entries: the most tokens between the two matches.
        public var within: Int
        /// Whether a negation cue before the match cancels it.
        public var negatable: Bool
        /// Texts this entry must match (checked by `escucha lexicon check`).
        public var examples: [String]
        public var line: Int?
    }

    /// A pattern that cancels flags: an idiom ("me muero de risa") or a context
    /// ("¿dónde puedo denunciar…?").
    public struct Exclusion: Sendable {
        public var id: String
        public var patterns: [String]
        /// Flags it cancels; empty means all.
        public var flags: [FlagCode]
        /// Which matches it cancels (see ``Scope``).
        public var scope: Scope
        public var line: Int?

        /// `overlap`: the flags whose evidence overlaps the exclusion; `sentence`: every match
        /// in its sentence; `next_sentence`: its sentence and the next one, for a hypothetical
        /// question whose topic follows its question mark ("¿qué pasa si me niegan el asilo?
        /// ¿me deportan?").
        public enum Scope: String, Sendable { case overlap, sentence, nextSentence = "next_sentence" }
    }
}

extension LexiconFile {
    /// Parses a lexicon file.
    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> LexiconFile {
        let root = try ConfigNode.parse(yaml, file: file)
        guard root.isMapping else { throw root.error("a lexicon must be a mapping with language, flags, …") }
        let language = try root.requireString("language")
        var lexicon = LexiconFile(
            language: language, file: file, negation: Negation(cues: [], scope: 3), abbreviations: [],
            functionWords: root.strings("function_words"), flagEntries: [], exclusions: [], typeCues: [], sectorCues: [])
        if let negation = root["negation"] {
            lexicon.negation = Negation(
                cues: negation.strings("cues"), scope: negation["scope"]?.int ?? 3, notNegating: negation.strings("not_negating"))
        }
        for entry in root["abbreviations"]?.entries ?? [] {
            guard let to = entry.value.string else { throw entry.value.error("abbreviation '\(entry.key)' must map to a word") }
            lexicon.abbreviations.append((entry.key, to, entry.keyNode.line))
        }
        for flagEntry in root["flags"]?.entries ?? [] {
            let code = FlagCode(flagEntry.key)
            for (index, item) in flagEntry.value.items.enumerated() {
                guard item.isMapping else {
                    throw item.error("each entry of '\(flagEntry.key)' must be a mapping with `terms:` or `near:`")
                }
                var slots: [[String]] = []
                if let terms = item["terms"] {
                    slots = [terms.items.compactMap(\.string)]
                } else if let near = item["near"] {
                    slots = near.items.map { $0.items.compactMap(\.string) }
                    guard slots.count == 2, slots.allSatisfy({ !$0.isEmpty }) else {
                        throw near.error("`near:` takes two lists of terms, e.g. near: [[esposo, pareja], [pega*, golpe*]]")
                    }
                } else {
                    throw item.error("entry needs `terms:` (words or phrases) or `near:` (two lists)")
                }
                guard !slots.flatMap({ $0 }).isEmpty else { throw item.error("entry has no terms") }
                lexicon.flagEntries.append(FlagEntry(
                    id: "\(language):\(code.rawValue)#\(index + 1)", flag: code, slots: slots,
                    within: item["within"]?.int ?? 4, negatable: item["negatable"]?.bool ?? true,
                    examples: item.strings("examples"), line: item.line))
            }
        }
        for (index, item) in (root["exclusions"]?.items ?? []).enumerated() {
            let patterns = item.isMapping ? item.strings("terms") : [item.string ?? ""]
            guard !patterns.isEmpty, !patterns.contains("") else { throw item.error("an exclusion needs `terms:`") }
            let scopeText = item["scope"]?.string ?? "overlap"
            guard let scope = Exclusion.Scope(rawValue: scopeText) else {
                throw item.error("exclusion scope '\(scopeText)' is unknown: use overlap, sentence or next_sentence")
            }
            lexicon.exclusions.append(Exclusion(
                id: "\(language):exclusion#\(index + 1)", patterns: patterns, flags: item.strings("flags").map { FlagCode($0) },
                scope: scope, line: item.line))
        }
        for entry in root["types"]?.entries ?? [] {
            if entry.value.isMapping {
                lexicon.typeCues.append((entry.key, entry.value["weight"]?.int ?? 1, entry.value.strings("terms"), entry.value.line))
            } else {
                lexicon.typeCues.append((entry.key, 1, entry.value.items.compactMap(\.string), entry.value.line))
            }
        }
        for entry in root["sectors"]?.entries ?? [] {
            lexicon.sectorCues.append((entry.key, entry.value.items.compactMap(\.string), entry.value.line))
        }
        return lexicon
    }
}

/// A place of the gazetteer (`Config/places.yaml`).
public struct Place: Sendable, Equatable, Codable {
    /// The usual name.
    public var name: String
    /// ISO 3166-1 alpha-2 country code.
    public var country: String
    /// Admin code (ISO 3166-2 or the national code), e.g. `CO-NSA`.
    public var admin1: String?
    /// Second-level admin name or code, when known.
    public var admin2: String?
    /// city, border_crossing, shelter, region, route …
    public var kind: String
    /// Other spellings and names.
    public var aliases: [String]

    /// Creates a place.
    public init(name: String, country: String, admin1: String?, admin2: String?, kind: String, aliases: [String]) {
        self.name = name
        self.country = country
        self.admin1 = admin1
        self.admin2 = admin2
        self.kind = kind
        self.aliases = aliases
    }
}

extension Place {
    /// Parses the gazetteer.
    public static func parseGazetteer(_ yaml: String, file: String) throws(ConfigError) -> [Place] {
        let root = try ConfigNode.parse(yaml, file: file)
        var places: [Place] = []
        for item in root["places"]?.items ?? [] {
            let name = try item.requireString("name")
            let country = try item.requireString("country")
            places.append(Place(
                name: name, country: country, admin1: item["admin1"]?.string, admin2: item["admin2"]?.string,
                kind: item["kind"]?.string ?? "city", aliases: item.strings("aliases")))
        }
        return places
    }
}

/// How flags imply sectors (`Config/lexicon/common.yaml`: `flag_sectors:`).
struct CommonRules: Sendable {
    var flagSectors: [(pattern: String, sectors: [String])] = []
    /// Flag → flags it overrides where their evidence overlaps (partner violence is
    /// `protection.gbv` only, not also `protection.violence`).
    var precedence: [FlagCode: [FlagCode]] = [:]
    /// Words after which a negation cue opens a condition instead ("si no pagas…").
    var conditionalWords: Set<String> = []
    /// Who speaks in a transcript written as turns ("Agent: … Caller: …").
    var speakerLabels = SpeakerLabels()
    /// Flags the model does not raise in a message where a negation cancelled a lexicon
    /// match of theirs ("no me quiero matar, solo estoy cansado").
    var negationBindsModel: Set<FlagCode> = []
    /// Types that quiet a message: where the model's probability for one reaches its value,
    /// the message keeps only the critical flags the lexicons found (thanks are not reports).
    var quietTypes: [(type: String, probability: Double)] = []

    static func parse(_ yaml: String, file: String) throws(ConfigError) -> CommonRules {
        let root = try ConfigNode.parse(yaml, file: file)
        var rules = CommonRules()
        for entry in root["flag_sectors"]?.entries ?? [] {
            rules.flagSectors.append((entry.key, entry.value.items.compactMap(\.string)))
        }
        rules.conditionalWords = Set(root.strings("conditional_words").map { Classifier.foldWord($0) })
        if let labels = root["speaker_labels"] {
            rules.speakerLabels = SpeakerLabels(
                agent: labels.strings("agent"), caller: labels.strings("caller"),
                agentVerbs: labels.strings("agent_verbs"), fillers: labels.strings("fillers"))
        }
        for entry in root["precedence"]?.entries ?? [] {
            rules.precedence[FlagCode(entry.key)] = entry.value.items.compactMap(\.string).map { FlagCode($0) }
        }
        rules.negationBindsModel = Set(root.strings("negation_binds_model").map { FlagCode($0) })
        if let quiet = root["quiet_types"], !quiet.isMapping {
            throw ConfigError(file: file, line: quiet.line, message: "quiet_types must map types to probabilities, e.g. `quiet_types: {praise: 0.3}`")
        }
        for entry in root["quiet_types"]?.entries ?? [] {
            guard let probability = entry.value.string.flatMap(Double.init), probability > 0, probability <= 1 else {
                throw ConfigError(
                    file: file, line: entry.keyNode.line,
                    message: "quiet_types: '\(entry.key)' needs a probability above 0 and at most 1, e.g. `\(entry.key): 0.3`")
            }
            rules.quietTypes.append((entry.key, probability))
        }
        return rules
    }

    func sectors(for flag: FlagCode) -> [String] {
        var out: [String] = []
        for rule in flagSectors {
            let matches = rule.pattern.hasSuffix(".*")
                ? flag.family == String(rule.pattern.dropLast(2)) : flag.rawValue == rule.pattern
            if matches { out += rule.sectors }
        }
        return out
    }
}
