import EscuchaCore
public import Foundation

/// Turns one webhook request into a ``ParseOutcome`` by following a ``GatewayDefinition``.
///
/// Pure: no IO, no environment, no clock (the caller passes `now` and the secret values).
public enum GatewayParser {
    /// Parses a request.
    /// - Parameters:
    ///   - request: the request as received.
    ///   - definition: the gateway definition.
    ///   - instance: the channel instance the request was addressed to.
    ///   - secrets: the instance's secret values (read by the caller from the variables it names).
    ///   - now: the arrival time (used when the gateway gives no timestamp, and for replay windows).
    public static func parse(request: RawRequest, definition: GatewayDefinition, instance: ChannelInstance, secrets: ChannelSecrets, now: Date) -> ParseOutcome {
        var outcome = run(request: request, definition: definition, instance: instance, secrets: secrets, now: now)
        if case .rejected(var r) = outcome, let forced = definition.rejectionStatus, r.httpStatus != 500 {
            r.httpStatus = forced
            outcome = .rejected(r)
        }
        return outcome
    }

    static func run(request: RawRequest, definition: GatewayDefinition, instance: ChannelInstance, secrets: ChannelSecrets, now: Date) -> ParseOutcome {
        // 1. Route.
        let segment = request.lastPathSegment
        let byMethod = definition.routes.filter { $0.methods.isEmpty || $0.methods.contains(request.method) }
        let route = byMethod.first { $0.paths.contains { $0.equalsIgnoringCase(segment) } }
            ?? byMethod.first { $0.paths.isEmpty }
            ?? byMethod.first { $0.isDefault && (segment.isEmpty || segment == instance.id) }
        guard let route else {
            let known = definition.routes.flatMap(\.paths)
            if definition.routes.contains(where: { $0.paths.contains(segment) }) {
                return .rejected(Rejection(httpStatus: 405, reason: "method \(request.method) is not accepted on this path"))
            }
            return .rejected(Rejection(httpStatus: 404, reason: "no route for this path: the gateway '\(definition.id)' serves \(known.isEmpty ? "the channel URL" : known.map { "…/\($0)" }.joined(separator: ", "))"))
        }

        // 2. Body.
        let query = FormFields.urlEncoded(Array(request.query.utf8))
        var form = FormFields()
        var json: JSONValue? = nil
        var format = definition.body
        if format == .auto {
            let media = request.mediaType ?? ""
            format = media.contains("json") ? .json : media.hasPrefix("multipart/") ? .multipart : media.contains("xml") ? .xml : .form
        }
        switch format {
        case .json:
            let trimmed = request.body.drop { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
            if !trimmed.isEmpty {
                guard let parsed = JSONValue.parse(request.body) else {
                    return .rejected(Rejection(httpStatus: 400, reason: "unable to parse request JSON: the body is not valid JSON"))
                }
                json = parsed
            }
        case .multipart:
            let boundary = request.header("Content-Type")?.components(separatedBy: "boundary=").dropFirst().first?
                .split(separator: ";").first.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
            guard let boundary, let parsed = FormFields.multipart(request.body, boundary: boundary) else {
                return .rejected(Rejection(httpStatus: 400, reason: "unable to parse the multipart body (missing or wrong boundary)"))
            }
            form = parsed
        case .form:
            form = FormFields.urlEncoded(request.body)
        case .xml, .none, .auto:
            break
        }
        let context = RequestContext(request: request, query: query, form: form, json: json, caseInsensitive: definition.caseInsensitiveFields, item: nil)

        // 3. Authenticity.
        let verification = route.verification ?? definition.verification
        if verification.kind != .none {
            if let secret = secrets.secret {
                if let rejection = Verifier.check(verification, request: request, context: context, instance: instance, secret: secret, now: now) {
                    return .rejected(rejection)
                }
            } else if let variable = instance.secretEnv {
                return .rejected(Rejection(httpStatus: 500, reason: "the channel's secret is not available: set the environment variable \(variable)"))
            }
        }

        // 4. Rules.
        var evaluation = Evaluation(definition: definition, instance: instance, secrets: secrets, now: now, route: route)
        var applied = false
        for rule in route.rules {
            guard evaluation.holds(rule.when, context) else { continue }
            if let missing = rule.require.first(where: { evaluation.text($0, context)?.isEmpty ?? true }) {
                return .rejected(Rejection(httpStatus: 400, reason: "field '\(missing)' required"))
            }
            switch evaluation.apply(rule, context) {
            case .notApplied: continue
            case .final(let outcome): return outcome
            case .applied: applied = true
            }
            if !rule.continues { break }
        }
        if !applied && evaluation.isEmpty {
            if route.otherwise == "ignore" { return .ignored(IgnoredRequest(reason: "no rule applies to this request")) }
            return .rejected(Rejection(httpStatus: 400, reason: "request not understood: no rule of route '\(route.name)' applies (missing fields?)"))
        }
        return evaluation.outcome()
    }
}

/// The state of one request's rule evaluation.
struct Evaluation {
    enum Step { case notApplied, applied, final(ParseOutcome) }

    let definition: GatewayDefinition
    let instance: ChannelInstance
    let secrets: ChannelSecrets
    let now: Date
    let route: RouteSpec
    var messages: [InboundMessage] = []
    var parts: [MessagePart] = []
    var statuses: [DeliveryStatusUpdate] = []
    var events: [ChannelEvent] = []
    var skipped: [String] = []
    var rejections: [Rejection] = []

    init(definition: GatewayDefinition, instance: ChannelInstance, secrets: ChannelSecrets, now: Date, route: RouteSpec) {
        self.definition = definition
        self.instance = instance
        self.secrets = secrets
        self.now = now
        self.route = route
    }

    var isEmpty: Bool { messages.isEmpty && parts.isEmpty && statuses.isEmpty && events.isEmpty && skipped.isEmpty && rejections.isEmpty }

    func outcome() -> ParseOutcome {
        if !messages.isEmpty { return .messages(messages, parts: parts, statuses: statuses, events: events) }
        if !parts.isEmpty { return .partial(parts) }
        if let r = rejections.first { return .rejected(r) }
        if !statuses.isEmpty || !events.isEmpty {
            return .ignored(IgnoredRequest(reason: statuses.isEmpty ? "channel event" : "delivery status", statuses: statuses, events: events))
        }
        return .ignored(IgnoredRequest(reason: skipped.first ?? "nothing to store"))
    }

    // MARK: Conditions and values

    func text(_ path: FieldPath, _ context: RequestContext) -> String? {
        guard let v = context.values(path).first else { return nil }
        if case .json(let j) = v, j.scalarText == nil { return j == .null ? nil : j.serialized }
        return v.text
    }

    func holds(_ conditions: [Condition], _ context: RequestContext) -> Bool {
        conditions.allSatisfy { holds($0, context) }
    }

    func holds(_ condition: Condition, _ context: RequestContext) -> Bool {
        let value = text(condition.path, context)
        switch condition.test {
        case .present(let wanted): return (value.map { !$0.isEmpty } ?? false) == wanted
        case .oneOf(let list): return value.map(list.contains) ?? false
        case .noneOf(let list): return !(value.map(list.contains) ?? false)
        case .isJSON(let wanted):
            guard let value else { return !wanted }
            let parsed = JSONValue.parse(value)
            let isStructured: Bool
            switch parsed { case .object?, .array?: isStructured = true; default: isStructured = false }
            return isStructured == wanted
        }
    }

    /// Resolves a value: first alternative with a non-empty result; `""` when only empty ones were found.
    func resolve(_ spec: ValueSpec?, _ context: RequestContext, field: String) -> Result<String?, Rejection> {
        guard let spec else { return .success(nil) }
        var sawEmpty = false
        for alternative in spec.alternatives where holds(alternative.when, context) {
            var result: String?
            if let template = alternative.template {
                var rendered = template
                var complete = true
                for p in alternative.templatePaths {
                    guard let v = text(p, context), !v.isEmpty else { complete = false; break }
                    rendered = rendered.replacingOccurrences(of: "{{\(p.description)}}", with: v)
                        .replacingOccurrences(of: "{{ \(p.description) }}", with: v)
                }
                result = complete ? rendered : nil
            } else if let path = alternative.path, let raw = context.values(path).first {
                switch decode(raw, spec: spec, context: context, field: field) {
                case .failure(let r): return .failure(r)
                case .success(let s): result = s
                }
            }
            guard var value = result else { continue }
            for prefix in spec.stripPrefixes where value.hasPrefix(prefix) { value.removeFirst(prefix.count) }
            if let pattern = spec.match, value.range(of: pattern, options: .regularExpression) == nil { continue }
            if value.isEmpty { sawEmpty = true; continue }
            if spec.normalize != .none {
                switch Addresses.normalize(value, spec.normalize, countryCode: instance.countryCode) {
                case .success(let v): return .success(v)
                case .failure(let e): return .failure(Rejection(httpStatus: 400, reason: "\(field): \(e)"))
                }
            }
            return .success(value)
        }
        if let d = spec.defaultValue { return .success(d) }
        if spec.required {
            let name = spec.alternatives.first?.path?.description ?? field
            return .failure(Rejection(httpStatus: 400, reason: "field '\(name)' required (\(field))"))
        }
        return .success(sawEmpty ? "" : nil)
    }

    func decode(_ raw: FieldValue, spec: ValueSpec, context: RequestContext, field: String) -> Result<String?, Rejection> {
        if case .json(let j) = raw, j.scalarText == nil { return .success(j == .null ? nil : j.serialized) }
        var bytes = raw.bytes ?? []
        if spec.decode == "base64" {
            guard let decoded = TextDecoding.base64(TextDecoding.lenientUTF8(bytes)) else {
                return .failure(Rejection(httpStatus: 400, reason: "\(field) is not valid Base64"))
            }
            bytes = decoded
        }
        let charset = spec.charset ?? spec.charsetFrom.flatMap { text($0, context) }
        var value: String
        if let charset, TextDecoding.normalizedCharset(charset) != "utf-8" {
            if spec.percentEncoded { bytes = FormFields.percentDecode(bytes) }
            guard let decoded = TextDecoding.decode(bytes, charset: charset) else {
                return .failure(Rejection(httpStatus: 400, reason: "\(field) uses the unknown charset '\(charset.prefix(20))'"))
            }
            value = decoded
        } else if spec.decode == "base64" {
            value = TextDecoding.lenientUTF8(bytes)
        } else {
            value = raw.text ?? ""
        }
        if spec.decode == "base64_if_encoded" { value = TextDecoding.base64IfEncoded(value) }
        return .success(value)
    }

    // MARK: Rules

    mutating func apply(_ rule: RuleSpec, _ context: RequestContext) -> Step {
        switch rule.kind {
        case .ignore:
            skipped.append(rule.reason ?? "ignored")
            return .applied
        case .reject:
            return .final(.rejected(Rejection(httpStatus: rule.httpStatus, reason: rule.reason ?? "refused")))
        case .challenge:
            guard let expected = secrets.verifyToken else {
                let variable = instance.verifyTokenEnv.map { "set the environment variable \($0)" } ?? "add verify_token_env to the channel"
                return .final(.rejected(Rejection(httpStatus: 500, reason: "the channel has no verify token: \(variable)")))
            }
            let token = (try? resolve(rule.challengeToken, context, field: "verify token").get()) ?? nil
            guard let token, Verifier.constantTimeEqual(token, expected) else {
                return .final(.rejected(Rejection(httpStatus: 403, reason: "token does not match secret: check verify_token_env")))
            }
            let challenge = (try? resolve(rule.challengeValue, context, field: "challenge").get()) ?? nil
            return .final(.challenge(challenge ?? ""))
        case .event:
            switch resolve(rule.eventAddress, context, field: "address") {
            case .failure(let r): return .final(.rejected(r))
            case .success(nil): return .final(.rejected(Rejection(httpStatus: 400, reason: "field '\(rule.eventAddress?.alternatives.first?.path?.description ?? "address")' required")))
            case .success(let address?):
                events.append(ChannelEvent(kind: rule.event == "new_conversation" ? .newConversation : .optOut, address: address))
                return .applied
            }
        case .message, .status:
            var items: [JSONCursor?] = [nil]
            if let each = rule.each {
                let found = context.cursors(each)
                if found.isEmpty {
                    if rule.eachRequired { return .final(.rejected(Rejection(httpStatus: 400, reason: "validation for '\(each)' failed: the list is missing"))) }
                    return .notApplied
                }
                items = found
            }
            var seenIDs: Set<String> = []
            for cursor in items {
                var itemContext = context
                if let cursor { itemContext.item = cursor }
                if let skip = rule.skipWhen.first(where: { holds($0.when, itemContext) }) { skipped.append(skip.reason); continue }
                if let reject = rule.rejectWhen.first(where: { holds($0.when, itemContext) }) {
                    rejections.append(Rejection(httpStatus: 400, reason: reject.reason)); continue
                }
                if let mustMatch = rule.addressMustMatch, let own = instance.address {
                    let given = (try? resolve(mustMatch, itemContext, field: "address").get()) ?? nil
                    let digits = { (s: String) in s.filter(\.isNumber) }
                    if given.map(digits) != digits(own) {
                        rejections.append(Rejection(httpStatus: 400, reason: "the request is addressed to another number than this channel's address"))
                        continue
                    }
                }
                if rule.kind == .message, let spec = rule.message {
                    buildMessage(spec, itemContext, seenIDs: &seenIDs)
                } else if let spec = rule.status {
                    buildStatus(spec, rule: rule, itemContext)
                }
            }
            return .applied
        }
    }

    mutating func buildMessage(_ spec: MessageSpec, _ context: RequestContext, seenIDs: inout Set<String>) {
        func value(_ s: ValueSpec?, _ field: String) -> String?? {
            switch resolve(s, context, field: field) {
            case .failure(let r): rejections.append(r); return nil
            case .success(let v): return .some(v)
            }
        }
        guard let senderResult = value(spec.sender, "sender") else { return }
        guard let sender = senderResult else {
            rejections.append(Rejection(httpStatus: 400, reason: "missing sender: field '\(spec.sender.alternatives.first?.path?.description ?? "sender")' required"))
            return
        }
        guard let recipient = value(spec.recipient, "recipient"), let textValue = value(spec.text, "text"),
              let externalID = value(spec.externalID, "external id"), let stamp = value(spec.receivedAt, "timestamp") else { return }
        var receivedAt = now
        if let stamp, !stamp.isEmpty {
            guard let parsed = Timestamps.parse(stamp, format: spec.receivedAt?.format ?? .auto) else {
                rejections.append(Rejection(httpStatus: 400, reason: "invalid date format in '\(spec.receivedAt?.alternatives.first?.path?.description ?? "timestamp")': expected \(spec.receivedAt?.format.rawValue ?? "auto") (RFC 3339, unix seconds or ms, YYYY-MM-DD HH:MM:SS)"))
                return
            }
            receivedAt = parsed
        }
        var attachments: [Attachment] = []
        for media in spec.media { attachments += self.attachments(media, context) }
        let text = textValue ?? ""
        if text.isEmpty && attachments.isEmpty {
            switch spec.empty {
            case "ignore": skipped.append("ignoring request, no message: no text and no media"); return
            case "reject": rejections.append(Rejection(httpStatus: 400, reason: "no text or media")); return
            default: break
            }
        }
        if spec.dedupe, let id = externalID {
            guard seenIDs.insert(id).inserted else { return }
        }
        var metadata = ["gateway": definition.id, "route": route.name]
        if let location = instance.defaultLocation { metadata["default_location"] = location }
        let message = InboundMessage(
            channelID: instance.id, kind: definition.kind, externalID: externalID, sender: sender, recipient: recipient, text: text,
            receivedAt: receivedAt, languageHint: instance.language, attachments: attachments, metadata: metadata)
        if let concatSpec = spec.concat, let info = concat(concatSpec, context), info.total > 1 {
            var partMessage = message
            partMessage.metadata["concat_part"] = "\(info.part)/\(info.total)"
            parts.append(MessagePart(message: partMessage, concat: info))
        } else {
            messages.append(message)
        }
    }

    func attachments(_ media: MediaSpec, _ context: RequestContext) -> [Attachment] {
        var out: [Attachment] = []
        var contexts: [RequestContext] = []
        if let each = media.each {
            for cursor in context.cursors(each) {
                var c = context
                c.item = cursor
                contexts.append(c)
            }
            return contexts.compactMap { attachment(media, $0, index: nil) }
        }
        if let url = media.url, url.alternatives.contains(where: { $0.path?.isIndexed ?? false }) {
            for i in 0..<100 {
                guard let a = attachment(media, context, index: i) else { break }
                out.append(a)
            }
            return out
        }
        return attachment(media, context, index: nil).map { [$0] } ?? []
    }

    func attachment(_ media: MediaSpec, _ context: RequestContext, index: Int?) -> Attachment? {
        func indexed(_ spec: ValueSpec?) -> ValueSpec? {
            guard var spec, let index else { return spec }
            spec.alternatives = spec.alternatives.map { var a = $0; a.path = a.path?.indexed(index); return a }
            return spec
        }
        if let lat = media.latitude, let lon = media.longitude {
            guard let la = (try? resolve(lat, context, field: "latitude").get()) ?? nil, let lo = (try? resolve(lon, context, field: "longitude").get()) ?? nil,
                  let laD = Double(la), let loD = Double(lo) else { return nil }
            return Attachment(url: String(format: "geo:%.6f,%.6f", laD, loD))
        }
        guard let url = (try? resolve(indexed(media.url), context, field: "media url").get()) ?? nil, !url.isEmpty else { return nil }
        let type = (try? resolve(indexed(media.contentType), context, field: "media type").get()) ?? nil
        return Attachment(url: url, contentType: type.flatMap { $0.isEmpty ? nil : $0 })
    }

    func concat(_ spec: ConcatSpec, _ context: RequestContext) -> ConcatInfo? {
        guard holds(spec.when, context) else { return nil }
        if let udhSpec = spec.udh {
            guard let hex = (try? resolve(udhSpec, context, field: "udh").get()) ?? nil else { return nil }
            return UDH.concat(hex: hex)
        }
        func int(_ s: ValueSpec?) -> Int? { ((try? resolve(s, context, field: "concat").get()) ?? nil).flatMap { Int($0) } }
        guard let ref = (try? resolve(spec.ref, context, field: "concat ref").get()) ?? nil, let total = int(spec.total), let part = int(spec.part),
              total >= 1, (1...total).contains(part) else { return nil }
        return ConcatInfo(ref: ref, total: total, part: part)
    }

    mutating func buildStatus(_ spec: StatusSpec, rule: RuleSpec, _ context: RequestContext) {
        let raw: String
        switch resolve(spec.status, context, field: "status") {
        case .failure(let r): rejections.append(r); return
        case .success(nil), .success(""):
            rejections.append(Rejection(httpStatus: 400, reason: "field '\(spec.status.alternatives.first?.path?.description ?? "status")' required"))
            return
        case .success(let v?): raw = v
        }
        var target = spec.map[raw] ?? spec.map[raw.lowercased()] ?? spec.unknown
        if spec.map[raw] == nil && spec.map[raw.lowercased()] == nil && spec.unknown == "reject" {
            let known = Set(spec.map.keys).sorted().map { "'\($0)'" }.joined(separator: ", ")
            rejections.append(Rejection(httpStatus: 400, reason: "unknown status '\(raw.prefix(40))', must be one of \(known)"))
            return
        }
        for o in spec.overrides where holds(o.when, context) { target = o.status }
        switch target {
        case "reject": rejections.append(Rejection(httpStatus: 400, reason: "field 'status' required (status '\(raw.prefix(40))' means none)")); return
        case "ignore": skipped.append("ignoring status '\(raw.prefix(40))'"); return
        default: break
        }
        guard let state = DeliveryState(rawValue: target) else { return }
        let externalID = (try? resolve(spec.externalID, context, field: "external id").get()) ?? nil
        let reference = (try? resolve(spec.reference, context, field: "reference").get()) ?? nil
        guard externalID != nil || reference != nil else {
            rejections.append(Rejection(httpStatus: 400, reason: "missing one of the message ids (\(spec.externalID?.alternatives.first?.path?.description ?? "id"))"))
            return
        }
        let at = ((try? resolve(spec.at, context, field: "status time").get()) ?? nil).flatMap { Timestamps.parse($0, format: spec.at?.format ?? .auto) }
        let errorCode = (try? resolve(spec.errorCode, context, field: "error code").get()) ?? nil
        statuses.append(DeliveryStatusUpdate(externalID: reference == nil ? externalID : externalID, reference: reference, state: state, providerStatus: raw, errorCode: errorCode, at: at))
        if let event = rule.event, !rule.eventWhen.isEmpty, holds(rule.eventWhen, context),
           let address = (try? resolve(rule.eventAddress, context, field: "address").get()) ?? nil {
            events.append(ChannelEvent(kind: event == "new_conversation" ? .newConversation : .optOut, address: address))
        }
    }
}

/// Concatenation information in an SMS User Data Header.
public enum UDH {
    /// Reads the concatenation element of a hex UDH (`050003CC0201`: 8-bit reference
    /// CC, 2 parts, part 1; IEI 08 for 16-bit references).
    /// - Parameter hex: the header as hex.
    public static func concat(hex: String) -> ConcatInfo? {
        var bytes: [UInt8] = []
        var chars = Array(hex.filter { !$0.isWhitespace })
        guard chars.count % 2 == 0 else { return nil }
        while !chars.isEmpty {
            guard let b = UInt8(String(chars.prefix(2)), radix: 16) else { return nil }
            bytes.append(b)
            chars.removeFirst(2)
        }
        guard let length = bytes.first, Int(length) + 1 <= bytes.count else { return nil }
        var i = 1
        while i + 1 < Int(length) + 1 {
            let iei = bytes[i], len = Int(bytes[i + 1])
            let data = Array(bytes[min(i + 2, bytes.count)..<min(i + 2 + len, bytes.count)])
            if iei == 0x00, data.count == 3, data[1] >= 1, (1...data[1]).contains(data[2]) {
                return ConcatInfo(ref: String(format: "%02X", data[0]), total: Int(data[1]), part: Int(data[2]))
            }
            if iei == 0x08, data.count == 4, data[2] >= 1, (1...data[2]).contains(data[3]) {
                return ConcatInfo(ref: String(format: "%02X%02X", data[0], data[1]), total: Int(data[2]), part: Int(data[3]))
            }
            i += 2 + len
        }
        return nil
    }
}
