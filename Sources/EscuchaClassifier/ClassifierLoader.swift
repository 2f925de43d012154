import EscuchaCore
import Foundation

extension Classifier {
    /// Loads and compiles the classifier from a configuration folder holding
    /// `taxonomy.yaml`, `places.yaml` and `lexicon/*.yaml` (`lexicon/common.yaml` holds the
    /// rules shared by all languages).
    /// `model/risk.json` is loaded too when it exists.
    /// - Parameters:
    ///   - configDirectory: usually `Config`.
    ///   - riskModel: false to leave the model out: training a new one must not depend on
    ///     the old file being readable.
    public static func load(configDirectory: String, riskModel loadModel: Bool = true) throws(ConfigError) -> Classifier {
        let base = URL(fileURLWithPath: configDirectory)
        let taxonomyPath = base.appendingPathComponent("taxonomy.yaml").path
        let taxonomyText = try read(taxonomyPath)
        let taxonomy = try Taxonomy.parse(taxonomyText, file: taxonomyPath)
        let lexiconDirectory = base.appendingPathComponent("lexicon")
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: lexiconDirectory.path)
                .filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            throw ConfigError(file: lexiconDirectory.path, line: nil, message: "cannot list the lexicon folder; run escucha from the project folder or pass --config-dir")
        }
        var seed = taxonomyText
        var lexicons: [LexiconFile] = []
        var commonText = ""
        for name in names {
            let path = lexiconDirectory.appendingPathComponent(name).path
            let text = try read(path)
            seed += "\n#\(name)\n" + text
            if name == "common.yaml" {
                commonText = text
            } else {
                lexicons.append(try LexiconFile.parse(text, file: path))
            }
        }
        let placesPath = base.appendingPathComponent("places.yaml").path
        var places: [Place] = []
        if FileManager.default.fileExists(atPath: placesPath) {
            let text = try read(placesPath)
            seed += "\n#places\n" + text
            places = try Place.parseGazetteer(text, file: placesPath)
        }
        let modelPath = base.appendingPathComponent("model/risk.json").path
        let oldModelPath = base.appendingPathComponent("model/critical.json").path
        if loadModel, !FileManager.default.fileExists(atPath: modelPath), FileManager.default.fileExists(atPath: oldModelPath) {
            // Before stop 14 the model had this name; ignoring it would silently drop a
            // National Society's own trained model.
            throw ConfigError(
                file: oldModelPath, line: nil,
                message: "the model is now read from model/risk.json: rename this file to risk.json, or run `escucha model train` again")
        }
        var model: RiskModel?
        if loadModel, FileManager.default.fileExists(atPath: modelPath) {
            let text = try read(modelPath)
            seed += "\n#model\n" + text
            model = try RiskModel.parse(text, file: modelPath, taxonomy: taxonomy)
        }
        let classifier = try Classifier(
            taxonomy: taxonomy, lexicons: lexicons, places: places, commonYAML: commonText,
            commonFile: lexiconDirectory.appendingPathComponent("common.yaml").path, versionSeed: seed, riskModel: model)
        if let model, model.wordsFingerprint != classifier.modelWordsFingerprint {
            // The model would read other words than it learnt from, and score them silently wrong.
            throw ConfigError(
                file: modelPath, line: nil,
                message: "the lexicons' abbreviations or speaker labels changed since the model was trained; run `escucha model train` again")
        }
        return classifier
    }

    private static func read(_ path: String) throws(ConfigError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read the file; check that it exists and is UTF-8")
        }
    }
}

/// A problem `escucha lexicon check` found.
public struct LexiconIssue: Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String {
        "\(file):\(line.map(String.init) ?? "?"): \(severity.rawValue): \(message)"
    }
}

extension Classifier {
    /// The word patterns of `text`, folded like messages.
    func wordPatterns(_ text: String) -> [Automaton.WordPattern] {
        var buffer = TokenBuffer()
        return Self.wordPatterns(text, tokenizer: tokenizer, buffer: &buffer)
    }

    /// The languages whose function word `word` (folded) is, or nil.
    func functionWordLanguages(_ word: String) -> [String]? {
        let index = tokenizer.words.find(word)
        guard index >= 0, !wordLanguages.isEmpty(Int(index)) else { return nil }
        return wordLanguages[Int(index)].map { languageNames[Int($0)] }
    }

    /// Checks the lexicons: duplicate patterns within a flag, entries whose own examples do
    /// not raise their flag, and patterns an exclusion shadows. (Unknown codes are already
    /// refused when loading.)
    public func checkLexicons() -> [LexiconIssue] {
        var issues: [LexiconIssue] = []
        for lexicon in lexicons {
            var seenPatterns: [String: Int?] = [:]
            for entry in lexicon.flagEntries {
                for slot in entry.slots where entry.slots.count == 1 {
                    for pattern in slot {
                        let key = entry.flag.rawValue + "|" + wordPatterns(pattern).map { $0.text + ($0.isPrefix ? "*" : "") }.joined(separator: " ")
                        if let first = seenPatterns[key] {
                            issues.append(LexiconIssue(severity: .warning, file: lexicon.file, line: entry.line, message: "'\(pattern)' for \(entry.flag) duplicates the entry at line \(first.map(String.init) ?? "?")"))
                        } else {
                            seenPatterns[key] = entry.line
                        }
                        // An exclusion that matches the pattern itself shadows it.
                        let result = classifyWithLexiconsOnly(pattern, languageHint: lexicon.language)
                        if !result.flags.contains(entry.flag), entry.slots.count == 1 {
                            let shadowed = exclusions.contains { exclusion in
                                (exclusion.flags.isEmpty || exclusion.flags.contains(entry.flag))
                                    && exclusion.patterns.contains { wordPatterns($0).count <= wordPatterns(pattern).count && pattern.lowercased().contains($0.lowercased().replacingOccurrences(of: "*", with: "")) }
                            }
                            if shadowed {
                                issues.append(LexiconIssue(severity: .warning, file: lexicon.file, line: entry.line, message: "'\(pattern)' for \(entry.flag) is shadowed by an exclusion and never fires on its own"))
                            }
                        }
                    }
                }
                for example in entry.examples {
                    let result = classifyWithLexiconsOnly(example, languageHint: lexicon.language)
                    if !result.flags.contains(entry.flag) {
                        issues.append(LexiconIssue(severity: .error, file: lexicon.file, line: entry.line, message: "example \"\(example)\" does not raise \(entry.flag)"))
                    }
                }
            }
        }
        // A place name that folds to an everyday word would tag ordinary messages with a place
        // ("eeuu" squashes to Portuguese "eu").
        for place in places {
            for name in [place.name] + place.aliases {
                let words = wordPatterns(name)
                if words.count == 1, let languages = functionWordLanguages(words[0].text) {
                    issues.append(LexiconIssue(severity: .warning, file: "places.yaml", line: nil, message: "place name '\(name)' (\(place.name)) folds to '\(words[0].text)', a common word in \(languages.joined(separator: ", ")): use a longer name"))
                }
            }
        }
        return issues
    }
}
