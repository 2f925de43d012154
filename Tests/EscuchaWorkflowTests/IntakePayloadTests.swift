import EscuchaClassifier
import EscuchaCore
import EscuchaStore
@testable import EscuchaWorkflow
import Foundation
import Testing

/// What intake writes by hand instead of through JSONEncoder must say the same thing.
@Suite struct IntakePayloadTests {
    @Test func placesAndEvidenceWrittenByHandReadAsJSONEncodersDo() throws {
        let places = [
            Place(name: "Cúcuta", country: "CO", admin1: "CO-NSA", admin2: nil, kind: "city", aliases: ["cucuta", "Cúcuta \"centro\""]),
            Place(name: "Darién", country: "PA", admin1: nil, admin2: nil, kind: "route", aliases: []),
        ]
        let evidence = try JSONDecoder().decode([Evidence].self, from: Data("""
            [{"flag":"protection.gbv","start":3,"end":11,"text":"me pega\\n\\"siempre\\"","entry":"es:protection.gbv#2","language":"es"},
             {"flag":"stigma.xenophobia","start":0,"end":6,"text":"veneco 👎🏽","entry":"es:stigma.xenophobia#1","language":"es"}]
            """.utf8))
        func same(_ byHand: JSON, _ encoded: Data) throws {
            let left = try JSONSerialization.jsonObject(with: Data(byHand.text.utf8)) as! NSArray
            let right = try JSONSerialization.jsonObject(with: encoded) as! NSArray
            #expect(left.isEqual(to: right as! [Any]), "\(byHand.text)")
        }
        try same(TicketWriter.json(places), try JSONEncoder().encode(places))
        try same(TicketWriter.json(evidence), try JSONEncoder().encode(evidence))
        #expect(try JSONDecoder().decode([Place].self, from: Data(TicketWriter.json(places).text.utf8)) == places)
        #expect(try JSONDecoder().decode([Evidence].self, from: Data(TicketWriter.json(evidence).text.utf8)) == evidence)
        #expect(TicketWriter.json([Place]()).text == "[]")
        #expect(TicketWriter.json([Evidence]()).text == "[]")
    }

    @Test func everyReferencePlaceholderIsFilled() {
        #expect(MessageTemplates.filling("Caso {reference}. Escriba {reference} 🙏", reference: "7KQ2XM") == "Caso 7KQ2XM. Escriba 7KQ2XM 🙏")
        #expect(MessageTemplates.filling("{reference}", reference: "ABC") == "ABC")
        #expect(MessageTemplates.filling("sin marca {referenc} {REFERENCE}", reference: "X") == "sin marca {referenc} {REFERENCE}")
        #expect(MessageTemplates.filling("ñ{reference}{reference}ã", reference: "Z") == "ñZZã")
        #expect(MessageTemplates.filling("", reference: "Z") == "")
    }
}
