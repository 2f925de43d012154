import ArgumentParser
import EscuchaClassifier
import EscuchaCore
import Foundation

/// `escucha classify`: classify one text or a JSON Lines file.
struct ClassifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Flag risks in a message and tell its type, sectors, language and places.",
        discussion: """
            With a text argument, prints one JSON object. With --file, reads JSON Lines with a \
            `text` field (and `id` if present) and writes one JSON object a line with id, flags, \
            type, sectors, language, languages, places, evidence, severity and restricted.
            Evidence offsets are UTF-16 code units into the text. With --model-scores each \
            object also has `model_scores`: the words the risk model read, its probability \
            for each of its flags, the flags it raises and the lexicons' flags it vetoed \
            (scripts/model-thresholds.sh reads it), and its probability for each type and \
            sector it learnt (`type_probabilities`, `sector_probabilities`).
            """)

    @OptionGroup var config: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("JSON Lines input ('-' for standard input).", valueName: "file"))
    var file: String?

    @Flag(name: .long, help: "Pretty-print a single result.")
    var pretty = false

    @Flag(
        name: .long,
        help: "Add `model_scores`: the words the risk model read, its probability for each of its flags, types and sectors, the flags it raises and the lexicons' flags it vetoed.")
    var modelScores = false

    @Argument(help: "The text to classify.")
    var text: String?

    func validate() throws {
        if text == nil && file == nil { throw ValidationError("Give a text to classify, or --file FILE.jsonl.") }
        if text != nil && file != nil { throw ValidationError("Give either a text or --file, not both.") }
    }

    func run() async throws {
        let classifier = try loadClassifier(config)
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        if let text {
            let result = ClassificationOutput(id: nil, classification: classifier.classify(text), modelScores: scores(text, classifier, hint: nil))
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        let lines = try readLines(file!)
        var failures = 0
        for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let text = object["text"] as? String
            else {
                printError("\(file!):\(number + 1): not a JSON object with a string `text` field; line skipped")
                failures += 1
                continue
            }
            let id = (object["id"] as? String) ?? (object["id"] as? Int).map(String.init)
            let result = ClassificationOutput(
                id: id, classification: classifier.classify(text, languageHint: object["lang"] as? String),
                modelScores: scores(text, classifier, hint: object["lang"] as? String))
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
        if failures > 0 { throw ExitCode(2) }
    }

    private func scores(_ text: String, _ classifier: Classifier, hint: String?) -> ModelScoresOutput? {
        guard modelScores, let scores = classifier.modelScores(text, languageHint: hint) else { return nil }
        return ModelScoresOutput(
            words: scores.words,
            probabilities: Dictionary(scores.flags.map { ($0.flag.rawValue, $0.probability) }, uniquingKeysWith: { first, _ in first }),
            raised: scores.flags.filter(\.raised).map(\.flag.rawValue),
            vetoed: scores.flags.filter(\.vetoed).map(\.flag.rawValue),
            typeProbabilities: scores.types.isEmpty ? nil : Dictionary(scores.types.map { ($0.type, $0.probability) }, uniquingKeysWith: { first, _ in first }),
            sectorProbabilities: scores.sectors.isEmpty
                ? nil : Dictionary(scores.sectors.map { ($0.sector, $0.probability) }, uniquingKeysWith: { first, _ in first }))
    }
}

/// `model_scores` of `escucha classify --model-scores`.
struct ModelScoresOutput: Encodable {
    /// The words the model read (its short-message rule counts these).
    var words: Int
    var probabilities: [String: Double]
    /// The flags the model raises, whether or not the lexicons found them too.
    var raised: [String]
    /// The lexicons' flags the model dropped (below critical severity, under the model's
    /// veto probability, in a message long enough).
    var vetoed: [String]
    /// The probability of each type and sector the model learnt; absent for a model of flags
    /// only.
    var typeProbabilities: [String: Double]?
    var sectorProbabilities: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case words, probabilities, raised, vetoed
        case typeProbabilities = "type_probabilities"
        case sectorProbabilities = "sector_probabilities"
    }
}

/// The JSON shape `escucha classify` prints.
struct ClassificationOutput: Encodable {
    var id: String?
    var classification: Classification
    var modelScores: ModelScoresOutput? = nil

    enum CodingKeys: String, CodingKey {
        case id, flags, type, sectors, language, languages, script, places, evidence, severity, restricted
        case classifierVersion = "classifier_version"
        case modelScores = "model_scores"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encode(classification.flags.map(\.rawValue), forKey: .flags)
        try c.encode(classification.type, forKey: .type)
        try c.encode(classification.sectors, forKey: .sectors)
        try c.encode(classification.language, forKey: .language)
        try c.encode(classification.languages, forKey: .languages)
        try c.encode(classification.script, forKey: .script)
        try c.encode(classification.places, forKey: .places)
        try c.encode(classification.evidence, forKey: .evidence)
        try c.encodeIfPresent(classification.severity?.rawValue, forKey: .severity)
        try c.encode(classification.restricted, forKey: .restricted)
        try c.encode(classification.classifierVersion, forKey: .classifierVersion)
        try c.encodeIfPresent(modelScores, forKey: .modelScores)
    }
}

/// Loads the classifier, turning configuration errors into a message and exit code 3.
func loadClassifier(_ config: ConfigOptions, riskModel: Bool = true) throws -> Classifier {
    do {
        return try Classifier.load(configDirectory: config.configDirectory, riskModel: riskModel)
    } catch {
        printError("error: \(error)")
        throw ExitCode(3)
    }
}

/// Reads a file's lines ('-' is standard input).
func readLines(_ path: String) throws -> [String] {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let read = FileManager.default.contents(atPath: path) else {
            printError("error: cannot read \(path); check the path")
            throw ExitCode(2)
        }
        data = read
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// The messages of a labelled JSON Lines file (the format of shared/eval); a line that is
/// not one stops with its file and line number (exit code 2).
func readLabelledMessages(_ file: String) throws -> [LabelledMessage] {
    var messages: [LabelledMessage] = []
    let decoder = JSONDecoder()
    for (number, line) in try readLines(file).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
        do {
            messages.append(try decoder.decode(LabelledMessage.self, from: Data(line.utf8)))
        } catch {
            printError("\(file):\(number + 1): not a labelled message (needs id, text, flags): \(error)")
            throw ExitCode(2)
        }
    }
    return messages
}

/// `escucha eval`: precision, recall and F1 on a labelled file.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure the classifier on a labelled JSON Lines file (the format of shared/eval).",
        discussion: """
            Prints precision, recall and F1 per flag, per family and per language; micro-F1; \
            recall on the critical flags; type accuracy; the false-alarm rate on flag-free \
            messages; language identification accuracy; then every miss and false alarm.
            Exit code 1 when --min-f1 or the other floors are given and not met.
            """)

    @OptionGroup var config: ConfigOptions

    @Argument(help: "The labelled JSON Lines file.")
    var file: String

    @Option(help: "Fail (exit 1) when micro-F1 is below this.")
    var minF1: Double?

    @Flag(help: "Do not list misses and false alarms.")
    var quiet = false

    @Option(help: "Only messages in this language.")
    var lang: String?

    func run() async throws {
        let classifier = try loadClassifier(config)
        let messages = try readLabelledMessages(file).filter { lang == nil || $0.lang == lang }
        let report = classifier.evaluate(messages)
        print(EvaluationPrinter.render(report, listDetails: !quiet))
        if let minF1, report.micro.f1 < minF1 { throw ExitCode(1) }
    }
}

/// Renders an evaluation report as text.
enum EvaluationPrinter {
    static func pct(_ x: Double) -> String { String(format: "%.3f", x) }

    static func table(_ title: String, _ rows: [String: Score]) -> String {
        var out = "\n\(title)\n"
        out += "  " + "name".padding(toLength: 34, withPad: " ", startingAt: 0) + "  prec   recall  f1     support\n"
        for (name, s) in rows.sorted(by: { $0.key < $1.key }) {
            out += "  " + name.padding(toLength: 34, withPad: " ", startingAt: 0)
            out += "  \(pct(s.precision))  \(pct(s.recall))  \(pct(s.f1))  \(s.support)\n"
        }
        return out
    }

    static func render(_ report: EvaluationReport, listDetails: Bool) -> String {
        var out = "messages: \(report.messages)\n"
        out += "micro: precision \(pct(report.micro.precision))  recall \(pct(report.micro.recall))  F1 \(pct(report.micro.f1))\n"
        out += "critical-flag recall: \(pct(report.criticalRecall))\n"
        out += "false alarms on flag-free messages: \(report.flagFreeWithAlarm)/\(report.flagFree) = \(pct(report.falseAlarmRate))\n"
        out += "type accuracy: \(report.typeCorrect)/\(report.typeTotal) = \(pct(report.typeAccuracy))\n"
        out += "sector micro: precision \(pct(report.sectors.precision))  recall \(pct(report.sectors.recall))  F1 \(pct(report.sectors.f1))\n"
        out += "language identification: \(report.languageCorrect)/\(report.languageTotal) = \(pct(report.languageAccuracy))"
        for (lang, v) in report.languageCorrectByLanguage.sorted(by: { $0.key < $1.key }) { out += "  \(lang) \(v.correct)/\(v.total)" }
        out += "\n"
        out += table("per flag", report.perFlag)
        out += table("per family", report.perFamily)
        out += table("per language (flags)", report.perLanguage)
        out += "\ntype confusion (expected → got: count)\n"
        for (expected, row) in report.typeConfusion.sorted(by: { $0.key < $1.key }) {
            out += "  \(expected) → " + row.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "\n"
        }
        if listDetails {
            out += "\nmisses (\(report.misses.count))\n"
            for miss in report.misses { out += "  \(miss.id) \(miss.flag): \(miss.text)\n" }
            out += "\nfalse alarms (\(report.falseAlarms.count))\n"
            for alarm in report.falseAlarms { out += "  \(alarm.id) \(alarm.flag): \(alarm.evidence)\n" }
            out += "\nlanguage errors (\(report.languageErrors.count))\n"
            for e in report.languageErrors { out += "  \(e.id) expected \(e.expected) got \(e.got)\n" }
        }
        return out
    }
}

/// `escucha lexicon check`.
struct LexiconCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lexicon", abstract: "Work with the classifier's lexicons.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report unknown codes, duplicates, examples that do not match, and shadowed patterns.",
            discussion: "Exit code 0 when there are no errors (warnings allowed), 1 with errors, 3 when a file cannot be loaded.")

        @OptionGroup var config: ConfigOptions

        func run() async throws {
            let classifier = try loadClassifier(config)
            let issues = classifier.checkLexicons()
            for issue in issues { print(issue) }
            let errors = issues.filter { $0.severity == .error }.count
            print("\(errors) error(s), \(issues.count - errors) warning(s); lexicon version \(classifier.version)")
            if errors > 0 { throw ExitCode(1) }
        }
    }
}
