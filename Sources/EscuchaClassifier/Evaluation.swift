import EscuchaCore

/// One labelled message of an evaluation file (the format of shared/eval).
public struct LabelledMessage: Sendable, Codable {
    public var id: String
    public var lang: String?
    public var channel: String?
    public var text: String
    public var type: String?
    public var flags: [String]
    public var sectors: [String]?

    public init(id: String, lang: String?, channel: String?, text: String, type: String?, flags: [String], sectors: [String]?) {
        self.id = id
        self.lang = lang
        self.channel = channel
        self.text = text
        self.type = type
        self.flags = flags
        self.sectors = sectors
    }
}

/// Precision, recall and F1 from counts.
public struct Score: Sendable, Equatable {
    public var truePositives = 0
    public var falsePositives = 0
    public var falseNegatives = 0
    public var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
    public var recall: Double { truePositives + falseNegatives == 0 ? 1 : Double(truePositives) / Double(truePositives + falseNegatives) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
    public var support: Int { truePositives + falseNegatives }
}

/// The result of running the classifier over labelled messages.
public struct EvaluationReport: Sendable {
    public var messages = 0
    public var micro = Score()
    public var perFlag: [String: Score] = [:]
    public var perFamily: [String: Score] = [:]
    public var perLanguage: [String: Score] = [:]
    public var typeCorrect = 0
    public var typeTotal = 0
    public var typeConfusion: [String: [String: Int]] = [:]
    public var flagFree = 0
    public var flagFreeWithAlarm = 0
    public var languageCorrect = 0
    public var languageTotal = 0
    public var languageCorrectByLanguage: [String: (correct: Int, total: Int)] = [:]
    public var sectors = Score()
    /// Each missed flag: message id, flag, text.
    public var misses: [(id: String, flag: String, text: String)] = []
    /// Each false alarm: message id, flag, evidence.
    public var falseAlarms: [(id: String, flag: String, evidence: String)] = []
    public var languageErrors: [(id: String, expected: String, got: String)] = []

    public var typeAccuracy: Double { typeTotal == 0 ? 0 : Double(typeCorrect) / Double(typeTotal) }
    public var falseAlarmRate: Double { flagFree == 0 ? 0 : Double(flagFreeWithAlarm) / Double(flagFree) }
    public var languageAccuracy: Double { languageTotal == 0 ? 0 : Double(languageCorrect) / Double(languageTotal) }

    /// The critical flags whose recall must stay high.
    public static let criticalFlags = [
        "protection.gbv", "protection.trafficking", "protection.child_at_risk", "protection.self_harm",
        "protection.medical_emergency", "misconduct.sexual_exploitation",
    ]

    /// Recall over the critical flags together.
    public var criticalRecall: Double {
        var s = Score()
        for flag in Self.criticalFlags {
            if let f = perFlag[flag] { s.truePositives += f.truePositives; s.falseNegatives += f.falseNegatives }
        }
        return s.recall
    }
}

extension Classifier {
    /// Evaluates the classifier on labelled messages.
    public func evaluate(_ messages: [LabelledMessage]) -> EvaluationReport {
        var report = EvaluationReport()
        for message in messages {
            report.messages += 1
            let result = classify(message.text)
            let expected = Set(message.flags)
            let got = Set(result.flags.map(\.rawValue))
            let language = message.lang ?? "und"
            for flag in expected.union(got) {
                let family = FlagCode(flag).family
                let tp = expected.contains(flag) && got.contains(flag)
                let fp = !expected.contains(flag) && got.contains(flag)
                let fn = expected.contains(flag) && !got.contains(flag)
                for key in [0, 1, 2, 3] {
                    func bump(_ s: inout Score) {
                        if tp { s.truePositives += 1 }
                        if fp { s.falsePositives += 1 }
                        if fn { s.falseNegatives += 1 }
                    }
                    switch key {
                    case 0: bump(&report.micro)
                    case 1: bump(&report.perFlag[flag, default: Score()])
                    case 2: bump(&report.perFamily[family, default: Score()])
                    default: bump(&report.perLanguage[language, default: Score()])
                    }
                }
                if fn { report.misses.append((message.id, flag, message.text)) }
                if fp {
                    let evidence = result.evidence.filter { $0.flag.rawValue == flag }.map { "\"\($0.text)\" (\($0.entry))" }.joined(separator: ", ")
                    report.falseAlarms.append((message.id, flag, evidence))
                }
            }
            if expected.isEmpty {
                report.flagFree += 1
                if !got.isEmpty { report.flagFreeWithAlarm += 1 }
            }
            if let type = message.type {
                report.typeTotal += 1
                if type == result.type { report.typeCorrect += 1 }
                report.typeConfusion[type, default: [:]][result.type, default: 0] += 1
            }
            if let lang = message.lang {
                report.languageTotal += 1
                var entry = report.languageCorrectByLanguage[lang] ?? (0, 0)
                entry.total += 1
                if result.language == lang {
                    report.languageCorrect += 1
                    entry.correct += 1
                } else {
                    report.languageErrors.append((message.id, lang, result.language))
                }
                report.languageCorrectByLanguage[lang] = entry
            }
            if let sectors = message.sectors {
                let e = Set(sectors)
                let g = Set(result.sectors)
                report.sectors.truePositives += e.intersection(g).count
                report.sectors.falsePositives += g.subtracting(e).count
                report.sectors.falseNegatives += e.subtracting(g).count
            }
        }
        return report
    }
}
