import Crypto
import EscuchaChannels
import EscuchaCore
import Foundation
import Testing

@Suite("Authenticity checks")
struct SignatureTests {
    let catalog: GatewayCatalog
    init() throws { catalog = try sharedCatalog.get() }

    static let twilioBody = "To=%2B12028831111&From=%2B14133881111&Body=Hola&MessageSid=SM1&NumMedia=0"

    func twilioSignature(url: String, body: String, token: String) -> String {
        let form = FormFields.urlEncoded(Array(body.utf8))
        var message = url
        for p in form.pairs.sorted(by: { $0.name < $1.name }) { message += p.name + String(decoding: p.value, as: UTF8.self) }
        return Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(token.utf8)))).base64EncodedString()
    }

    func outcome(_ request: RawRequest, instance: ChannelInstance, secret: String?) -> ParseOutcome {
        catalog.parse(request: request, instance: instance, secret: secret, now: Date())
    }

    @Test("Twilio: the right token passes, a wrong token, a tampered body and a missing header fail")
    func twilio() {
        let instance = ChannelInstance(id: "tw-1", gateway: "twilio", secretEnv: "TW_TOKEN", publicURL: "https://escucha.example.org")
        let sig = twilioSignature(url: "https://escucha.example.org/webhooks/sms/tw-1", body: Self.twilioBody, token: "s3cret")
        func request(_ body: String, _ signature: String?) -> RawRequest {
            var headers = [("Content-Type", "application/x-www-form-urlencoded")]
            if let signature { headers.append(("X-Twilio-Signature", signature)) }
            return RawRequest(method: "POST", path: "/webhooks/sms/tw-1", headers: headers, body: Array(body.utf8))
        }
        guard case .messages(let m, _, _, _) = outcome(request(Self.twilioBody, sig), instance: instance, secret: "s3cret") else {
            Issue.record("good signature refused"); return
        }
        #expect(m.first?.sender == "+14133881111")
        for (body, signature, secret) in [(Self.twilioBody, sig, "wrong"), (Self.twilioBody + "&Extra=1", sig, "s3cret"), (Self.twilioBody, nil, "s3cret")] {
            guard case .rejected(let r) = outcome(request(body, signature), instance: instance, secret: secret) else {
                Issue.record("accepted a bad signature"); continue
            }
            #expect(r.httpStatus == 403)
        }
    }

    @Test("Twilio behind a proxy: the URL is rebuilt from X-Forwarded-Proto/Host and X-Forwarded-Prefix")
    func twilioBehindProxy() {
        let instance = ChannelInstance(id: "tw-1", gateway: "twilio", secretEnv: "TW_TOKEN")
        let sig = twilioSignature(url: "https://sms.example.org/escucha/webhooks/sms/tw-1/status?x=1", body: "MessageSid=SM1&MessageStatus=delivered", token: "t")
        let request = RawRequest(
            method: "POST", path: "/webhooks/sms/tw-1/status", query: "x=1",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Host", "10.0.0.5:8080"), ("X-Forwarded-Proto", "https"),
                      ("X-Forwarded-Host", "sms.example.org"), ("X-Forwarded-Prefix", "/escucha"), ("X-Twilio-Signature", sig)],
            body: Array("MessageSid=SM1&MessageStatus=delivered".utf8), scheme: "http")
        guard case .ignored(let ignored) = outcome(request, instance: instance, secret: "t") else { Issue.record("proxy URL not rebuilt"); return }
        #expect(ignored.statuses.first?.state == .delivered)
        // Without the proxy headers the URL differs (http://10.0.0.5:8080/…) and the check fails.
        var direct = request
        direct.headers = request.headers.filter { !$0.name.hasPrefix("X-Forwarded") }
        guard case .rejected = outcome(direct, instance: instance, secret: "t") else { Issue.record("signature over the wrong URL accepted"); return }
    }

    @Test("a configured secret variable that is unset refuses with 500 and names the variable")
    func missingSecret() {
        let instance = ChannelInstance(id: "tw-1", gateway: "twilio", secretEnv: "ESCUCHA_TW_TOKEN")
        let request = RawRequest(method: "POST", path: "/webhooks/sms/tw-1", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(Self.twilioBody.utf8))
        guard case .rejected(let r) = outcome(request, instance: instance, secret: nil) else { Issue.record("accepted"); return }
        #expect(r.httpStatus == 500)
        #expect(r.reason.contains("ESCUCHA_TW_TOKEN"))
    }

    @Test("WhatsApp Cloud: X-Hub-Signature-256 over the raw body; a tampered body fails")
    func whatsapp() {
        let body = #"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"123"},"messages":[{"from":"5678","id":"wamid.1","timestamp":"1454119029","type":"text","text":{"body":"Hola"}}]}}]}]}"#
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array("app".utf8)))
        let sig = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        let instance = ChannelInstance(id: "wa", gateway: "whatsapp-cloud", secretEnv: "WA_SECRET", verifyTokenEnv: "WA_VERIFY")
        let good = RawRequest(method: "POST", path: "/webhooks/sms/wa", headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", sig)], body: Array(body.utf8))
        guard case .messages(let m, _, _, _) = outcome(good, instance: instance, secret: "app") else { Issue.record("refused"); return }
        #expect(m.first?.recipient == "123")
        var tampered = good
        tampered.body = Array(body.replacingOccurrences(of: "Hola", with: "Hol4").utf8)
        guard case .rejected(let r) = outcome(tampered, instance: instance, secret: "app") else { Issue.record("tampered accepted"); return }
        #expect(r.httpStatus == 200, "Meta wants 200 even for refusals")
    }

    @Test("Sinch: signed timestamps outside the replay window are refused")
    func replayWindow() throws {
        let fixture = try #require(FixtureCase.all().first { $0.file == "sinch" && $0.index == 0 })
        let instance = ChannelInstance(id: "s", gateway: "sinch", secretEnv: "S")
        let late = catalog.parse(request: fixture.request, instance: instance, secret: "sinch_webhook_secret_example", now: Date(timeIntervalSince1970: 1_634_579_353 + 3600))
        guard case .rejected(let r) = late else { Issue.record("replay accepted"); return }
        #expect(r.reason.contains("replay"))
        let wrong = catalog.parse(request: fixture.request, instance: instance, secret: "other", now: Date(timeIntervalSince1970: 1_634_579_353))
        guard case .rejected = wrong else { Issue.record("wrong secret accepted"); return }
    }

    @Test("Vonage: md5hash and sha256 signatures verify; a wrong secret fails")
    func vonage() throws {
        let signed = FixtureCase.all().filter { $0.file == "vonage" && $0.name.hasPrefix("Signed inbound (") }
        #expect(signed.count == 2)
        let instance = ChannelInstance(id: "v", gateway: "vonage", secretEnv: "V")
        for f in signed {
            let now = Date(timeIntervalSince1970: 1_577_887_800)
            guard case .messages = catalog.parse(request: f.request, instance: instance, secret: "vonage_signature_secret_example", now: now) else {
                Issue.record("\(f.name) refused"); continue
            }
            guard case .rejected = catalog.parse(request: f.request, instance: instance, secret: "nope", now: now) else {
                Issue.record("\(f.name) accepted with a wrong secret"); continue
            }
        }
    }

    @Test("shared token in a header, compared in constant time; basic auth")
    func tokens() {
        let instance = ChannelInstance(id: "g", gateway: "generic-json", secretEnv: "G")
        let body = Array(#"{"from":"+573001112233","text":"hola"}"#.utf8)
        let ok = RawRequest(method: "POST", path: "/webhooks/sms/g", headers: [("Content-Type", "application/json"), ("X-Escucha-Token", "tok")], body: body)
        guard case .messages(let m, _, _, _) = outcome(ok, instance: instance, secret: "tok") else { Issue.record("refused"); return }
        #expect(m.first?.sender == "+573001112233")
        var bad = ok
        bad.headers = [("Content-Type", "application/json"), ("X-Escucha-Token", "tok2")]
        guard case .rejected(let r) = outcome(bad, instance: instance, secret: "tok") else { Issue.record("accepted"); return }
        #expect(r.httpStatus == 403)
    }
}
