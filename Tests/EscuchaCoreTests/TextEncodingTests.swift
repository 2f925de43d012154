import EscuchaCore
import Foundation
import Testing

@Suite struct TextEncodingTests {
    @Test func hexHasTwoLowerCaseDigitsPerByte() {
        #expect(TextEncoding.hex([0x00, 0x0a, 0xab, 0xff]) == "000aabff")
        #expect(TextEncoding.hex([UInt8]()) == "")
    }

    @Test func jsonStringsEscapeQuotesBackslashesAndControlsOnly() {
        #expect(TextEncoding.jsonString("plain ñ 👍🏽") == "\"plain ñ 👍🏽\"")
        #expect(TextEncoding.jsonString("a\"b\\c\nd\re\tf\u{07}g/") == #""a\"b\\c\nd\re\tf\u0007g/""#)
        var text = "{"
        TextEncoding.appendJSONString("k", to: &text)
        #expect(text == "{\"k\"")
    }

    @Test func namesCompareRegardlessOfCase() {
        #expect("Content-Type".equalsIgnoringCase("content-type"))
        #expect("X-ESCUCHA-TOKEN".equalsIgnoringCase("x-escucha-token"))
        #expect(!"Content-Type".equalsIgnoringCase("Content-Typ"))
        #expect(!"a@".equalsIgnoringCase("a`"), "only letters fold: @ and ` differ by the case bit")
        #expect(!"[".equalsIgnoringCase("{"))
        #expect("".equalsIgnoringCase(""))
        // Beyond ASCII, Foundation decides, as before.
        #expect("Ñandú".equalsIgnoringCase("ñANDÚ"))
        #expect("straße".equalsIgnoringCase("STRASSE") == ("straße".caseInsensitiveCompare("STRASSE") == .orderedSame))
    }
}
