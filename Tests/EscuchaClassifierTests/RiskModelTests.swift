import EscuchaCore
import Foundation
import Testing

@testable import EscuchaClassifier

@Suite struct RiskModelTests {
    /// The model reads the words of the classifier's tokenizer.
    static let classifier = DevSetTests.classifier

    @Test func wordsAreTheTokenizersFoldedWordsAndPointAtTheOriginal() {
        let text = "¡AYUDAAAA! Me pegó 👎🏽 e\u{301}l q llamar…NO中ça"
        let words = Self.classifier.modelWords(of: text)
        let utf16 = Array(text.utf16)
        // Folded like lexicon words: accents and case, every repeated letter, `q` → que.
        #expect(words.map(\.spelling) == ["ayuda", "me", "pego", "el", "que", "lamar", "no", "中", "ca"])
        #expect(words.map { String(decoding: utf16[$0.word.start..<$0.word.end], as: UTF16.self) }
            == ["AYUDAAAA", "Me", "pegó", "e\u{301}l", "q", "llamar", "NO", "中", "ça"])
        for (word, spelling) in words {
            #expect(word.hash == RiskModel.hash(ofName: spelling), "\(spelling)")
        }
    }

    @Test func anAgentsTurnIsNotRead() {
        let words = Self.classifier.modelWords(of: "Agent: did anyone hurt you? Caller: no, we need food")
        #expect(words.map(\.spelling) == ["caler", "no", "we", "ned", "fod"])
    }

    @Test func featureNamesHashBackToTheirFeatures() {
        // Beginnings of long words, pairs, and a word no ASCII beginning can name.
        for text in ["mi padrastro se mete al cuarto de mi hermanita de noche", "los abazzadores llammaron ayudaaaaaaa", "Ayúdenme مساعدة الآن"] {
            let spelled = Self.classifier.modelWords(of: text)
            let names = RiskModel.featureNames(of: spelled)
            var features = Set<UInt64>()
            let words = spelled.map(\.word)
            for index in words.indices { RiskModel.forEachFeature(ofWordAt: index, in: words) { hash, _ in features.insert(hash) } }
            #expect(Set(names.keys) == features)
            for (hash, name) in names { #expect(RiskModel.hash(ofName: name) == hash, "\(name)") }
        }
        let names = Set(RiskModel.featureNames(of: Self.classifier.modelWords(of: "los abazzadores llammaron ayudaaaaaaa")).values)
        #expect(names.isSuperset(of: ["abaza*", "los abazadores", "ayuda", "lamaron ayuda", "lamar*"]))
        #expect(RiskModel.hash(ofName: "tres palabras juntas") == nil, "a name is one word, a pair or a beginning")
        #expect(RiskModel.hash(ofName: "abc*") == nil, "a beginning has five letters")
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
        let first = Self.classifier.trainRiskModel(Self.examples, flags: flags)
        let second = Self.classifier.trainRiskModel(Self.examples, flags: flags)
        #expect(try first.json() == second.json())
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let loaded = try RiskModel.parse(try first.json(), file: "risk.json", taxonomy: taxonomy)
        func score(_ model: RiskModel, _ text: String) -> [Double] {
            var scratch = RiskModel.Scratch()
            scratch.words = Self.classifier.modelWords(of: text).map(\.word)
            return model.score(&scratch).map(\.probability)
        }
        for text in ["quiere que vaya a su casa de noche", "a que hora abren", "me da mas si le pago con otra cosa"] {
            #expect(score(first, text) == score(loaded, text), "\(text)")
        }
        #expect(score(first, "el voluntario dice que vaya a su casa de noche")[0] > score(first, "a que hora abren el comedor")[0])
    }

    /// `averageEpochs` keeps the mean of the last passes' weights: deterministic, different
    /// from the last pass's, and still telling the risk from the ordinary message.
    @Test func averagedWeightsAreDeterministicAndStillLearn() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation"]
        var averaged = RiskModel.Settings()
        averaged.averageEpochs = 10
        let first = Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: averaged)
        let second = Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: averaged)
        let last = Self.classifier.trainRiskModel(Self.examples, flags: flags)
        #expect(try first.json() == second.json())
        #expect(try first.json() != last.json())
        func probability(_ text: String) -> Double {
            var scratch = RiskModel.Scratch()
            scratch.words = Self.classifier.modelWords(of: text).map(\.word)
            return first.score(&scratch)[0].probability
        }
        #expect(probability("el voluntario dice que vaya a su casa de noche") > probability("a que hora abren el comedor"))
    }

    @Test func aFlagsOwnThresholdIsKeptAndUsed() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation"]
        var settings = RiskModel.Settings()
        settings.flagThresholds = ["misconduct.sexual_exploitation": 0.999]
        let strict = Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: settings)
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let loaded = try RiskModel.parse(try strict.json(), file: "risk.json", taxonomy: taxonomy)
        #expect(loaded.flagThresholds == ["misconduct.sexual_exploitation": 0.999])
        #expect(loaded.thresholds == [0.999])
        // Scoring uses it: above the model's threshold but under the flag's own, no word is named.
        var scratch = RiskModel.Scratch()
        scratch.words = Self.classifier.modelWords(of: "el voluntario quiere que vaya a su casa de noche").map(\.word)
        let strictResult = loaded.score(&scratch)[0]
        var relaxed = RiskModel.Scratch()
        relaxed.words = scratch.words
        var noShortRule = RiskModel.Settings()
        noShortRule.shortMessageWords = 0
        let plainResult = Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: noShortRule).score(&relaxed)[0]
        #expect(plainResult.probability > noShortRule.threshold && plainResult.raised && plainResult.word != nil)
        #expect(strictResult.probability < 0.999 && !strictResult.raised && strictResult.word == nil)
        // Without a threshold of its own the flag uses the model's, and the file has no such key.
        let plain = Self.classifier.trainRiskModel(Self.examples, flags: flags)
        #expect(!(try plain.json()).contains("flagThresholds"))
        #expect(plain.thresholds == [plain.threshold])
        let stray = #"{"bias":[0],"features":2,"flagThresholds":{"protection.gbv":0.5},"flags":["protection.self_harm"],"threshold":0.1,"weights":{}}"#
        #expect(throws: ConfigError.self) { try RiskModel.parse(stray, file: "risk.json", taxonomy: taxonomy) }
    }

    @Test func aShortMessageNeedsTheHigherThreshold() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation"]
        var settings = RiskModel.Settings()
        settings.threshold = 0.1
        settings.shortMessageWords = 0
        let open = Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: settings)
        #expect(!(try open.json()).contains("shortMessage"))
        settings.shortMessageWords = 20
        settings.shortMessageThreshold = 0.999
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let guarded = try RiskModel.parse(
            try Self.classifier.trainRiskModel(Self.examples, flags: flags, settings: settings).json(), file: "risk.json", taxonomy: taxonomy)
        #expect(guarded.shortMessageWords == 20 && guarded.shortMessageThreshold == 0.999)
        func result(_ model: RiskModel, _ text: String) -> (probability: Double, raised: Bool) {
            var scratch = RiskModel.Scratch()
            scratch.words = Self.classifier.modelWords(of: text).map(\.word)
            let first = model.score(&scratch)[0]
            return (first.probability, first.raised)
        }
        // Ten words, then the same with words the model does not know: the same probability.
        let short = "el voluntario quiere que vaya a su casa de noche"
        let long = short + " lorem ipsum dolor sit amet consectetur adipiscing elit sed eiusmod tempor incididunt ut labore"
        #expect(result(open, short).probability == result(open, long).probability)
        #expect(result(open, short).probability > 0.1 && result(open, short).raised)
        #expect(result(guarded, short).probability == result(open, short).probability, "the rule changes no weight")
        #expect(!result(guarded, short).raised, "under 20 words the flag needs 0.999")
        #expect(result(guarded, long).raised, "from 20 words the model's own threshold")
        // The boundary: 19 words are short, 20 are not; an agent's turn is not counted.
        let filler = ["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"].map { "zq\($0)" }
        let nineteen = short + " " + filler.prefix(9).joined(separator: " ")
        let twenty = short + " " + filler.joined(separator: " ")
        #expect(Self.classifier.modelWords(of: nineteen).count == 19 && Self.classifier.modelWords(of: twenty).count == 20)
        #expect(!result(guarded, nineteen).raised && result(guarded, twenty).raised)
        let transcript = "Agente: " + filler.joined(separator: " ") + "\nLlamante: " + short
        #expect(!result(guarded, transcript).raised, "the agent's words do not make the caller's message long")
        // A file without the rule (written before it existed) loads without it.
        let older = try RiskModel.parse(try open.json(), file: "risk.json", taxonomy: taxonomy)
        #expect(older.shortMessageWords == 0)
        let broken = try open.json().replacingOccurrences(of: #""threshold":0.1"#, with: #""shortMessage":{"threshold":7,"words":20},"threshold":0.1"#)
        #expect(broken != (try open.json()))
        #expect(throws: ConfigError.self) { try RiskModel.parse(broken, file: "risk.json", taxonomy: taxonomy) }
    }

    @Test func aModelTrainedUnderOtherAbbreviationsIsRefused() throws {
        // A copy of the shipped configuration whose Spanish lexicon gains an abbreviation:
        // the model would read "tqm" as other words than it learnt from.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("escucha-model-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(atPath: RepositoryPaths.config, toPath: folder.path)
        let spanish = folder.appendingPathComponent("lexicon/es.yaml")
        let text = try String(contentsOf: spanish, encoding: .utf8)
        try text.replacingOccurrences(of: "abbreviations:\n", with: "abbreviations:\n  tqm: te quiero mucho\n").write(to: spanish, atomically: true, encoding: .utf8)
        do {
            _ = try Classifier.load(configDirectory: folder.path)
            Issue.record("a model trained under other abbreviations was loaded")
        } catch {
            #expect(error.file.hasSuffix("model/risk.json"))
            #expect(error.message.contains("escucha model train"))
        }
        #expect(throws: Never.self) { try Classifier.load(configDirectory: folder.path, riskModel: false) }
    }

    @Test func aBrokenModelFileIsRefusedWithItsName() throws {
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        #expect(throws: ConfigError.self) { try RiskModel.parse("{}", file: "risk.json", taxonomy: taxonomy) }
        let older = #"{"bias":[0],"flags":["protection.gbv"],"threshold":0.1,"weights":{}}"#
        #expect(throws: ConfigError.self, "a model of the first feature version must be retrained") {
            try RiskModel.parse(older, file: "risk.json", taxonomy: taxonomy)
        }
        let unknown = #"{"bias":[0],"features":2,"flags":["protection.nothing"],"threshold":0.1,"weights":{}}"#
        do {
            _ = try RiskModel.parse(unknown, file: "risk.json", taxonomy: taxonomy)
            Issue.record("an unknown flag was accepted")
        } catch {
            #expect(error.file == "risk.json")
            #expect(error.message.contains("protection.nothing"))
        }
    }

    /// Messages labelled with a type and sectors, as the labelled sets are.
    static let typed: [(text: String, labels: RiskModel.ModelLabels)] = [
        ("a que hora abren el comedor", .init(flags: [], type: "question", sectors: ["food"])),
        ("donde queda el comedor y a que hora sirven", .init(flags: [], type: "question", sectors: ["food"])),
        ("gracias por el kit de higiene y el agua", .init(flags: [], type: "praise", sectors: ["wash"])),
        ("muchas gracias por el agua limpia", .init(flags: [], type: "praise", sectors: ["wash"])),
        ("necesito un abogado para mis papeles de asilo", .init(flags: [], type: "request", sectors: ["documentation"])),
        ("por favor ayudenme con los papeles del asilo", .init(flags: [], type: "request", sectors: ["documentation"])),
    ]

    @Test func theModelLearnsTypesAndSectorsFromTheMessagesThatGiveThem() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation"]
        // The flag examples carry no type: they train the flag's column only.
        let training = Self.typed + Self.examples.map { ($0.text, RiskModel.ModelLabels(flags: $0.flags)) }
        var everyLabel = RiskModel.Settings()
        everyLabel.minimumLabelledExamples = 1
        let model = Self.classifier.trainRiskModel(labelled: training, flags: flags, settings: everyLabel)
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        // The labelled types and sectors, in the taxonomy's order.
        #expect(model.types == ["question", "request", "praise"])
        #expect(model.sectors == ["food", "documentation", "wash"])
        func read(_ model: RiskModel, _ text: String) -> (type: String, sectors: [String], flag: Double) {
            var scratch = RiskModel.Scratch()
            scratch.words = Self.classifier.modelWords(of: text).map(\.word)
            let flag = model.score(&scratch)[0].probability
            let type = model.likeliestType(scratch).map { model.types[$0.type] } ?? "none"
            return (type, model.sectors.indices.filter { model.hasSector($0, scratch) }.map { model.sectors[$0] }, flag)
        }
        #expect(read(model, "gracias por el agua").type == "praise")
        #expect(read(model, "gracias por el agua").sectors == ["wash"])
        #expect(read(model, "a que hora abren el comedor hoy").type == "question")
        #expect(read(model, "ayudenme con mis papeles").sectors == ["documentation"])
        // Stored and read back: the same columns, threshold and probabilities.
        let loaded = try RiskModel.parse(try model.json(), file: "risk.json", taxonomy: taxonomy)
        #expect(loaded.types == model.types && loaded.sectors == model.sectors && loaded.sectorThreshold == model.sectorThreshold)
        for text in ["gracias por el agua", "ayudenme con mis papeles", "el voluntario quiere que vaya a su casa de noche"] {
            #expect(read(loaded, text) == read(model, text), "\(text)")
        }
        // Without labelled types and sectors, or when told not to, the model learns flags only.
        let flagsOnly = Self.classifier.trainRiskModel(Self.examples, flags: flags)
        #expect(flagsOnly.types.isEmpty && flagsOnly.sectors.isEmpty)
        #expect(!(try flagsOnly.json()).contains("sectorThreshold"))
        var settings = everyLabel
        settings.typesAndSectors = false
        let untyped = Self.classifier.trainRiskModel(labelled: training, flags: flags, settings: settings)
        #expect(untyped.types.isEmpty && untyped.sectors.isEmpty)
        // The flag's column learns the same from the same flags, with or without the others.
        #expect(abs(read(model, "el voluntario dice que vaya a su casa de noche").flag - read(untyped, "el voluntario dice que vaya a su casa de noche").flag) < 0.05)
    }

    /// The sectors a model did not learn still come from the lexicons' cues and the flags;
    /// the ones it learnt are its own, whatever the cues say.
    @Test func theLexiconsDecideOnlyTheSectorsTheModelDoesNotKnow() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("escucha-sectors-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(atPath: RepositoryPaths.config, toPath: folder.path)
        // Two sectors, in another order than the taxonomy's; "hospital" means health, nothing
        // means protection, and the one flag is never raised.
        let model = #"{"bias":[-10,-10,-10],"features":2,"flags":["protection.gbv"],"sectorThreshold":0.3,"sectors":["protection","health"],"threshold":0.12,"#
            + #""weights":{"hospital":[0,0,40]},"words":"\#(DevSetTests.classifier.modelWordsFingerprint)"}"#
        try model.write(to: folder.appendingPathComponent("model/risk.json"), atomically: true, encoding: .utf8)
        let classifier = try Classifier.load(configDirectory: folder.path)
        let text = "la policia me golpeo y necesito comida, estoy en el hospital"
        let cuesOnly = classifier.classifyWithLexiconsOnly(text)
        #expect(Set(cuesOnly.sectors) == ["food", "health", "protection"], "the cues and the violence flag's sectors")
        let result = classifier.classify(text)
        #expect(result.flags == ["protection.violence"])
        #expect(result.sectors == ["food", "health"], "food from the cues; health and not protection from the model")
        #expect(result.type == cuesOnly.type, "a model without types leaves the type to the cues")
    }

    @Test func aTypeOrSectorWithFewLabelledMessagesIsLeftToTheCues() {
        // Health appears in four messages, food in five: only food is learnt.
        var training = Self.typed
        for text in ["la clinica no atiende", "el hospital cerro", "necesito un medico", "me duele mucho"] {
            training.append((text, .init(flags: [], type: "complaint", sectors: ["health"])))
        }
        training.append(("el comedor cerro temprano", .init(flags: [], type: "complaint", sectors: ["food"])))
        training.append(("no hay comida en el albergue", .init(flags: [], type: "complaint", sectors: ["food"])))
        training.append(("queremos mas comida", .init(flags: [], type: "request", sectors: ["food"])))
        let model = Self.classifier.trainRiskModel(labelled: training, flags: ["misconduct.sexual_exploitation"])
        #expect(model.sectors == ["food"])
        // complaint 6, question 2, praise 2, request 3: none has five but complaint.
        #expect(model.types.isEmpty, "one type alone is no choice")
    }

    @Test func aModelWithUnknownTypesOrSectorsOrTheWrongWidthIsRefused() throws {
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let good = #"{"bias":[0,0,0],"features":2,"flags":["protection.gbv"],"sectorThreshold":0.5,"sectors":["health"],"threshold":0.1,"types":["question"],"weights":{"agua":[0.1,0.2,0.3]}}"#
        let model = try RiskModel.parse(good, file: "risk.json", taxonomy: taxonomy)
        #expect(model.types == ["question"] && model.sectors == ["health"])
        let cases = [
            good.replacingOccurrences(of: #""types":["question"]"#, with: #""types":["gossip"]"#),
            good.replacingOccurrences(of: #""sectors":["health"]"#, with: #""sectors":["weather"]"#),
            good.replacingOccurrences(of: #""agua":[0.1,0.2,0.3]"#, with: #""agua":[0.1,0.2]"#),
            good.replacingOccurrences(of: #""sectorThreshold":0.5"#, with: #""sectorThreshold":1.5"#),
            good.replacingOccurrences(of: #""types":["question"]"#, with: #""types":"question""#),
            good.replacingOccurrences(of: #""sectors":["health"]"#, with: #""sectors":["health","health"]"#)
                .replacingOccurrences(of: #""bias":[0,0,0]"#, with: #""bias":[0,0,0,0]"#).replacingOccurrences(of: "[0.1,0.2,0.3]", with: "[0.1,0.2,0.3,0.4]"),
            good.replacingOccurrences(of: #""sectorThreshold":0.5"#, with: #""sectorThreshold":0.5,"typeConfidence":-0.1"#),
            good.replacingOccurrences(of: #""bias":[0,0,0]"#, with: #""bias":[0,0]"#),
            // Infinite, or beyond single precision: every probability would be 1.
            good.replacingOccurrences(of: "[0.1,0.2,0.3]", with: "[0.1,0.2,1e400]"),
            good.replacingOccurrences(of: "[0.1,0.2,0.3]", with: "[0.1,0.2,1e39]"),
        ]
        for text in cases {
            do {
                _ = try RiskModel.parse(text, file: "risk.json", taxonomy: taxonomy)
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.file == "risk.json")
                #expect(error.message.contains("train it again"), "\(error.message)")
            }
        }
    }

    /// The shipped model decides the type, and the sectors it learnt; the lexicons' cues decide
    /// only what it does not know.
    @Test func theShippedModelDecidesTheTypeAndTheSectors() throws {
        let model = try #require(DevSetTests.classifier.riskModel)
        #expect(!model.types.isEmpty && !model.sectors.isEmpty)
        var decidedByModel = 0
        for text in ["muchas gracias a la cruz roja por el agua", "donde puedo sacar el pasaporte", "necesito comida para mis hijos por favor",
                     "mwen bezwen manje pou pitit mwen yo", "obrigado pela ajuda com os documentos"] {
            let result = DevSetTests.classifier.classify(text)
            var scratch = RiskModel.Scratch()
            scratch.words = DevSetTests.classifier.modelWords(of: text).map(\.word)
            _ = model.score(&scratch)
            let likeliest = try #require(model.likeliestType(scratch))
            // Unsure of every type, the model leaves the type to the lexicons' cues.
            let expected = likeliest.probability >= model.typeConfidence
                ? model.types[likeliest.type] : DevSetTests.classifier.classifyWithLexiconsOnly(text).type
            if likeliest.probability >= model.typeConfidence { decidedByModel += 1 }
            #expect(result.type == expected, "\(text)")
            // `classify --model-scores` shows the same probabilities.
            let scores = try #require(DevSetTests.classifier.modelScores(text))
            #expect(scores.types.map(\.type) == model.types && scores.sectors.map(\.sector) == model.sectors)
            #expect(scores.types.max { $0.probability < $1.probability }?.type == model.types[likeliest.type])
            #expect(Set(scores.sectors.filter { $0.probability > model.sectorThreshold }.map(\.sector)) == Set(result.sectors), "\(text)")
            #expect(Set(result.sectors) == Set(model.sectors.indices.filter { model.hasSector($0, scratch) }.map { model.sectors[$0] }), "\(text)")
        }
        #expect(decidedByModel >= 3)
    }

    /// The shipped model is what `escucha model train` makes, with its default settings, of
    /// the labelled sets it names and the lexicons' examples: retraining gives the same bytes,
    /// so the file cannot drift from its data unnoticed.
    @Test func theShippedModelIsTheTrainingOfTheLabelledSets() throws {
        let shipped = try String(contentsOfFile: RepositoryPaths.config + "/model/risk.json", encoding: .utf8)
        var examples: [(text: String, labels: RiskModel.ModelLabels)] = []
        let files = RepositoryPaths.usedProbeSets.map { RepositoryPaths.probe($0.0) }
        for path in [RepositoryPaths.shared + "/eval/dev.jsonl"] + files {
            examples += try RepositoryPaths.labelled(path).map {
                ($0.text, RiskModel.ModelLabels(flags: Set($0.flags.map { FlagCode($0) }), type: $0.type, sectors: $0.sectors))
            }
        }
        let lexiconsOnly = try Classifier.load(configDirectory: RepositoryPaths.config, riskModel: false)
        let model = lexiconsOnly.trainRiskModel(
            labelled: lexiconsOnly.riskModelTrainingSet(labelled: examples), flags: lexiconsOnly.taxonomy.flags.map(\.code))
        #expect(
            try model.json() == shipped,
            "after a change to the labelled sets or the lexicons (their examples train the model too), retrain: escucha model train ../shared/eval/dev.jsonl Eval/probe-?.jsonl Eval/probe-??.jsonl")
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

    /// The person denied it in so many words: the model, which would raise self-harm, does
    /// not raise it back (`negation_binds_model` in common.yaml); an account of self-harm
    /// still raises it.
    @Test func aNegatedSelfHarmIsNotRaisedBackByTheModel() throws {
        let classifier = DevSetTests.classifier
        let denial = "tranqui, no estoy pensando en matarme, solo necesito hablar con alguien de la ansiedad"
        let scores = try #require(classifier.modelScores(denial))
        #expect(scores.flags.contains { $0.flag == "protection.self_harm" && $0.raised }, "the model alone raises it")
        #expect(!classifier.classify(denial).flags.contains("protection.self_harm"))
        #expect(classifier.classify("toy en el baño del albergue y me corte los brazos otra vez, ayuda").flags.contains("protection.self_harm"))
        // Flags not listed keep the model's second opinion: "aquí no atendemos venecos" is
        // the risk itself, not a denial of it.
        let denied = "el cajero me dijo delante de todos aqui no atendemos venecos y me tuve que ir"
        #expect(classifier.classify(denied).flags.contains("discrimination.mistreatment") || classifier.classify(denied).flags.contains("discrimination.service_denial"))
    }

    @Test func theModelsScoresAreTheOnesItFlagsBy() throws {
        let classifier = DevSetTests.classifier
        let model = try #require(classifier.riskModel)
        var modelFlagged = 0
        for message in try RepositoryPaths.labelled(RepositoryPaths.probe("probe-a.jsonl")) {
            let scores = try #require(classifier.modelScores(message.text))
            #expect(scores.flags.map(\.flag) == model.flags)
            #expect(scores.flags.allSatisfy { (0...1).contains($0.probability) })
            // The flags the model raises and the lexicons missed are the model's evidence.
            let lexicons = Set(classifier.classifyWithLexiconsOnly(message.text).flags)
            let byModel = Set(classifier.classify(message.text).evidence.filter { $0.entry.hasPrefix("model:") }.map(\.flag))
            #expect(Set(scores.flags.filter(\.raised).map(\.flag)).subtracting(lexicons) == byModel, "\(message.id)")
            for item in scores.flags where item.raised {
                let k = try #require(model.flags.firstIndex(of: item.flag))
                let bar = scores.words < model.shortMessageWords ? max(model.thresholds[k], model.shortMessageThreshold) : model.thresholds[k]
                #expect(item.probability > bar, "\(message.id) \(item.flag)")
            }
            if !byModel.isEmpty { modelFlagged += 1 }
        }
        #expect(modelFlagged > 0, "the set has messages only the model flags")
        #expect(try #require(classifier.modelScores("a que hora abren el comedor mañana?")).flags.allSatisfy { !$0.raised })
    }

    @Test func flagsBelowCriticalGetTheirOwnThresholdAndCanBeVetoed() throws {
        let flags: [FlagCode] = ["misconduct.sexual_exploitation", "protection.violence"]
        let examples = Self.examples + [
            ("me pegaron en la calle unos tipos", ["protection.violence"]),
            ("un hombre me golpeo en la parada", ["protection.violence"]),
        ]
        let taxonomy = try Taxonomy.load(path: RepositoryPaths.config + "/taxonomy.yaml")
        let model = Self.classifier.trainRiskModel(examples, flags: flags)
        #expect(model.thresholds == [RiskModel.Settings().threshold, RiskModel.Settings().otherThreshold])
        #expect(model.vetoFlags == ["protection.violence"], "a critical flag is never vetoed")
        #expect(model.vetoBelow == RiskModel.Settings().vetoBelow)
        let loaded = try RiskModel.parse(try model.json(), file: "risk.json", taxonomy: taxonomy)
        #expect(loaded.vetoFlags == model.vetoFlags && loaded.vetoBelow == model.vetoBelow && loaded.thresholds == model.thresholds)
        #expect(loaded.vetoMinimumWords == RiskModel.Settings().vetoMinimumWords)
        #expect(try loaded.json() == model.json())
        var off = RiskModel.Settings()
        off.vetoBelow = 0
        let noVeto = Self.classifier.trainRiskModel(examples, flags: flags, settings: off)
        #expect(!(try noVeto.json()).contains("veto") && noVeto.vetoFlags.isEmpty)
        let stray = try model.json().replacingOccurrences(of: #""flags":["protection.violence"]"#, with: #""flags":["protection.death"]"#)
        #expect(stray != (try model.json()))
        #expect(throws: ConfigError.self, "a veto of a flag the model does not know") { try RiskModel.parse(stray, file: "risk.json", taxonomy: taxonomy) }
        let critical = try model.json().replacingOccurrences(
            of: #""flags":["protection.violence"]"#, with: #""flags":["misconduct.sexual_exploitation","protection.violence"]"#)
        #expect(critical != (try model.json()))
        #expect(throws: ConfigError.self, "a veto of a critical flag") { try RiskModel.parse(critical, file: "risk.json", taxonomy: taxonomy) }
        var under = RiskModel.Settings()
        under.flagThresholds = ["protection.violence": 0.05]
        #expect(throws: ConfigError.self, "a threshold under the veto would raise what the model vetoes") {
            try RiskModel.parse(try Self.classifier.trainRiskModel(examples, flags: flags, settings: under).json(), file: "risk.json", taxonomy: taxonomy)
        }
    }

    /// On probe sets the shipped model vetoes some of the lexicons' flags: only flags below
    /// critical severity, only under its veto probability, only in messages long enough, and
    /// every such flag; `modelScores` names exactly the flags classify dropped.
    @Test func theModelVetoesOnlyUnlikelyLexiconFlagsBelowCritical() throws {
        let classifier = DevSetTests.classifier
        let model = try #require(classifier.riskModel)
        #expect(model.vetoBelow > 0 && model.vetoMinimumWords > 0)
        var vetoed = 0
        for set in ["probe-ac.jsonl", "probe-ad.jsonl", "probe-ai.jsonl"] {
            for message in try RepositoryPaths.labelled(RepositoryPaths.probe(set)) {
                let lexicons = Set(classifier.classifyWithLexiconsOnly(message.text).flags)
                let result = classifier.classify(message.text)
                let scores = try #require(classifier.modelScores(message.text))
                var dropped: Set<FlagCode> = []
                for flag in lexicons {
                    let probability = try #require(scores.flags.first { $0.flag == flag }).probability
                    let shouldGo = model.vetoFlags.contains(flag) && probability < model.vetoBelow && scores.words >= model.vetoMinimumWords
                    #expect(result.flags.contains(flag) != shouldGo, "\(message.id) \(flag) \(probability)")
                    if shouldGo {
                        #expect(classifier.taxonomy.flag(flag)?.severity != .critical)
                        dropped.insert(flag)
                        vetoed += 1
                    }
                }
                #expect(Set(scores.flags.filter(\.vetoed).map(\.flag)) == dropped, "\(message.id)")
            }
        }
        #expect(vetoed > 0, "the sets have lexicon flags the model vetoes")
    }

    /// A report of a few words gives the model nothing to contradict the lexicons with: a
    /// lone "desaparecido" scores the flag's base rate, far under the veto.
    @Test(arguments: [
        ("desaparecido", "protection.missing_person"), ("lo asesinaron", "protection.death"), ("extorsión", "protection.extortion"),
        ("ma femme a disparu", "protection.missing_person"), ("m pa jwenn pitit mwen depi 3 jou", "protection.missing_person"),
    ])
    func aShortReportKeepsItsLexiconFlag(text: String, flag: String) throws {
        let classifier = DevSetTests.classifier
        #expect(classifier.classifyWithLexiconsOnly(text).flags.contains(FlagCode(flag)), "the lexicons find it")
        let scores = try #require(classifier.modelScores(text))
        #expect(try #require(scores.flags.first { $0.flag == FlagCode(flag) }).probability < 0.1, "the model alone would veto it")
        #expect(classifier.classify(text).flags.contains(FlagCode(flag)))
    }

    @Test func aLabelledMessageThatIsAlsoALexiconExampleKeepsItsLabel() throws {
        let lexiconsOnly = try Classifier.load(configDirectory: RepositoryPaths.config, riskModel: false)
        let example = try #require(lexiconsOnly.lexiconExamples().first { !$0.flags.isEmpty })
        let labelled: [(text: String, flags: Set<FlagCode>)] = [(example.text, []), ("gracias por todo", [])]
        let training = lexiconsOnly.riskModelTrainingSet(labelled)
        #expect(training.filter { $0.text == example.text }.count == 1)
        #expect(training.first { $0.text == example.text }?.flags == [])
        #expect(training.count == labelled.count + lexiconsOnly.lexiconExamples().count - 1)
        #expect(lexiconsOnly.riskModelTrainingSet(labelled, lexiconExamples: false).count == 2)
    }

    @Test func lexiconExamplesAreLabelledWithWhatTheLexiconsFindInThem() throws {
        let lexiconsOnly = try Classifier.load(configDirectory: RepositoryPaths.config, riskModel: false)
        let examples = lexiconsOnly.lexiconExamples()
        #expect(Set(examples.map(\.text)).count == examples.count, "each text once")
        var flagsOfText: [String: Set<FlagCode>] = [:]
        for lexicon in lexiconsOnly.lexicons {
            for entry in lexicon.flagEntries { for text in entry.examples { flagsOfText[text, default: []].insert(entry.flag) } }
        }
        #expect(examples.count == flagsOfText.count)
        for example in examples {
            // Every flag whose entries list the text (`lexicon check` makes each match), and
            // whatever else the lexicons find in it.
            #expect(flagsOfText[example.text, default: []].isSubset(of: example.flags), "\(example.text)")
        }
        #expect(examples.contains { $0.flags.count > 1 })
    }
}
