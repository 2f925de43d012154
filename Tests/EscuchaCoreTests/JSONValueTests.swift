import EscuchaCore
import Testing

@Suite struct JSONValueTests {
    @Test func numbersKeepTheirLiteralText() {
        #expect(JSONValue.parse("[1516217711000, 1.00, -0.5e-3, 0, 2E+2]")
            == .array([.number("1516217711000"), .number("1.00"), .number("-0.5e-3"), .number("0"), .number("2E+2")]))
        #expect(JSONValue.isJSONNumberText("-12.5e3") && JSONValue.isJSONNumberText("0.0001"))
        #expect(!JSONValue.isJSONNumberText("01") && !JSONValue.isJSONNumberText("1.") && !JSONValue.isJSONNumberText("-") && !JSONValue.isJSONNumberText("1e"))
    }

    @Test func numbersOutsideJSONsGrammarThatReadAsNumbersAreKept() {
        // Gateways are not all strict; these were accepted before the grammar check too.
        #expect(JSONValue.parse("[+1, 1., 01, .5]") == .array([.number("+1"), .number("1."), .number("01"), .number(".5")]))
    }

    @Test func invalidUTF8InAStringIsReplacedNotRefused() {
        // A quoted string with a lone 0xFF byte, with and without an escape before it.
        #expect(JSONValue.parse([0x5B, 0x22, 0x61, 0xFF, 0x22, 0x5D]) == .array([.string("a\u{FFFD}")]))
        #expect(JSONValue.parse([0x5B, 0x22, 0x5C, 0x6E, 0xFF, 0x22, 0x5D]) == .array([.string("\n\u{FFFD}")]))
    }

    @Test func notNumbersAreRefused() {
        for text in ["[1-]", "[--1]", "[1e+]", "[.]", "[e5]", "{\"a\": 1x}"] {
            #expect(JSONValue.parse(text) == nil, "\(text)")
        }
    }

    @Test func stringsWithAndWithoutEscapes() {
        #expect(JSONValue.parse(#"{"plain":"agua limpia","escaped":"a\"b\\c\/d\n","emoji":"\ud83d\ude00 \u00e9"}"#)
            == .object(["plain": .string("agua limpia"), "escaped": .string("a\"b\\c/d\n"), "emoji": .string("😀 é")]))
        #expect(JSONValue.parse("[\"tab\tinside\"]") == nil, "control characters must be escaped")
        #expect(JSONValue.parse("[\"unterminated]") == nil)
    }

    @Test func documentsMustEndAfterTheirValue() {
        #expect(JSONValue.parse(" {\"a\": [true, false, null]} ") == .object(["a": .array([.bool(true), .bool(false), .null])]))
        #expect(JSONValue.parse("{} {}") == nil)
        #expect(JSONValue.parse("") == nil)
    }
}
