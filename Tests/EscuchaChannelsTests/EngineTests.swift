import EscuchaChannels
import EscuchaCore
import Foundation
import Testing

@Suite("Multipart reassembly")
struct MultipartTests {
    @Test("Vonage parts reassemble by concat-ref, in any order, ignoring retries")
    func vonageParts() throws {
        let catalog = try sharedCatalog.get()
        let cases = FixtureCase.all().filter { $0.file == "vonage" && $0.name.hasPrefix("Concatenated") }
        #expect(cases.count == 2)
        var parts: [MessagePart] = []
        for c in cases {
            guard case .partial(let p) = catalog.parse(request: c.request, instance: ChannelInstance(id: "v", gateway: "vonage"), secret: nil, now: Date()) else {
                Issue.record("not a part"); return
            }
            parts += p
        }
        let expected = try #require(cases.first?.expected("reassembled_text"))
        var assembler = MultipartAssembler()
        #expect(assembler.add(parts[1]) == .waiting(received: 1, total: 2))
        #expect(assembler.add(parts[1]) == .duplicate)
        guard case .complete(let message) = assembler.add(parts[0]) else { Issue.record("not complete"); return }
        #expect(message.text == expected)
        #expect(message.externalID == "0A0000001234ABC1")
        #expect(message.receivedAt == isoDate("2020-01-01T14:00:01Z"))
        #expect(assembler.pending.isEmpty)
    }

    @Test("incomplete groups expire and are handed back")
    func expiry() {
        var assembler = MultipartAssembler()
        let m = InboundMessage(channelID: "c", kind: .sms, externalID: "1", sender: "+1", text: "a", receivedAt: Date(timeIntervalSince1970: 0))
        _ = assembler.add(MessagePart(message: m, concat: ConcatInfo(ref: "9", total: 3, part: 1)))
        let expired = assembler.expire(olderThan: Date(timeIntervalSince1970: 10))
        #expect(expired.count == 1)
        #expect(assembler.pending.isEmpty)
    }

    @Test("UDH concatenation headers, 8- and 16-bit references")
    func udh() {
        #expect(UDH.concat(hex: "050003CC0201") == ConcatInfo(ref: "CC", total: 2, part: 1))
        #expect(UDH.concat(hex: "06080412340302") == ConcatInfo(ref: "1234", total: 3, part: 2))
        #expect(UDH.concat(hex: "0605040B8423F0") == nil)
    }
}

@Suite("Text decoding")
struct DecodingTests {
    @Test("Clickatell UTF-16BE and Latin-1 percent-encoded texts")
    func clickatell() throws {
        let catalog = try sharedCatalog.get()
        let instance = ChannelInstance(id: "c", gateway: "clickatell")
        func text(_ body: String) -> String? {
            let r = RawRequest(method: "POST", path: "/x/receive", headers: [("Content-Type", "application/json")], body: Array(body.utf8))
            if case .messages(let m, _, _, _) = catalog.parse(request: r, instance: instance, secret: nil, now: Date()) { return m.first?.text }
            return nil
        }
        #expect(text(#"{"messageId":"1","fromNumber":"250788383383","text":"%00t%00e%00n%00%ED%00a","charset":"UTF-16BE"}"#) == "tenía")
        #expect(text(#"{"messageId":"1","fromNumber":"250788383383","text":"%E9t%E9+%E0","charset":"ISO-8859-1"}"#) == "été à")
        #expect(text(#"{"messageId":"1","fromNumber":"250788383383","text":"100% sí","charset":"UTF-8"}"#) == "100% sí")
        #expect(text(#"{"messageId":"1","fromNumber":"250788383383","text":"%D8%3D%DE%4F","charset":"UTF-16BE"}"#) == "🙏")
    }

    @Test("lenient UTF-8: truncated tail dropped, Latin-1 fallback")
    func lenient() {
        #expect(TextDecoding.lenientUTF8([0x41, 0xE2, 0x80]) == "A")
        #expect(TextDecoding.lenientUTF8([0xE9, 0x74, 0xE9]) == "été")
        #expect(TextDecoding.lenientUTF8(Array("añ".utf8)) == "añ")
    }

    @Test("timestamps: offsets with and without colon, unix s/ms, SQL UTC, compact, Java dates; bad ones refused")
    func timestamps() {
        let t = Date(timeIntervalSince1970: 1_554_836_516.494)
        #expect(Timestamps.parse("2019-04-09T16:01:56.494-0300") == t)
        #expect(Timestamps.parse("2019-04-09T16:01:56.494-03:00") == t)
        #expect(Timestamps.parse("2019-04-09T19:01:56.494Z") == t)
        #expect(Timestamps.parse("1516217711000") == Date(timeIntervalSince1970: 1_516_217_711))
        #expect(Timestamps.parse("1516217711") == Date(timeIntervalSince1970: 1_516_217_711))
        #expect(Timestamps.parse("2016-08-14 10:13:54") == isoDate("2016-08-14T10:13:54Z"))
        #expect(Timestamps.parse("20230727004929") == isoDate("2023-07-27T00:49:29Z"))
        #expect(Timestamps.parse("Tue Jun 19 14:05:33 EAT 2012") == isoDate("2012-06-19T11:05:33Z"))
        #expect(Timestamps.parse("2017-05-03T06:04") == nil)
        #expect(Timestamps.parse("20170623T123000Z") == nil)
        #expect(Timestamps.parse("asdf") == nil)
    }

    @Test("phone normalisation keeps national numbers, refuses letters, never echoes the number")
    func phones() throws {
        #expect(try Addresses.normalize("2349067554729", .phone).get() == "+2349067554729")
        #expect(try Addresses.normalize("0722000000", .phone).get() == "0722000000")
        #expect(try Addresses.normalize("0722000000", .phone, countryCode: "254").get() == "+254722000000")
        #expect(try Addresses.normalize("+1 (413) 388-1111", .phone).get() == "+14133881111")
        guard case .failure(let e) = Addresses.normalize("MTN", .phone) else { Issue.record("letters accepted"); return }
        #expect(!e.description.contains("MTN"))
        #expect(try Addresses.normalize("+14133881111", .whatsapp).get() == "14133881111")
        #expect(try Addresses.normalize("US.1234", .whatsapp).get() == "US.1234")
    }
}

@Suite("SMS segment counter")
struct SegmentTests {
    @Test("GSM-7 and UCS-2 limits", arguments: [
        ("", SMSSegments.Encoding.gsm7, 0, 160),
        ("Hola", .gsm7, 1, 156),
        (String(repeating: "a", count: 160), .gsm7, 1, 0),
        (String(repeating: "a", count: 161), .gsm7, 2, 145),
        ("€", .gsm7, 1, 158),
        ("Gracias, su número es ABC-123", .ucs2, 1, 41),
        ("Recibimos su mensaje. Su número de caso es ABC-123. Le responderemos pronto.", .ucs2, 2, 58),
        ("ñandú", .ucs2, 1, 65),
        ("ñandu", .gsm7, 1, 155),
    ])
    func counts(text: String, encoding: SMSSegments.Encoding, segments: Int, left: Int) {
        let c = SMSSegments.count(text)
        #expect(c.encoding == encoding)
        #expect(c.segments == segments)
        #expect(c.charactersLeft == left)
    }
}

@Suite("Definitions, instances and outbound templates")
struct DefinitionTests {
    @Test("every shipped definition loads, and the sample configuration checks without errors")
    func check() {
        let report = ChannelsCheck.run(channelsDirectory: Paths.channels, configFile: Paths.config)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.definitionCount >= 17)
        #expect(report.instanceCount >= 17)
    }

    @Test("errors name the file and line")
    func errorsLocated() {
        let yaml = "gateway: x\nroutes:\n  - rules:\n      - kind: message\n        sender: nowhere:From\n"
        do {
            _ = try GatewayDefinition.parse(yaml: yaml, file: "Channels/x.yaml")
            Issue.record("accepted a bad path")
        } catch {
            #expect(error.file == "Channels/x.yaml")
            #expect(error.line == 5)
            #expect(error.message.contains("source"))
        }
        let config = try! ConfigNode.parse("channels:\n  - id: a\n    gateway: nope\n", file: "Config/escucha.yaml")
        let report = ChannelsCheck.validate(definitions: [], config: .success(config))
        #expect(report.errors.first?.line == 2)
    }

    @Test("instances read secret variable names, not secrets")
    func instances() throws {
        let node = try ConfigNode.parse("channels:\n  - id: tw\n    gateway: twilio\n    secret_env: hunter2-is-my-token\n", file: "c.yaml")
        #expect(throws: ConfigError.self) { try ChannelInstance.list(from: node) }
        let secrets = ChannelSecrets(for: ChannelInstance(id: "a", gateway: "twilio", secretEnv: "A_TOKEN"), environment: ["A_TOKEN": "xyz"])
        #expect(secrets.secret == "xyz")
        #expect(!secrets.description.contains("xyz"))
    }

    @Test("reply templates render with escaping per body encoding")
    func outbound() throws {
        let catalog = try sharedCatalog.get()
        let twilio = try #require(catalog["twilio"]?.reply)
        let r = twilio.render(["to": "+573001112233", "from": "+12025550100", "text": "Hola & bienvenida", "account": "AC1", "api_secret": "k"])
        #expect(r.url == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
        #expect(String(decoding: r.body, as: UTF8.self).contains("Body=Hola%20%26%20bienvenida"))
        #expect(r.headers["Authorization"] == "Basic " + Data("AC1:k".utf8).base64EncodedString())
        #expect(!r.description.contains("Hola"))
        let wa = try #require(catalog["whatsapp-cloud"]?.reply)
        let w = wa.render(["to": "5678", "text": "Dijo \"hola\"", "from": "123", "api_secret": "t"])
        #expect(JSONValue.parse(w.body) != nil)
        #expect(String(decoding: w.body, as: UTF8.self).contains(#"Dijo \"hola\""#))
    }

    @Test("outcome and rejection descriptions carry no text or numbers")
    func descriptions() throws {
        let catalog = try sharedCatalog.get()
        let r = RawRequest(method: "POST", path: "/x", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("From=MTN&Body=secreto&MessageSid=S".utf8))
        let o = catalog.parse(request: r, instance: ChannelInstance(id: "x", gateway: "twilio"), secret: nil, now: Date())
        #expect(!o.description.contains("secreto"))
        #expect(!o.description.contains("MTN"))
        #expect(!r.description.contains("secreto"))
    }
}

@Suite("Raw request headers")
struct RawRequestHeaderTests {
    @Test("header names match regardless of case; the media type drops parameters, blanks and case")
    func mediaTypes() {
        func request(_ contentType: String) -> RawRequest {
            RawRequest(method: "POST", path: "/x", headers: [("content-TYPE", contentType)], body: [])
        }
        #expect(request(" Application/JSON ; charset=UTF-8").mediaType == "application/json")
        #expect(request("application/x-www-form-urlencoded").mediaType == "application/x-www-form-urlencoded")
        #expect(request("\ttext/plain;").mediaType == "text/plain")
        #expect(request(";charset=utf-8").mediaType == "")
        #expect(request("TEXT/XML").header("Content-Type") == "TEXT/XML")
        #expect(RawRequest(method: "POST", path: "/x", headers: [], body: []).mediaType == nil)
    }
}
