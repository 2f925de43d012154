@testable import EscuchaCore
import Foundation
import Testing

@Suite struct TaxonomyTests {
    static let shippedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/taxonomy.yaml").path

    @Test func theShippedTaxonomyHasTheContractCodes() throws {
        let taxonomy = try Taxonomy.load(path: Self.shippedPath)
        #expect(taxonomy.flags.count == 18)
        #expect(taxonomy.families == ["stigma", "discrimination", "protection", "misconduct"])
        #expect(taxonomy.types == ["question", "request", "complaint", "suggestion", "praise", "rumour", "other"])
        #expect(taxonomy.sectors.count == 12)
        #expect(taxonomy.flag("protection.gbv")?.severity == .critical)
        #expect(taxonomy.flag("protection.gbv")?.restricted == true)
        #expect(taxonomy.flag("protection.violence")?.restricted == false)
        #expect(taxonomy.severity(of: ["stigma.rumour", "protection.death"] as [FlagCode]) == .high)
        #expect(taxonomy.isRestricted(["misconduct.fraud"] as [FlagCode]))
    }

    @Test func aNationalSocietyCanAddItsOwnCodes() throws {
        let taxonomy = try Taxonomy.parse(
            """
            types: [question, other]
            sectors: [health]
            flags:
              - {code: protection.gbv, severity: critical, restricted: true}
              - {code: cvaframework.cash_delay, severity: low, sensitive: false, framework: "Feedback > Cash > Delay", category: Cash}
              - {code: cvaframework.abuse_report, severity: high, sensitive: true, category: Safeguarding}
            """, file: "ns.yaml")
        #expect(taxonomy.flag("cvaframework.abuse_report")?.restricted == true)
        #expect(taxonomy.flag("cvaframework.cash_delay")?.category == "Cash")
        #expect(taxonomy.flag("cvaframework.cash_delay")?.framework == "Feedback > Cash > Delay")
        #expect(taxonomy.families.contains("cvaframework"))
    }

    @Test(arguments: [
        ("flags:\n  - {code: bad, severity: low}\ntypes: [other]\nsectors: [x]", 2, "family.name"),
        ("flags:\n  - {code: a.b, severity: huge}\ntypes: [other]\nsectors: [x]", 2, "unknown severity"),
        ("flags:\n  - {code: a.b, severity: low}\n  - {code: a.b, severity: low}\ntypes: [other]\nsectors: [x]", 3, "twice"),
        ("flags:\n  - {code: a.b, severity: low}\nsectors: [x]", 1, "types"),
        ("flags: [\n", 2, "not valid YAML"),
    ])
    func errorsNameTheFileAndLine(yaml: String, line: Int, message: String) {
        do {
            _ = try Taxonomy.parse(yaml, file: "taxonomy.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.file == "taxonomy.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }
}

@Suite struct ContactAddressTests {
    @Test(arguments: [
        ("+573001234821", "+57 *** *** 4821"),
        ("+57 300 123 4821", "+57 *** *** 4821"),
        ("0057 300 123 4821", "+57 *** *** 4821"),
        ("+12025550117", "+1 *** *** 0117"),
        ("+50937001234", "+509 *** *** 1234"),
        ("3001234821", "*** *** 4821"),
        ("maria.perez@example.org", "m***@e***.org"),
        ("12345", "*****"),
    ])
    func masksHideAllButTheEnds(address: String, masked: String) {
        #expect(ContactAddress.mask(address) == masked)
    }

    @Test func canonicalFormsLinkTheSamePerson() throws {
        let protector = try ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())
        #expect(protector.linkHash("+57 300 123 4821") == protector.linkHash("+573001234821"))
        #expect(protector.linkHash("Maria@Example.org") == protector.linkHash("maria@example.org"))
        #expect(protector.linkHash("+573001234821") != protector.linkHash("+573001234822"))
    }
}

@Suite struct TicketReferenceTests {
    @Test func referencesUseCrockfordBase32() {
        var random = SeededRandom(seed: 1)
        for _ in 0..<1000 {
            let reference = TicketReference.random(using: &random)
            #expect(reference.count == 6)
            #expect(reference.allSatisfy { TicketReference.alphabet.contains($0) })
            #expect(!reference.contains { "ILOU".contains($0) })
        }
        #expect(TicketReference.encode(0) == "000000")
        #expect(TicketReference.encode((1 << 30) - 1) == "ZZZZZZ")
    }

    @Test func whatPeopleTypeIsNormalised() {
        #expect(TicketReference.normalise("7kq2xm") == "7KQ2XM")
        #expect(TicketReference.normalise("7KQ-2XM") == "7KQ2XM")
        #expect(TicketReference.normalise("O1IL23") == "011123")
        #expect(TicketReference.normalise("PORQUE") == nil, "U is never in a reference")
        #expect(TicketReference.normalise("ABC") == nil)
    }

    @Test func referencesAreFoundAmongTheWordsOfAMessage() {
        #expect(TicketReference.candidates(in: "mi caso es 7kq2xm, ¿7KQ2XM? gracias") == ["7KQ2XM", "7KQ2XM"])
        #expect(TicketReference.candidates(in: "¡O1IL23!") == ["011123"], "Spanish marks around a word separate it")
        #expect(TicketReference.candidates(in: "porque nadie ayuda") == [], "six letters with a U are no reference")
        #expect(TicketReference.candidates(in: "ABCDEé ABCDEe\u{301} 7KQ2XMñ") == [], "a word with other letters or marks is longer than a reference")
        #expect(TicketReference.candidates(in: "ıabcde") == ["1ABCDE"], "upper-casing turns ı into I, as normalise always did")
        #expect(TicketReference.candidates(in: "👍🏽7KQ2XM👍🏽 ref:7KQ2XM") == ["7KQ2XM", "7KQ2XM"])
        #expect(TicketReference.candidates(in: "7KQ-2XM") == [], "a dash splits words, as it did for the word split before")
        // The same words as splitting on every non-letter, non-number character.
        let texts = [
            "hola 7kq2xm", "ref 7KQ2XM. y ABCDEF", "٣٣٣٣٣٣ ABC123", "x\u{00A0}7KQ2XM\u{2026}", "PORQUÉ 12345Z",
            "ıabcde es mi número", "ABCDßZ", "e\u{301}ABCDE", "7KQ2XM\u{301}",
        ]
        for text in texts {
            let split = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).compactMap { TicketReference.normalise($0) }
            #expect(TicketReference.candidates(in: text) == split, "\(text)")
        }
    }

    /// `candidates` skips words with a non-ASCII scalar outside this set: the set must hold
    /// every scalar Unicode upper-cases to ASCII alone.
    @Test func theScalarsThatUpperCaseToASCIIAreKnown() {
        var found: Set<UInt32> = []
        for value in UInt32(0x80)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if scalar.properties.uppercaseMapping.unicodeScalars.allSatisfy(\.isASCII) { found.insert(value) }
        }
        #expect(found == TicketReference.upperCasesToASCII)
        #expect(TicketReference.candidates(in: "ﬁxabc7 ﬁxab7 añadir más") == ["F1XAB7"], "a ligature counts as its letters")
    }

    @Test func sixASCIICharactersNormaliseAsThroughTheGeneralPath() {
        // Every ASCII letter and digit in every position: the byte path and normalise agree.
        let characters = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var generator = SeededRandom(seed: 6)
        for round in 0..<2_000 {
            let word = (0..<6).map { position in
                round < characters.count && position == round % 6 ? characters[round] : characters[Int.random(in: 0..<characters.count, using: &generator)]
            }
            let text = String(decoding: word, as: UTF8.self)
            #expect(TicketReference.normaliseASCII(word) == TicketReference.normalise(text), "\(text)")
        }
    }
}
