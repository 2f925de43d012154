import Foundation

/// How a sender or recipient address is cleaned up.
public enum AddressNormalization: String, Sendable, Equatable, CaseIterable {
    /// Keep the value as sent.
    case none
    /// A phone number: `+` and digits for international numbers; national numbers
    /// (leading `0`) become international with the instance's country code, or stay as
    /// sent; short codes stay as sent; anything with letters is refused.
    case phone
    /// A WhatsApp id: digits without `+`, or a business-scoped user id such as `US.1234`.
    case whatsapp
}

/// Address normalisation. Errors never repeat the address (it is personal data).
public enum Addresses {
    /// Normalises `raw`.
    /// - Parameters:
    ///   - raw: the address as sent.
    ///   - mode: how to normalise.
    ///   - countryCode: the instance's calling code (`57`), for national numbers.
    /// - Returns: the address, or a reason a person can act on.
    public static func normalize(_ raw: String, _ mode: AddressNormalization, countryCode: String? = nil) -> Result<String, AddressError> {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        switch mode {
        case .none:
            return value.isEmpty ? .failure(.empty) : .success(value)
        case .phone:
            let cleaned = value.filter { !" -().\u{00A0}".contains($0) }
            guard !cleaned.isEmpty else { return .failure(.empty) }
            let hasPlus = cleaned.hasPrefix("+")
            let digits = hasPlus ? String(cleaned.dropFirst()) : cleaned
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .failure(.notAPhoneNumber) }
            if hasPlus {
                return (6...15).contains(digits.count) ? .success("+" + digits) : .failure(.notAPhoneNumber)
            }
            if digits.hasPrefix("00"), digits.count > 8 { return .success("+" + digits.dropFirst(2)) }
            if digits.hasPrefix("0") {
                if let code = countryCode?.filter(\.isNumber), !code.isEmpty {
                    return .success("+" + code + digits.drop(while: { $0 == "0" }))
                }
                return .success(digits)
            }
            if digits.count < 7 { return .success(digits) }  // short code
            return digits.count <= 15 ? .success("+" + digits) : .failure(.notAPhoneNumber)
        case .whatsapp:
            var v = value
            if v.hasPrefix("+") { v.removeFirst() }
            if !v.isEmpty, v.allSatisfy({ $0.isASCII && $0.isNumber }) { return .success(v) }
            // Business-scoped user ids: two-letter country, a dot, then letters, digits and dots.
            let parts = v.split(separator: ".", maxSplits: 1)
            if parts.count == 2, parts[0].count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }),
               parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == ".") }) {
                return .success(v)
            }
            return .failure(v.isEmpty ? .empty : .notAWhatsAppID)
        }
    }
}

/// Why an address was refused.
public enum AddressError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case notAPhoneNumber
    case notAWhatsAppID

    public var description: String {
        switch self {
        case .empty: "the address is empty"
        case .notAPhoneNumber: "the address is not a possible phone number (letters, or wrong length)"
        case .notAWhatsAppID: "the address is not a valid WhatsApp id"
        }
    }
}
