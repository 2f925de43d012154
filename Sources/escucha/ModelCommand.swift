import ArgumentParser
import EscuchaClassifier
import EscuchaCore
import Foundation

/// `escucha model train`: the logistic-regression net under the lexicons.
struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Train the model that raises flags the lexicons miss, vetoes unlikely ones, and tells the type and sectors.", subcommands: [Train.self])

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train Config/model/risk.json on labelled JSON Lines files.",
            discussion: """
                One logistic regression per flag (every flag of the taxonomy unless --flags \
                critical), per feedback type and per sector (from the labelled messages that \
                give them, unless --no-types-and-sectors) over the words of each message, their \
                pairs and their first five letters; the same files give the same model. Words \
                are read as the lexicons' tokenizer reads them (SMS abbreviations expanded, an \
                agent's turns in a transcript skipped), and the model file records those \
                abbreviations and speaker labels: after changing either, train again. \
                The lexicon entries' own examples join the training (labelled with the flags \
                the lexicons find in them; an example that is also a labelled message keeps \
                its label) unless --no-lexicon-examples, so a lexicon change needs a retraining \
                too. Classification then raises a flag the lexicons missed when its \
                probability exceeds --threshold (--other-threshold for the flags below critical \
                severity), or --short-message-threshold in a message of fewer than \
                --short-message-words words; and it drops a lexicon's flag below critical \
                severity when the model's probability for it is under --veto-below, in a message \
                of at least --veto-min-words words. A critical \
                flag the lexicons found always stays. The type is the model's likeliest when \
                its probability reaches --type-confidence (else the lexicons' cues decide), and \
                the sectors it learnt are those above --sector-threshold; a type or sector with \
                fewer than 5 labelled messages is not learnt, and the lexicons' sector cues and \
                flag_sectors only add sectors the model did not learn. Measure on a set the model was not \
                trained on (`escucha eval --config-dir …`): on its own training files it looks \
                better than it is, and lexicon examples written from a set's misses resemble it.
                """)

        @OptionGroup var config: ConfigOptions

        @Argument(help: "Labelled JSON Lines files (the format of shared/eval).")
        var files: [String]

        @Option(help: "Where to write the model (default: <config-dir>/model/risk.json).")
        var out: String?

        @Option(help: "Probability above which the model raises a critical flag (the others take --other-threshold).")
        var threshold = RiskModel.Settings().threshold

        @Option(
            name: .customLong("flag-threshold"),
            help: ArgumentHelp("A threshold of its own for one flag, as FLAG=P (repeatable).", valueName: "flag=p"))
        var flagThresholds: [String] = []

        @Option(help: ArgumentHelp("The flags the model learns: `critical` (those of critical severity in the taxonomy) or `all` (every flag of the taxonomy).", valueName: "critical|all"))
        var flags = "all"

        @Option(help: "The threshold of the flags below critical severity, unless --flag-threshold names them.")
        var otherThreshold = RiskModel.Settings().otherThreshold

        @Option(help: "Drop a lexicon's flag below critical severity when the model's probability for it is under this (0: never).")
        var vetoBelow = RiskModel.Settings().vetoBelow

        @Option(help: "Veto only in messages of at least this many words (those the model reads).")
        var vetoMinWords = RiskModel.Settings().vetoMinimumWords

        @Option(help: "L2 penalty on the weights (higher: fewer, smaller weights).")
        var l2 = RiskModel.Settings().l2

        @Option(help: "Leave out features seen in fewer training messages than this.")
        var minCount = RiskModel.Settings().minimumCount

        @Option(help: "Passes over the training messages.")
        var epochs = RiskModel.Settings().epochs

        @Option(help: "Average the weights at the end of each of the last this many passes instead of keeping the last pass's (0: the last pass's).")
        var averageEpochs = RiskModel.Settings().averageEpochs

        @Option(help: "A message with fewer words than this (those the model reads: outside an agent's turns) needs --short-message-threshold for a flag; 0 turns the rule off.")
        var shortMessageWords = RiskModel.Settings().shortMessageWords

        @Option(help: "The probability a flag needs in a message shorter than --short-message-words.")
        var shortMessageThreshold = RiskModel.Settings().shortMessageThreshold

        @Flag(
            inversion: .prefixedNo,
            help: "Also train on the lexicon entries' own examples, labelled with the flags the lexicons find in them.")
        var lexiconExamples = true

        @Flag(
            inversion: .prefixedNo,
            help: "Also learn the feedback type and the sectors from the labelled messages that give them.")
        var typesAndSectors = true

        @Option(help: "The probability a sector needs to be the message's.")
        var sectorThreshold = RiskModel.Settings().sectorThreshold

        @Option(help: "The probability the likeliest type needs to be the message's; under it the lexicons' cues decide.")
        var typeConfidence = RiskModel.Settings().typeConfidence

        func run() async throws {
            guard !files.isEmpty else { throw ValidationError("give at least one labelled file") }
            let classifier = try loadClassifier(config, riskModel: false)
            var examples: [(text: String, labels: RiskModel.ModelLabels)] = []
            for file in files {
                for message in try readLabelledMessages(file) {
                    // A misspelt label would train every column of its kind as a negative.
                    let unknown = (message.type.map { [$0] } ?? []).filter { !classifier.taxonomy.types.contains($0) }
                        + (message.sectors ?? []).filter { !classifier.taxonomy.sectors.contains($0) }
                    if let label = unknown.first {
                        throw ValidationError("\(file): message \(message.id): '\(label)' is not a type or sector of taxonomy.yaml; correct the label")
                    }
                    examples.append((
                        message.text, RiskModel.ModelLabels(flags: Set(message.flags.map { FlagCode($0) }), type: message.type, sectors: message.sectors)))
                }
            }
            let modelFlags: [FlagCode]
            switch flags {
            case "critical": modelFlags = classifier.taxonomy.criticalFlags
            case "all": modelFlags = classifier.taxonomy.flags.map(\.code)
            default: throw ValidationError("--flags \(flags): write critical or all")
            }
            var settings = RiskModel.Settings()
            settings.threshold = threshold
            for item in flagThresholds {
                let parts = item.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let value = Double(parts[1]), (0...1).contains(value),
                      modelFlags.contains(FlagCode(String(parts[0])))
                else {
                    throw ValidationError("--flag-threshold \(item): write a flag the model learns (see --flags) and a probability, e.g. protection.child_at_risk=0.2")
                }
                settings.flagThresholds[FlagCode(String(parts[0]))] = value
            }
            guard (0...1).contains(otherThreshold), (0...1).contains(vetoBelow), vetoMinWords >= 0 else {
                throw ValidationError("--other-threshold and --veto-below need probabilities from 0 to 1, --veto-min-words 0 or more")
            }
            settings.otherThreshold = otherThreshold
            settings.vetoBelow = vetoBelow
            settings.vetoMinimumWords = vetoMinWords
            settings.l2 = l2
            settings.minimumCount = minCount
            settings.epochs = epochs
            guard (0...epochs).contains(averageEpochs) else {
                throw ValidationError("--average-epochs needs 0 (the last pass's weights) up to --epochs (\(epochs))")
            }
            settings.averageEpochs = averageEpochs
            guard shortMessageWords >= 0, (0...1).contains(shortMessageThreshold) else {
                throw ValidationError("--short-message-words needs 0 or more and --short-message-threshold a probability from 0 to 1")
            }
            settings.shortMessageWords = shortMessageWords
            settings.shortMessageThreshold = shortMessageThreshold
            guard (0...1).contains(sectorThreshold), (0...1).contains(typeConfidence) else {
                throw ValidationError("--sector-threshold and --type-confidence need probabilities from 0 to 1")
            }
            settings.typesAndSectors = typesAndSectors
            settings.sectorThreshold = sectorThreshold
            settings.typeConfidence = typeConfidence
            // The model reads words as the classifier's tokenizer folds them.
            let training = classifier.riskModelTrainingSet(labelled: examples, lexiconExamples: lexiconExamples)
            let model = classifier.trainRiskModel(labelled: training, flags: modelFlags, settings: settings)
            // The model would raise again what it has just dropped.
            if let (flag, own) = model.flagRaisedUnderItsVeto {
                throw ValidationError("\(flag.rawValue) would be raised at \(own), under --veto-below \(vetoBelow): raise its threshold or lower the veto")
            }
            let path = out ?? config.configDirectory + "/model/risk.json"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try model.json().write(toFile: path, atomically: true, encoding: .utf8)
            let extra = lexiconExamples ? " and \(training.count - examples.count) lexicon examples" : ""
            print("trained on \(examples.count) messages from \(files.count) file(s)\(extra); wrote \(path)")
        }
    }
}
