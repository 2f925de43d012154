import EscuchaClassifier
import EscuchaCore
import Testing

@testable import EscuchaClassifier

/// Hotline transcripts written as turns: only the caller's words raise flags (rule 7).
@Suite struct SpeakerTurnsTests {
    let labels = SpeakerLabels(agent: ["Agent", "Operador"], caller: ["Caller", "moun k ap rele a"], fold: Classifier.foldWord)

    @Test func anAgentTurnLastsUntilTheNextLabel() {
        let text = "Agent: Did anyone hit you? Caller: no. Agent: ok, thanks"
        let units = Array(text.utf16)
        let regions = labels.agentRegions(units, fold: Classifier.foldWord)
        let spoken = regions.map { String(decoding: units[$0], as: UTF16.self) }
        #expect(spoken == ["Agent: Did anyone hit you? ", "Agent: ok, thanks"])
    }

    @Test func aLabelNeedsItsColonAndTheLongestLabelWins() {
        #expect(labels.agentRegions(Array("the agent was rude to us".utf16), fold: Classifier.foldWord).isEmpty)
        #expect(labels.agentRegions(Array("la cita es a las 10:30 con el operador".utf16), fold: Classifier.foldWord).isEmpty)
        // "a" ends the caller label: the agent's turn stops at "moun", not at "a".
        let text = "OPERADOR: Èske yon moun te frape w? Moun k ap rele a: non"
        let units = Array(text.utf16)
        let regions = labels.agentRegions(units, fold: Classifier.foldWord)
        #expect(regions.map { String(decoding: units[$0], as: UTF16.self) } == ["OPERADOR: Èske yon moun te frape w? "])
    }

    @Test func theShippedClassifierFlagsOnlyTheCallersWords() {
        let classifier = DevSetTests.classifier
        let screening = "Operador: ¿Alguien lo ha amenazado o golpeado? Llamante: No, gracias a Dios. Quiero saber a qué hora sale el bus."
        #expect(classifier.classify(screening).flags.isEmpty)
        let reported = "Agent: Are you safe where you are? Caller: No, two men beat me and took my money on the road."
        let flags = classifier.classify(reported).flags
        #expect(flags.contains("protection.violence"))
        // The same caller words without turns are flagged the same way.
        #expect(classifier.classify("two men beat me and took my money on the road").flags.contains("protection.violence"))
    }
}
