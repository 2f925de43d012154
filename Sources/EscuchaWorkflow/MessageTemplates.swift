import EscuchaCore
import Foundation

/// The automatic messages sent to people, per language (`Config/messages/<lang>.yaml`).
public struct MessageTemplates: Sendable {
    /// One language's texts.
    public struct Language: Sendable, Equatable {
        public var code: String
        public var acknowledgement: String
        /// Sent for restricted tickets: it never repeats what the person reported, since
        /// their phone may be read by the person who harms them.
        public var acknowledgementRestricted: String
        public var optedOut: String
        public var resolution: String
        public var optOutWords: [String]
        /// Ready-made replies officers start from (`replies:` name → text), in file order.
        public var replies: [(name: String, text: String)] = []
        public var file: String

        public static func == (lhs: Language, rhs: Language) -> Bool {
            lhs.code == rhs.code && lhs.acknowledgement == rhs.acknowledgement
                && lhs.acknowledgementRestricted == rhs.acknowledgementRestricted && lhs.optedOut == rhs.optedOut
                && lhs.resolution == rhs.resolution && lhs.optOutWords == rhs.optOutWords && lhs.file == rhs.file
                && lhs.replies.map(\.name) == rhs.replies.map(\.name) && lhs.replies.map(\.text) == rhs.replies.map(\.text)
        }
    }

    public var languages: [String: Language] {
        didSet { longestOptOutWord = Self.longestOptOutWord(in: languages) }
    }
    /// The language used when the person's is not available.
    public var fallback: String
    /// In Unicode scalars: longer texts are not opt-outs.
    private var longestOptOutWord: Int

    public init(languages: [String: Language], fallback: String) {
        self.languages = languages
        self.fallback = fallback
        longestOptOutWord = Self.longestOptOutWord(in: languages)
    }

    private static func longestOptOutWord(in languages: [String: Language]) -> Int {
        languages.values.flatMap(\.optOutWords).map(\.unicodeScalars.count).max() ?? 0
    }

    private static let marks: Set<Unicode.GeneralCategory> = [.nonspacingMark, .spacingMark, .enclosingMark]
    private static let wordEdges = CharacterSet.whitespacesAndNewlines.union(.punctuationCharacters)

    /// Loads every `*.yaml` of `directory`.
    public static func load(directory: String, fallback: String = "es") throws(ConfigError) -> MessageTemplates {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            throw ConfigError(file: directory, line: nil, message: "cannot list the message templates folder; check Config/messages")
        }
        var languages: [String: Language] = [:]
        for name in names {
            let path = directory + "/" + name
            let root = try ConfigNode.load(path: path)
            let code = try root.requireString("language")
            var language = Language(
                code: code, acknowledgement: try root.requireString("acknowledgement"),
                acknowledgementRestricted: try root.requireString("acknowledgement_restricted"),
                optedOut: try root.requireString("opted_out"), resolution: try root.requireString("resolution"),
                optOutWords: root.strings("opt_out_words"), file: path)
            if let replies = root["replies"] {
                for entry in replies.entries {
                    guard let text = entry.value.string else { throw entry.value.error("reply '\(entry.key)' must be a text") }
                    language.replies.append((entry.key, text))
                }
            }
            for (key, text) in [("acknowledgement", language.acknowledgement), ("acknowledgement_restricted", language.acknowledgementRestricted), ("resolution", language.resolution)]
            where !text.contains("{reference}") {
                throw (root[key] ?? root).error("'\(key)' must contain {reference} so the person can quote their case")
            }
            languages[code] = language
        }
        guard languages[fallback] != nil else {
            throw ConfigError(file: directory, line: nil, message: "no templates for the fallback language '\(fallback)': add \(fallback).yaml")
        }
        return MessageTemplates(languages: languages, fallback: fallback)
    }

    /// The templates for `language`, else the fallback.
    public func language(_ code: String?) -> Language {
        if let code, let language = languages[code] { return language }
        return languages[fallback]!
    }

    /// The acknowledgement for a new ticket.
    public func acknowledgement(language code: String?, reference: String, restricted: Bool) -> String {
        let language = language(code)
        let template = restricted ? language.acknowledgementRestricted : language.acknowledgement
        return Self.filling(template, reference: reference)
    }

    private static let placeholder = Array("{reference}".utf8)

    /// `template` with every `{reference}` replaced by `reference`. A byte scan: the
    /// generic `replacing` cost more than the rest of an acknowledgement.
    public static func filling(_ template: String, reference: String) -> String {
        let bytes = Array(template.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + reference.utf8.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == placeholder[0], index + placeholder.count <= bytes.count,
               bytes[index..<(index + placeholder.count)].elementsEqual(placeholder) {
                out += reference.utf8
                index += placeholder.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is only an opt-out word (STOP, BAJA, …) of any language.
    public func isOptOut(_ text: String) -> Bool {
        // Most messages are sentences: a bound on the length between the first and last
        // letters settles them without folding the whole text.
        let edges = Self.wordEdges
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !edges.contains($0) }),
            let last = scalars.lastIndex(where: { !edges.contains($0) })
        else { return false }
        let longest = longestOptOutWord
        // Folding removes combining marks, however many a letter carries: count the rest.
        var letters = 0
        for scalar in scalars[first...last] where scalar.isASCII || !Self.marks.contains(scalar.properties.generalCategory) {
            letters += 1
            if letters > 2 * longest { return false }
        }
        let word = text.trimmingCharacters(in: edges)
            .folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).uppercased()
        guard !word.isEmpty, !word.contains(" ") else { return false }
        return languages.values.contains { $0.optOutWords.contains { $0.uppercased() == word } }
    }
}
