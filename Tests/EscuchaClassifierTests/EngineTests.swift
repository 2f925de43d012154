import EscuchaClassifier
import EscuchaCore
import Foundation
import Testing

/// A small inline lexicon, so these tests pin the engine's semantics independently of the
/// shipped lexicons.
enum EngineFixture {
    static let taxonomy = try! Taxonomy.parse(
        """
        fallback_type: other
        types: [question, request, complaint, praise, rumour, other]
        sectors: [health, protection, food]
        flags:
          - {code: protection.gbv, severity: critical, restricted: true}
          - {code: protection.violence, severity: high, restricted: false}
          - {code: protection.self_harm, severity: critical, restricted: true}
          - {code: discrimination.service_denial, severity: medium, restricted: false}
        """, file: "taxonomy.yaml")

    static let spanish = try! LexiconFile.parse(
        """
        language: es
        negation: {scope: 3, cues: [no, nadie, nunca]}
        abbreviations: {xq: porque, q: que}
        function_words: [el, la, que, de, me, mi, no, por, porque, en, y]
        flags:
          protection.violence:
            - terms: [me golpe*, me pegaron, amenaz* de muerte]
          protection.gbv:
            - near: [[esposo, marido], [pega*, golpea*]]
              within: 3
          protection.self_harm:
            - terms: [me quiero morir, me muero]
          discrimination.service_denial:
            - terms: [no me quisieron atender]
        exclusions:
          - terms: [me muero de risa, me muero de hambre]
          - terms: [donde puedo denunciar]
            scope: sentence
          - terms: [que pasa si]
            scope: next_sentence
            flags: [protection.violence]
        types:
          question: {weight: 2, terms: ["?", donde]}
          request: {weight: 2, terms: [necesito, ayuda]}
          praise: [gracias]
        sectors:
          health: [hospital, medic*]
        """, file: "es.yaml")

    static let english = try! LexiconFile.parse(
        """
        language: en
        negation: {scope: 2, cues: [not, never]}
        function_words: [the, and, i, my, was, is, to, of]
        flags:
          protection.violence:
            - terms: [beaten, robbed]
        """, file: "en.yaml")

    static let classifier = try! Classifier(
        taxonomy: taxonomy, lexicons: [spanish, english],
        places: [Place(name: "Cúcuta", country: "CO", admin1: "CO-NSA", admin2: nil, kind: "city", aliases: ["cucuta"])],
        commonYAML: "flag_sectors: {protection.*: [protection]}\nprecedence: {protection.gbv: [protection.violence]}", versionSeed: "fixture")
}

@Suite struct NormalisationTests {
    let classifier = EngineFixture.classifier

    @Test func accentsCaseAndRepeatedLettersAreFolded() {
        #expect(classifier.classify("ME GOLPEARON").flags == ["protection.violence"])
        #expect(classifier.classify("mé gólpéaron").flags == ["protection.violence"])
        #expect(classifier.classify("me golpeeeeeeaaaronnn!!!").flags == ["protection.violence"])
    }

    @Test func digitsInsideWordsAreReadAsLetters() {
        #expect(classifier.classify("m3 g0lp3aron").flags == ["protection.violence"])
        #expect(classifier.classify("tengo 3 hijos").flags.isEmpty)
    }

    @Test func abbreviationsExpand() {
        // `xq` becomes `porque`; the sentence must still be classified, and `q` must not
        // hide the match.
        #expect(classifier.classify("xq me golpearon").flags == ["protection.violence"])
    }

    @Test func emojiAndSymbolsDoNotBreakMatching() {
        // Emoji are not words: one between two words does not break a phrase.
        #expect(classifier.classify("😢😢 me 👊 golpearon 🙏").flags == ["protection.violence"])
        #expect(classifier.classify("me golpearon 😢🙏🏽").flags == ["protection.violence"])
    }

    @Test func emptyAndOddInputIsHandled() {
        #expect(classifier.classify("").flags.isEmpty)
        #expect(classifier.classify("\u{FFFD}\u{FFFD} \u{0000} \t\n").flags.isEmpty)
        let long = String(repeating: "palabra ", count: 5000) + "me golpearon"
        #expect(classifier.classify(long).flags == ["protection.violence"])
    }

    @Test func nonLatinScriptsAreSegmentedAndIdentified() {
        let arabic = classifier.classify("أحتاج مساعدة من فضلك")
        #expect(arabic.script == "Arab")
        #expect(arabic.language == "ar")
        let chinese = classifier.classify("我需要帮助")
        #expect(chinese.script == "Hani")
    }

    @Test func foldingMatchesICUCaseFolding() {
        #expect(ICUText.foldForMatching("Straße") == "strasse")
        #expect(ICUText.foldForMatching("ÇÀ ÉTÉ") == "ca ete")
        #expect(ICUText.caseFold("ÉTÉ") == "été")
    }
}

@Suite struct MatchingTests {
    let classifier = EngineFixture.classifier

    @Test func negationCancelsWithinScope() {
        #expect(classifier.classify("nadie me golpeo").flags.isEmpty)
        #expect(classifier.classify("no me golpearon").flags.isEmpty)
        #expect(classifier.classify("I was not robbed").flags.isEmpty)
        #expect(classifier.classify("I was robbed").flags == ["protection.violence"])
    }

    @Test func negationDoesNotCrossClausesOrReachFar() {
        #expect(classifier.classify("no tengo plata, me golpearon").flags == ["protection.violence"])
        #expect(classifier.classify("no tengo nada de plata y me golpearon").flags == ["protection.violence"])
    }

    @Test func negationInsideAPhraseIsPartOfTheRisk() {
        #expect(classifier.classify("en el hospital no me quisieron atender").flags == ["discrimination.service_denial"])
    }

    @Test func proximityEntriesNeedBothSidesWithinTheWindow() {
        #expect(classifier.classify("mi esposo me pega").flags == ["protection.gbv"])
        #expect(classifier.classify("me pega mi esposo").flags == ["protection.gbv"])
        #expect(classifier.classify("mi esposo trabaja lejos y el jefe le pega").flags.isEmpty)
        #expect(classifier.classify("mi esposo llegó. Hoy me pega el sol").flags.isEmpty, "different sentences")
    }

    @Test func exclusionsCancelIdioms() {
        #expect(classifier.classify("me muero de risa jaja").flags.isEmpty)
        #expect(classifier.classify("me muero de hambre").flags.isEmpty)
        #expect(classifier.classify("ya no aguanto, me muero").flags == ["protection.self_harm"])
        #expect(classifier.classify("donde puedo denunciar si me golpearon?").flags.isEmpty)
    }

    @Test func negationBindsModelNamesOnlyKnownFlags() {
        #expect(throws: ConfigError.self) {
            try Classifier(
                taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [],
                commonYAML: "negation_binds_model: [protection.self_harm, protection.selfharm]")
        }
        #expect(throws: Never.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "negation_binds_model: [protection.self_harm]")
        }
    }

    @Test func quietTypesNameKnownTypesWithAProbability() {
        #expect(throws: ConfigError.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "quiet_types: {thanks: 0.3}")
        }
        #expect(throws: ConfigError.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "quiet_types: {praise: 1.5}")
        }
        #expect(throws: ConfigError.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "quiet_types: {praise: often}")
        }
        #expect(throws: ConfigError.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "quiet_types: [praise]")
        }
        #expect(throws: Never.self) {
            try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], commonYAML: "quiet_types: {praise: 0.3}")
        }
    }

    /// A hypothetical question's topic often follows its question mark: `next_sentence`
    /// reaches that one sentence, and nothing before the question.
    @Test func aNextSentenceExclusionReachesOneSentenceOn() {
        #expect(classifier.classify("que pasa si vuelvo a la frontera, me golpean?").flags.isEmpty)
        #expect(classifier.classify("que pasa si vuelvo a la frontera? me golpean?").flags.isEmpty)
        #expect(classifier.classify("que pasa si vuelvo a la frontera? no se. me golpearon alla").flags == ["protection.violence"])
        #expect(classifier.classify("me golpearon alla. que pasa si vuelvo?").flags == ["protection.violence"])
        #expect(classifier.classify("que pasa si vuelvo? me quiero morir").flags == ["protection.self_harm"], "only the flags it names")
    }

    @Test func evidenceOffsetsPointAtTheOriginalWords() throws {
        let text = "Hola 👋🏽, ayer ME GOLPÉARON en Cúcuta"
        let result = classifier.classify(text)
        let evidence = try #require(result.evidence.first)
        #expect(evidence.text == "ME GOLPÉARON")
        let utf16 = Array(text.utf16)
        #expect(String(decoding: utf16[evidence.start..<evidence.end], as: UTF16.self) == "ME GOLPÉARON")
        #expect(evidence.entry == "es:protection.violence#1")
        #expect(evidence.language == "es")
    }

    @Test func severityRestrictionSectorsPlacesAndTypeFollowTheFlags() {
        let result = classifier.classify("mi marido me golpea, necesito ayuda en Cucuta")
        #expect(result.flags == ["protection.gbv"])
        #expect(result.severity == .critical)
        #expect(result.restricted)
        #expect(result.sectors == ["protection"])
        #expect(result.places.map(\.admin1) == ["CO-NSA"])
        #expect(result.type == "request")
        #expect(classifier.classify("gracias por todo").type == "praise")
        #expect(classifier.classify("donde queda el hospital?").type == "question")
        #expect(classifier.classify("donde queda el hospital?").sectors == ["health"])
        #expect(classifier.classify("me golpearon").type == "complaint")
        #expect(classifier.classify("hola").type == "other")
    }

    @Test func resultsAreDeterministicAndVersioned() {
        let a = classifier.classify("mi esposo me pega y me golpearon")
        let b = classifier.classify("mi esposo me pega y me golpearon")
        #expect(a == b)
        let other = try! Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [EngineFixture.spanish], places: [], versionSeed: "changed")
        #expect(other.version != classifier.version)
    }

    @Test func unknownFlagCodesAreRejectedWithFileAndLine() {
        let bad = try! LexiconFile.parse(
            """
            language: es
            flags:
              protection.unknown_thing:
                - terms: [algo]
            """, file: "bad.yaml")
        #expect(throws: ConfigError.self) {
            _ = try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [bad], places: [])
        }
        do {
            _ = try Classifier(taxonomy: EngineFixture.taxonomy, lexicons: [bad], places: [])
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.line == 4)
        }
    }

    @Test func languageIsIdentifiedFromFunctionWords() {
        #expect(classifier.classify("el niño de la casa que vive en mi barrio").language == "es")
        #expect(classifier.classify("I was at the shelter and my kids").language == "en")
        let mixed = classifier.classify("mi hijo y la escuela de el barrio, I was there and the kids to the school")
        #expect(Set(mixed.languages) == ["es", "en"])
    }
}

@Suite struct ScriptTieTests {
    @Test func equalScriptsResolveTheSameWayEveryTime() {
        // Three Cyrillic and three Han letters: the tie goes to the first script by name,
        // whatever order the classifier's dictionaries happen to have in this process.
        var seen = Set<String>()
        for _ in 0..<40 { seen.insert(EngineFixture.classifier.classify("дом 家家家").script) }
        #expect(seen == ["Cyrl"])
    }
}
