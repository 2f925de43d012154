import EscuchaCore
import Foundation

/// The console's words in one language, from `Config/console/<lang>.yaml` (a flat map of
/// keys to texts; `{name}` placeholders are filled by `format`).
public struct ConsoleStrings: Sendable {
    public let language: String
    let texts: [String: String]
    let fallback: [String: String]

    /// The texts of `language`, falling back to English for keys it lacks.
    public static func load(directory: String, language: String) throws(ConfigError) -> ConsoleStrings {
        let english = try read(directory + "/en.yaml")
        let chosen = language == "en" ? english : try read(directory + "/\(language).yaml")
        return ConsoleStrings(language: language, texts: chosen, fallback: english)
    }

    static func read(_ path: String) throws(ConfigError) -> [String: String] {
        let root = try ConfigNode.load(path: path)
        var texts: [String: String] = [:]
        for entry in root.entries {
            guard let text = entry.value.string else { throw entry.value.error("'\(entry.key)' must be a text") }
            texts[entry.key] = text
        }
        return texts
    }

    /// The keys of a language file, for checks.
    public var keys: Set<String> { Set(texts.keys) }

    public subscript(_ key: String) -> String { texts[key] ?? fallback[key] ?? key }

    /// The text of `key` with `{name}` replaced by the values.
    public func format(_ key: String, _ values: [String: String]) -> String {
        var text = self[key]
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// The interface language: `--lang` when given, else Spanish when LANG/LC_ALL/LC_MESSAGES
    /// asks for it, else English.
    public static func interfaceLanguage(option: String?, environment: [String: String]) -> String {
        if let option { return option.lowercased().hasPrefix("es") ? "es" : "en" }
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let value = environment[name], !value.isEmpty { return value.lowercased().hasPrefix("es") ? "es" : "en" }
        }
        return "en"
    }
}
