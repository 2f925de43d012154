import EscuchaCore
import Foundation
import Testing

@testable import EscuchaClassifier

@Suite struct RiskModelTests {
    @Test func wordsAreFoldedSquashedAndPlaced() {
        let text = "¡AYUDAAAA! Me pegó 👎🏽 e\u{301}l"
        let words = RiskModel.words(of: text)
        let utf16 = Array(text.utf16)
        let spans = words.map { String(decoding: utf16[$0.start..<$0.end], as: UTF16.self) }
        #expect(spans == ["AYUDAAAA", "Me", "pegó", "e\u{301}l"])
        #expect(words.map(\.hash) == ["ayuda", "me", "pego", "el"].map { RiskModel.words(of: $0)[0].hash })
        #expect(RiskModel.spelledWords(of: text).map(\.spelling) == ["ayuda", "me", "pego", "el"])
        #expect(RiskModel.spelledWords(of: text).map(\.word.hash) == words.map(\.hash))
        #expect(RiskModel.spelledWords(of: "llamar")[0].spelling == "llamar", "two equal letters stay two")
        // Three-byte separators (…, 中) and a four-byte emoji between words: offsets in UTF-16.
        let mixed = "sí…NO中ça👍🏽va"
        let mixedUnits = Array(mixed.utf16)
        let placed = RiskModel.spelledWords(of: mixed).map { ($0.spelling, String(decoding: mixedUnits[$0.word.start..<$0.word.end], as: UTF16.self)) }
        #expect(placed.map(\.0) == ["si", "no", "ca", "va"])
        #expect(placed.map(\.1) == ["sí", "NO", "ça", "va"])
    }

    @Test func featureNamesHashBackToTheirFeatures() {
        // Beginnings ending in a doubled letter ("abazz*", "llamm*") and a squashed run too.
        for text in ["mi padrastro se mete al cuarto de mi hermanita de noche", "los abazzadores llammaron ayudaaaaaaa"] {
            let names = RiskModel.featureNames(of: text)
            let words = RiskModel.words(of: text)
            var features = Set<UInt64>()
            for index in words.indices { RiskModel.forEachFeature(ofWordAt: index, in: words) { hash, _ in features.insert(hash) } }
            #expect(Set(names.keys) == features)
            for (hash, name) in names { #expect(RiskModel.hash(ofName: name) == hash, "\(name)") }
        }
        let names = Set(RiskModel.featureNames(of: "los abazzadores llammaron ayudaaaaaaa").values)
        #expect(names.isSuperset(of: ["abazz*", "los abazzadores", "ayuda", "llammaron ayuda", "llamm*"]))
        #expect(RiskModel.hash(ofName: "tres palabras juntas") == nil, "a name is one word, a pair or a beginning")
    }

    static let examples: [(text: String, flags: Set<FlagCode>)] = [
        ("el voluntario quiere que le pague con otra cosa", ["misconduct.sexual_exploitation"]),
        ("el señor del kit dice que si voy a su casa de noche me da mas", ["misconduct.sexual_exploitation"]),
        ("el voluntario me pidio que fuera a su casa de noche", ["misconduct.sexual_exploitation"]),
        ("a que hora abren el comedor", []),
        ("gracias por el kit de higiene", []),
        ("donde queda la casa de la cultura", []),
    ]

    @Test func trainingIsDeterministicAndTheStoredModelScoresTheSame() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation"]
        let first = RiskModel.train(Self.examples, flags: flags)
        let second = RiskModel.train(Self.examples, flags: flags)
        #expect(try first.json() == second.json())
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let loaded = try RiskModel.parse(try first.json(), file: "critical.json", taxonomy: taxonomy)
        for text in ["quiere que vaya a su casa de noche", "a que hora abren", "me da mas si le pago con otra cosa"] {
            #expect(first.score(text).map(\.probability) == loaded.score(text).map(\.probability), "\(text)")
        }
        #expect(first.score("el voluntario dice que vaya a su casa de noche")[0].probability > first.score("a que hora abren el comedor")[0].probability)
    }

    @Test func aBrokenModelFileIsRefusedWithItsName() throws {
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        #expect(throws: ConfigError.self) { try RiskModel.parse("{}", file: "critical.json", taxonomy: taxonomy) }
        let unknown = #"{"bias":[0],"flags":["protection.nothing"],"threshold":0.1,"weights":{}}"#
        do {
            _ = try RiskModel.parse(unknown, file: "critical.json", taxonomy: taxonomy)
            Issue.record("an unknown flag was accepted")
        } catch {
            #expect(error.file == "critical.json")
            #expect(error.message.contains("protection.nothing"))
        }
    }

    /// The shipped model is what `escucha model train` makes of the labelled sets it names:
    /// retraining gives the same bytes, so the file cannot drift from its data unnoticed.
    @Test func theShippedModelIsTheTrainingOfTheLabelledSets() throws {
        let shipped = try String(contentsOfFile: RepositoryPaths.config + "/model/critical.json", encoding: .utf8)
        var examples: [(text: String, flags: Set<FlagCode>)] = []
        let decoder = JSONDecoder()
        for path in [RepositoryPaths.shared + "/eval/dev.jsonl"] + ["a", "b", "c"].map({ RepositoryPaths.root.appendingPathComponent("Eval/probe-\($0).jsonl").path }) {
            for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
                let message = try decoder.decode(LabelledMessage.self, from: Data(line.utf8))
                examples.append((message.text, Set(message.flags.map { FlagCode($0) })))
            }
        }
        var settings = RiskModel.Settings()
        settings.threshold = 0.1
        let model = RiskModel.train(examples, flags: EvaluationReport.criticalFlags.map { FlagCode($0) }, settings: settings)
        #expect(try model.json() == shipped, "retrain: escucha model train --threshold 0.1 ../shared/eval/dev.jsonl Eval/probe-*.jsonl")
    }

    @Test func theModelAddsACriticalFlagTheLexiconsMissWithItsEvidence() {
        // A euphemism no lexicon entry names (probe C's kind of message).
        let result = DevSetTests.classifier.classify("un voluntario del albergue les da cobijas a las muchachas que le hacen favores de noche")
        #expect(result.flags.contains("misconduct.sexual_exploitation"))
        let evidence = result.evidence.first { $0.flag == "misconduct.sexual_exploitation" }
        #expect(evidence != nil)
        if let evidence, evidence.entry.hasPrefix("model:") {
            #expect(evidence.end > evidence.start, "the model's evidence points at a word")
        }
        #expect(DevSetTests.classifier.classify("a que hora abren el comedor mañana?").flags.isEmpty)
    }
}
