import EscuchaClassifier
import EscuchaCore
import Foundation
import Testing

/// Paths of the repository and of the shared folder beside it.
enum RepositoryPaths {
    /// The repository root (this file is Tests/EscuchaClassifierTests/DevSetTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let config = root.appendingPathComponent("Config").path
    /// `ESCUCHA_SHARED_DIR`, else `../shared` beside the repository.
    static let shared = ProcessInfo.processInfo.environment["ESCUCHA_SHARED_DIR"]
        ?? root.deletingLastPathComponent().appendingPathComponent("shared").path

    /// The messages of a labelled JSON Lines file.
    static func labelled(_ path: String) throws -> [LabelledMessage] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(LabelledMessage.self, from: Data($0.utf8)) }
    }

    /// The probe sets of `Eval/` already used to fix the lexicons and train the model, with
    /// their sizes. A set measured cold but not yet used is left out until it is (Eval/README.md).
    static let usedProbeSets = [
        ("probe-a.jsonl", 300), ("probe-b.jsonl", 220), ("probe-c.jsonl", 200), ("probe-d.jsonl", 260), ("probe-e.jsonl", 240),
        ("probe-f.jsonl", 250), ("probe-g.jsonl", 250), ("probe-h.jsonl", 250), ("probe-i.jsonl", 250), ("probe-j.jsonl", 250),
        ("probe-k.jsonl", 250), ("probe-l.jsonl", 250), ("probe-m.jsonl", 250),
        ("probe-n.jsonl", 250), ("probe-o.jsonl", 250), ("probe-p.jsonl", 250), ("probe-q.jsonl", 250), ("probe-r.jsonl", 250),
        ("probe-s.jsonl", 250), ("probe-t.jsonl", 250), ("probe-u.jsonl", 250), ("probe-v.jsonl", 250),
        ("probe-w.jsonl", 250), ("probe-x.jsonl", 250), ("probe-y.jsonl", 250), ("probe-z.jsonl", 250),
        ("probe-aa.jsonl", 250), ("probe-ab.jsonl", 250), ("probe-ac.jsonl", 250), ("probe-ad.jsonl", 250),
        ("probe-ae.jsonl", 250), ("probe-af.jsonl", 250), ("probe-ag.jsonl", 250), ("probe-ah.jsonl", 250),
        ("probe-ai.jsonl", 250), ("probe-aj.jsonl", 250),
        ("probe-ak.jsonl", 250), ("probe-al.jsonl", 250), ("probe-am.jsonl", 250), ("probe-an.jsonl", 250), ("probe-ao.jsonl", 250),
        ("probe-ap.jsonl", 250), ("probe-aq.jsonl", 250), ("probe-ar.jsonl", 250), ("probe-as.jsonl", 250), ("probe-at.jsonl", 250),
        ("probe-av.jsonl", 250), ("probe-aw.jsonl", 250), ("probe-ax.jsonl", 250), ("probe-ay.jsonl", 250),
        ("probe-az.jsonl", 250), ("probe-ba.jsonl", 250), ("probe-bb.jsonl", 250), ("probe-bc.jsonl", 250),
        ("probe-bd.jsonl", 250), ("probe-be.jsonl", 250), ("probe-bf.jsonl", 250), ("probe-bg.jsonl", 250),
        ("probe-bh.jsonl", 250), ("probe-bi.jsonl", 250), ("probe-bj.jsonl", 250), ("probe-bk.jsonl", 250),
        ("probe-bl.jsonl", 250), ("probe-bm.jsonl", 250), ("probe-bn.jsonl", 250), ("probe-bo.jsonl", 250),
        ("probe-bp.jsonl", 250), ("probe-bq.jsonl", 250), ("probe-br.jsonl", 250), ("probe-bs.jsonl", 250),
        ("probe-bt.jsonl", 250), ("probe-bu.jsonl", 250), ("probe-bv.jsonl", 250), ("probe-bw.jsonl", 250),
        ("probe-bx.jsonl", 250), ("probe-by.jsonl", 250), ("probe-bz.jsonl", 250), ("probe-ca.jsonl", 250),
        ("probe-cb.jsonl", 250), ("probe-cc.jsonl", 250), ("probe-cd.jsonl", 250), ("probe-ce.jsonl", 250),
        ("probe-cf.jsonl", 250), ("probe-cg.jsonl", 250), ("probe-ch.jsonl", 250), ("probe-ci.jsonl", 250),
        ("probe-cj.jsonl", 250), ("probe-ck.jsonl", 250), ("probe-cl.jsonl", 250), ("probe-cm.jsonl", 250),
    ]

    static func probe(_ file: String) -> String { root.appendingPathComponent("Eval/" + file).path }
}

/// The shipped lexicons against the labelled development set. The floors sit a little
/// under the targets so that a regression fails CI.
@Suite struct DevSetTests {
    static let classifier = try! Classifier.load(configDirectory: RepositoryPaths.config)

    static func devSet() throws -> [LabelledMessage] {
        try RepositoryPaths.labelled(RepositoryPaths.shared + "/eval/dev.jsonl")
    }

    @Test func shippedLexiconsPassTheirOwnCheck() {
        let errors = Self.classifier.checkLexicons().filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.map(\.description).joined(separator: "\n"))")
    }

    /// Sexual abuse of children written the way people write it, beyond the dev set; and
    /// the Spanish "le toca a" (it is her turn), which is no touch.
    @Test(arguments: [
        ("mi padrastro toca a mi hija de 9 años", true),
        ("un señor del albergue manosea a los niños", true),
        ("el vecino le tocó las partes a mi niña", true),
        ("me quieren quitar a mis hijos y venderlos", true),
        ("meu padrasto mexe com minha filha de 10 anos", true),
        ("le toca a mi hija lavar los platos hoy", false),
        ("hoy me toca a mí cuidar a los niños", false),
    ])
    func childAbuseIsFlaggedAndTurnsAreNot(text: String, flagged: Bool) {
        #expect(Self.classifier.classify(text).flags.contains("protection.child_at_risk") == flagged, "\(text)")
    }

    /// Phrasings found missing or misfiring while probing the lexicons with messages written
    /// apart from them: the flag each must raise, or `nil` for an ordinary message that
    /// must raise none.
    @Test(arguments: [
        ("el voluntario de la cruz roja me dijo que si me acuesto con el me da el kit", "misconduct.sexual_exploitation"),
        ("o voluntário disse que me dava a cesta se eu saísse com ele", "misconduct.sexual_exploitation"),
        ("el dueño del cuarto me pide que me acueste con el para no cobrarme el arriendo", "protection.gbv"),
        ("ofereceram emprego mas estamos presas e não deixam a gente sair", "protection.trafficking"),
        ("mi hermano se quiere tirar del puente", "protection.self_harm"),
        ("y ademas la policia me pidio plata para pasar", "protection.extortion"),
        ("the boss says we still owe the debt for the trip", "protection.trafficking"),
        ("la policia nos pidio los documentos en el reten y nos dejo seguir", nil),
        ("me voy a tirar a dormir un rato", nil),
        ("mi abuela se quiere morir de la risa con el video", nil),
        ("estou sem emprego e devendo o aluguel", nil),
        ("perdi o trabalho e tenho divida no mercado", nil),
        ("estou sem trabalho e preciso pagar a passagem para Manaus", nil),
        ("I owe the landlord two months of rent", nil),
        ("where can i find work? i need to pay my debt", nil),
        // A cue inside a phrase that denies nothing after it (negation.not_negating).
        ("no aguanto mas quiero matarme", "protection.self_harm"),
        ("quem nao pagou apanhou", "protection.violence"),
        ("je n'en peux plus, je veux mourir", "protection.self_harm"),
        ("no me quiero matar, solo necesito trabajo", nil),
        ("no me pegaron, todo bien gracias", nil),
    ] as [(String, String?)])
    func probedPhrasings(text: String, flag: String?) {
        // The lexicons alone: what these cases were written for.
        let flags = Self.classifier.classifyWithLexiconsOnly(text).flags.map(\.rawValue)
        if let flag {
            #expect(flags.contains(flag), "\(text): \(flags)")
        } else {
            #expect(flags.isEmpty, "\(text): \(flags)")
        }
    }

    @Test func devSetScoresStayAboveTheFloors() throws {
        let messages = try Self.devSet()
        #expect(messages.count == 240)
        let report = Self.classifier.evaluate(messages)
        #expect(report.micro.f1 >= 0.88, "micro-F1 \(report.micro.f1)")
        #expect(report.criticalRecall >= 0.93, "critical recall \(report.criticalRecall)")
        #expect(report.falseAlarmRate <= 0.04, "false alarms \(report.falseAlarmRate)")
        #expect(report.languageAccuracy >= 0.97, "language id \(report.languageAccuracy)")
        // The model learnt the development set's types and sectors (1.000 and 0.964 in stop 15).
        #expect(report.typeAccuracy >= 0.95, "type accuracy \(report.typeAccuracy)")
        #expect(report.sectors.f1 >= 0.90, "sector F1 \(report.sectors.f1)")
    }

    /// The micro-F1 floor of a used probe set (AB's had been 0.88 until its second pass in
    /// stop 14).
    static let f1Floor = 0.92
    /// BS (teenagers' everyday questions: "mi hija de 17 quiere hacer el curso…") keeps 9–11
    /// of its 83 flag-free messages flagged even after training on it: the model weighs a
    /// teenager's age towards child_at_risk, and numbers left out of its features cost more
    /// than they save (stop 18, docs/lexicon.md). Its ceiling holds it where it is.
    /// Elsewhere 0.075, six of a set's 82–86 flag-free messages (0.07, five, until stop 18:
    /// with BX–CA in the training BC, BN and BZ came to six).
    /// CC and CG (stop 19) keep eight flagged of their 84 and 87: some of their contexts
    /// ("fui deportada em 2019", "tô perdida", a workshop "sobre" a risk, "la presión en 200"
    /// as a figure of speech) can also be the words of a real report, so their exclusions were
    /// narrowed or dropped after review rather than hide one.
    static let falseAlarmCeilings = ["probe-bs.jsonl": 0.14, "probe-cc.jsonl": 0.10, "probe-cg.jsonl": 0.10]
    /// BV is SMS of 2–20 words: seven of its 250 ("clinic open sunday?", "kat la rechaje?",
    /// "me chamaram de venezuelana imunda no mercado") have no function word of their own
    /// language, or one shared with another (stop 18). Over all the sets the 99 % holds.
    static let languageFloors = ["probe-bv.jsonl": 0.97]

    /// The probe sets of `Eval/`, written apart from the lexicons and since used to fix them:
    /// floors a little under today's scores, so that a change that undoes a fix fails.
    @Test(arguments: RepositoryPaths.usedProbeSets)
    func probeSetsStayAboveTheirFloors(file: String, count: Int) throws {
        let messages = try RepositoryPaths.labelled(RepositoryPaths.probe(file))
        #expect(messages.count == count)
        let report = Self.classifier.evaluate(messages)
        #expect(report.micro.f1 >= Self.f1Floor, "\(file) micro-F1 \(report.micro.f1)")
        #expect(report.criticalRecall >= 0.97, "\(file) critical recall \(report.criticalRecall)")
        #expect(report.falseAlarmRate <= Self.falseAlarmCeilings[file, default: 0.075], "\(file) false alarms \(report.falseAlarmRate)")
        // A set may hold a few texts no function word can place ("teste 123", "STOP", Spanish
        // with Portuguese loanwords labelled Portuguese): 0.98 a set, 0.99 over all of them.
        #expect(report.languageAccuracy >= Self.languageFloors[file, default: 0.98], "\(file) language id \(report.languageAccuracy)")
        // The model learnt the types and sectors of these sets (0.956 and 0.93 at the least in
        // stop 15; AC's types 0.920 in stop 17, with 4,000 more messages in the training); on
        // sets it had not seen it scored 0.86–0.89 and 0.76–0.80 (docs/lexicon.md). The
        // sector floor is 0.88 since stop 18: the writers of BL–BO read the sectors more
        // widely, and with their sets in the training AD, AE, AG, AM and AZ fell to 0.889–0.897.
        #expect(report.typeAccuracy >= 0.91, "\(file) type accuracy \(report.typeAccuracy)")
        #expect(report.sectors.f1 >= 0.88, "\(file) sector F1 \(report.sectors.f1)")
    }

    /// The language target (99 %) over every used set together.
    @Test func languageIdentificationOverAllUsedSets() throws {
        var correct = 0
        var total = 0
        for (file, _) in RepositoryPaths.usedProbeSets {
            let report = Self.classifier.evaluate(try RepositoryPaths.labelled(RepositoryPaths.probe(file)))
            correct += report.languageCorrect
            total += report.languageTotal
        }
        #expect(total > 9000)
        #expect(Double(correct) / Double(total) >= 0.99, "\(correct) of \(total)")
    }

    /// Contexts that are not cases (stop 19's exclusions): a lesson, a figure of speech, an
    /// event long over. Each is paired with the plain report it must not hide.
    @Test(arguments: [
        ("je suis étudiante en travail social à Montréal, je voudrais interviewer quelqu'un",
         "ma femme est en travail depuis hier soir et elle perd beaucoup de sang", "protection.medical_emergency"),
        ("casi me da un infarto cuando vi que el bus se iba sin mi jaja",
         "a mi papa le esta dando un infarto, no puede respirar, manden ambulancia", "protection.medical_emergency"),
        ("I used to be suicidal back in 2019, now I want to train as a peer supporter",
         "I feel suicidal tonight and I don't know who to call", "protection.self_harm"),
        ("hicimos la sesion de primeros auxilios psicologicos, hablamos de ideas suicidas y de como pedir ayuda",
         "mi hija tiene ideas suicidas y no sé qué hacer", "protection.self_harm"),
    ])
    func contextsThatAreNotCasesRaiseNoFlag(context: String, report: String, flag: String) {
        #expect(!Self.classifier.classify(context).flags.contains(FlagCode(flag)), "\(context)")
        #expect(Self.classifier.classify(report).flags.contains(FlagCode(flag)), "\(report)")
    }

    /// Thanks are not reports (`quiet_types`): a past crisis told in a thank-you raises
    /// nothing, but a farewell dressed as thanks keeps the self-harm the lexicons found.
    @Test func thanksQuietTheModelButNotACriticalLexiconFlag() throws {
        for thanks in [
            "merci beaucoup pour la psychologue, l'an dernier je pensais à mourir mais maintenant ça va très bien",
            "mèsi anpil pou sikològ la, ane pase m te vle touye tèt mwen men kounye a m byen",
        ] {
            let result = Self.classifier.classify(thanks)
            #expect(result.type == "praise", "\(thanks)")
            #expect(result.flags.isEmpty, "\(thanks)")
        }
        let farewell = "Señora Milagros, ya compré las pastillas. Solo quería decirle a alguien gracias por todo, fueron muy buenos conmigo. Cuiden a mi niña."
        let result = Self.classifier.classify(farewell)
        #expect(result.flags.contains("protection.self_harm"))
        #expect(result.evidence.contains { $0.flag == "protection.self_harm" && !$0.entry.hasPrefix("model:") })
    }

    @Test(arguments: ["es", "en", "pt", "fr", "ht"])
    func everyLanguageHasALexicon(language: String) throws {
        let messages = try Self.devSet().filter { $0.lang == language }
        let report = Self.classifier.evaluate(messages)
        #expect(report.micro.f1 >= 0.80, "\(language) micro-F1 \(report.micro.f1)")
        #expect(report.languageAccuracy >= 0.95, "\(language) language id \(report.languageAccuracy)")
    }
}
