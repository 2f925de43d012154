import Foundation
import EscuchaClassifier
import EscuchaCore
import Testing

@testable import EscuchaClassifier

/// Hotline transcripts written as turns: only the caller's words raise flags (rule 7).
@Suite struct SpeakerTurnsTests {
    let labels = SpeakerLabels(agent: ["Agent", "Operador"], caller: ["Caller", "moun k ap rele a"])

    @Test func anAgentTurnLastsUntilTheNextLabel() {
        let text = "Agent: Did anyone hit you? Caller: no. Agent: ok, thanks"
        let units = Array(text.utf16)
        let regions = labels.agentRegions(units)
        let spoken = regions.map { String(decoding: units[$0], as: UTF16.self) }
        #expect(spoken == ["Agent: Did anyone hit you? ", "Agent: ok, thanks"])
    }

    @Test func aLabelNeedsItsColonAndTheLongestLabelWins() {
        #expect(labels.agentRegions(Array("the agent was rude to us".utf16)).isEmpty)
        #expect(labels.agentRegions(Array("la cita es a las 10:30 con el operador".utf16)).isEmpty)
        // "a" ends the caller label: the agent's turn stops at "moun", not at "a".
        let text = "OPERADOR: Èske yon moun te frape w? Moun k ap rele a: non"
        let units = Array(text.utf16)
        let regions = labels.agentRegions(units)
        #expect(regions.map { String(decoding: units[$0], as: UTF16.self) } == ["OPERADOR: Èske yon moun te frape w? "])
    }

    @Test func turnsBeginAtLinesOrSentencesAndBothSidesSpeak() {
        func spoken(_ text: String) -> [String] {
            let units = Array(text.utf16)
            return labels.agentRegions(units).map { String(decoding: units[$0], as: UTF16.self) }
        }
        // A label inside a sentence, or a text with one side only, is the person's own words.
        #expect(spoken("Me dijo el operador: si no me acuesto con él no me da nada").isEmpty)
        #expect(spoken("Agent: he hit me").isEmpty)
        // No-break spaces and a fullwidth colon before it, a number after the label, a line break before.
        #expect(spoken("Operador\u{a0}: ¿Alguien lo amenazó?\nCaller\u{202f}: no") == ["Operador\u{a0}: ¿Alguien lo amenazó?\n"])
        #expect(spoken("Operador 2： hola. Caller: no") == ["Operador 2： hola. "])
    }

    @Test(arguments: [
        ("I called the hotline: my husband beats me every night and I want to kill myself", "protection.self_harm"),
        ("CEA: mi esposo me pega todas las noches y quiero matarme", "protection.self_harm"),
        ("El agente: me pidió sexo a cambio de la tarjeta de ayuda", "misconduct.sexual_exploitation"),
        ("Me dijo el operador: si no me acuesto con él no me da la ayuda", "misconduct.sexual_exploitation"),
    ])
    func aPersonsOwnWordsWithALabelWordStayFlagged(text: String, flag: String) {
        #expect(DevSetTests.classifier.classify(text).flags.contains(FlagCode(flag)), "\(text)")
    }

    /// A summary: the agent's acts raise nothing when the caller also has a sentence; the
    /// person's own words about a migration agent stay flagged.
    @Test func aSummaryDropsTheAgentsActsOnly() {
        let classifier = DevSetTests.classifier
        let summaries = [
            "Agent informs the caller that survivors of trafficking or sexual violence can call the 24h line. Caller says thanks, that is not her situation.",
            "Agente explica la ruta de atención para víctimas de trata y de violencia sexual. El usuario agradece y pregunta el horario del comedor.",
            "L’opérateur a expliqué la procédure pour les victimes de traite. L'appelant dit merci.",
            "Ajan an esplike kijan pou denonse vyolans seksyel ak moun k ap fe trafik. Moun nan di mesi, se pa ka l.",
        ]
        for text in summaries { #expect(classifier.classify(text).flags.isEmpty, "\(text)") }
        #expect(classifier.classify("Agent asks if she is safe; caller says her husband beats her every night.").flags.contains("protection.gbv"))
        #expect(classifier.classify("The agent said he would deport us unless we paid. we have no money").flags.contains("protection.deportation"))
        #expect(classifier.classify("Agente de migración me quitó el pasaporte. Usuario pide ayuda.").flags.contains("protection.trafficking"))
    }

    @Test func theShippedClassifierFlagsOnlyTheCallersWords() {
        let classifier = DevSetTests.classifier
        let screening = "Operador: ¿Alguien lo ha amenazado o golpeado? Llamante: No, gracias a Dios. Quiero saber a qué hora sale el bus."
        #expect(classifier.classify(screening).flags.isEmpty)
        #expect(classifier.classify(screening.replacingOccurrences(of: ":", with: "\u{a0}:")).flags.isEmpty, "French spacing")
        let reported = "Agent: Are you safe where you are? Caller: No, two men beat me and took my money on the road."
        let flags = classifier.classify(reported).flags
        #expect(flags.contains("protection.violence"))
        // The same caller words without turns are flagged the same way.
        #expect(classifier.classify("two men beat me and took my money on the road").flags.contains("protection.violence"))
    }

    /// The summary rule's scan stops at each sentence end (`.`, `?`, `!`, `;`, line breaks,
    /// `…`, `。`) and at nothing else, whatever the text (an end anywhere, none at all).
    @Test func theSentenceScanFindsEachSentenceEnd() {
        let ends: [UInt16] = [0x0A, 0x0D, 0x2E, 0x3F, 0x21, 0x3B, 0x2026, 0x3002]
        // Near misses: each is one off an end, or an end's low byte in another block.
        let others: [UInt16] = [0x61, 0x20, 0x2C, 0x3A, 0x0B, 0x2F, 0x3C, 0x2025, 0x2027, 0x3001, 0x3003, 0x012E, 0x213F, 0xE9]
        var random = SeededRandom(seed: 7)
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...40, using: &random)
            var units = (0..<count).map { _ in others[Int.random(in: 0..<others.count, using: &random)] }
            if count > 0, Bool.random(using: &random) {
                units[Int.random(in: 0..<count, using: &random)] = ends[Int.random(in: 0..<ends.count, using: &random)]
            }
            let from = Int.random(in: 0...count, using: &random)
            let expected = units[from...].firstIndex(where: ends.contains) ?? count
            #expect(units.withUnsafeBufferPointer { SpeakerLabels.sentenceEnd($0, from: from) } == expected, "\(units) from \(from)")
        }
    }
}
