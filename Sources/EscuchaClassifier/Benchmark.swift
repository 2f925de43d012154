import EscuchaCore

/// Generates realistic-looking messages for the classifier benchmark: mixed languages,
/// 20–600 characters, phone spellings, some risk words, some accents and emoji.
public struct MessageGenerator: Sendable {
    private static let vocabulary: [[String]] = [
        // es
        ["hola", "necesito", "ayuda", "por", "favor", "mi", "hijo", "esta", "enfermo", "en", "cucuta", "no", "tenemos", "comida",
         "xq", "q", "la", "policía", "nos", "pidió", "plata", "para", "pasar", "gracias", "cruz", "roja", "dónde", "puedo",
         "dormir", "hoy", "somos", "venezolanos", "y", "nos", "tratan", "mal", "ayudaaa", "el", "albergue", "está", "lleno"],
        // en
        ["hello", "we", "need", "help", "please", "my", "daughter", "is", "sick", "where", "can", "i", "get", "food", "the",
         "shelter", "was", "closed", "they", "took", "our", "passport", "thanks", "for", "the", "water", "pls", "u"],
        // pt
        ["olá", "preciso", "de", "ajuda", "meu", "filho", "está", "doente", "em", "boa", "vista", "não", "temos", "comida",
         "vc", "pode", "obrigado", "onde", "posso", "dormir", "a", "polícia", "pediu", "dinheiro"],
        // fr
        ["bonjour", "j'ai", "besoin", "d'aide", "mon", "enfant", "est", "malade", "nous", "n'avons", "pas", "de", "nourriture",
         "merci", "où", "peut", "on", "dormir", "la", "police", "a", "demandé", "de", "l'argent"],
        // ht
        ["bonjou", "mwen", "bezwen", "èd", "pitit", "mwen", "malad", "nou", "pa", "gen", "manje", "mèsi", "kote", "m", "ka",
         "dòmi", "lapolis", "mande", "lajan", "m'ap", "tann", "tanpri"],
    ]
    private static let decorations = ["!!", "?", "...", " 🙏", " 😢", ",", "."]

    private var random: SeededRandom

    /// Creates a generator; the same seed gives the same messages.
    public init(seed: UInt64 = 20261130) { random = SeededRandom(seed: seed) }

    /// The next message.
    public mutating func next() -> String {
        let target = Int.random(in: 20...600, using: &random)
        var language = Int.random(in: 0..<Self.vocabulary.count, using: &random)
        var text = ""
        while text.utf8.count < target {
            if Int.random(in: 0..<40, using: &random) == 0 { language = Int.random(in: 0..<Self.vocabulary.count, using: &random) }
            let words = Self.vocabulary[language]
            var word = words[Int.random(in: 0..<words.count, using: &random)]
            if Int.random(in: 0..<25, using: &random) == 0 { word = word.uppercased() }
            if !text.isEmpty { text += " " }
            text += word
            if Int.random(in: 0..<12, using: &random) == 0 {
                text += Self.decorations[Int.random(in: 0..<Self.decorations.count, using: &random)]
            }
        }
        return text
    }
}

extension Classifier {
    /// The plain (non-prefix, non-proximity) terms of every lexicon, for comparing against
    /// `grep -F -i -f`.
    public var plainTerms: [String] {
        var terms: [String] = []
        for lexicon in lexicons {
            for entry in lexicon.flagEntries where entry.slots.count == 1 {
                terms += entry.slots[0].filter { !$0.contains("*") }
            }
        }
        return terms
    }
}
