import Foundation

/// Builds the RFC 5322 messages the outbox hands to SMTP: UTF-8 text in base64, a
/// `Message-ID` derived from the idempotency key (so a retried message keeps its id and
/// mail systems can drop the duplicate), `In-Reply-To` for threading.
enum OutboxMail {
    /// The message bytes, CRLF line ends.
    static func compose(
        from: String, to: String, subject: String, text: String, messageID: String, inReplyTo: String?, date: Date
    ) -> [UInt8] {
        var lines = [
            "From: \(headerSafe(from))",
            "To: \(headerSafe(to))",
            "Subject: \(encodedWord(subject))",
            "Date: \(rfc5322Date(date))",
            "Message-ID: \(messageID)",
        ]
        if let inReplyTo, !inReplyTo.isEmpty {
            lines.append("In-Reply-To: \(headerSafe(inReplyTo))")
            lines.append("References: \(headerSafe(inReplyTo))")
        }
        lines += [
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: base64",
            "Auto-Submitted: auto-generated",
            "",
        ]
        let encoded = Data(text.utf8).base64EncodedString()
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// `<key@domain-of-from>`, with characters outside a message id's dot-atom replaced.
    static func messageID(key: String, from: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+=")
        let local = String(key.map { allowed.contains($0) ? $0 : "-" })
        let domain = from.split(separator: "@").last.map(String.init) ?? "escucha.invalid"
        return "<\(local.isEmpty ? "outbox" : local)@\(String(domain.filter { allowed.contains($0) }))>"
    }

    /// A header value without line breaks (no header injection).
    static func headerSafe(_ value: String) -> String {
        String(value.unicodeScalars.filter { $0 != "\r" && $0 != "\n" }.map(Character.init))
    }

    /// ASCII as is; anything else as an RFC 2047 encoded word in base64.
    static func encodedWord(_ value: String) -> String {
        let safe = headerSafe(value)
        if safe.allSatisfy({ $0.isASCII }) { return safe }
        return "=?UTF-8?B?" + Data(safe.utf8).base64EncodedString() + "?="
    }

    /// `Tue, 04 Jun 2024 10:00:00 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
