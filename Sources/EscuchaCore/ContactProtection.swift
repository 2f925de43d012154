import Crypto
import Foundation

/// Errors of contact encryption. Descriptions never contain the contact.
public enum ContactProtectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key is not 32 bytes of base64 or hex.
    case invalidKey(reason: String)
    /// The ciphertext could not be opened: wrong key or damaged data.
    case cannotDecrypt

    public var description: String {
        switch self {
        case .invalidKey(let reason):
            "ESCUCHA_SECRET_KEY is not usable (\(reason)); set it to 32 random bytes in base64, e.g. `openssl rand -base64 32`"
        case .cannotDecrypt:
            "a contact could not be decrypted: ESCUCHA_SECRET_KEY is not the key the data was written with, or the data is damaged"
        }
    }
}

/// Encrypts contact addresses (AES-GCM), links them by a keyed hash (HMAC-SHA256), and
/// masks them for display. Two sub-keys are derived from one secret with HKDF so the hash
/// key and the encryption key are never the same.
public struct ContactProtector: Sendable {
    // Kept as bytes: SymmetricKey is not Sendable.
    private let encryptionKeyBytes: Data
    private var encryptionKey: SymmetricKey { SymmetricKey(data: encryptionKeyBytes) }
    /// The hash key's HMAC state before any message: every link hash starts from a copy,
    /// instead of padding and hashing the key again.
    private let keyedHasher: KeyedHasher

    /// Creates a protector from the 32-byte secret.
    public init(secret: Data) throws(ContactProtectionError) {
        guard secret.count == 32 else { throw .invalidKey(reason: "it must be 32 bytes, got \(secret.count)") }
        let master = SymmetricKey(data: secret)
        encryptionKeyBytes = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Data("escucha contact encryption v1".utf8), outputByteCount: 32).withUnsafeBytes { Data($0) }
        let hashKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Data("escucha contact hash v1".utf8), outputByteCount: 32)
        keyedHasher = KeyedHasher(HMAC<SHA256>(key: hashKey))
    }

    /// Creates a protector from the text form of the secret (base64, or 64 hex digits).
    public init(encodedSecret: String) throws(ContactProtectionError) {
        let trimmed = encodedSecret.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, let data = Data(hexString: trimmed) {
            try self.init(secret: data)
        } else if let data = Data(base64Encoded: trimmed) {
            try self.init(secret: data)
        } else {
            throw .invalidKey(reason: "it is neither base64 nor 64 hex digits")
        }
    }

    /// A fresh random secret in base64, for a new installation.
    public static func generateEncodedSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Encrypts `address` (nonce ‖ ciphertext ‖ tag).
    public func encrypt(_ address: String) -> Data {
        // AES-GCM with a random nonce only fails for invalid key sizes, which init rules out.
        let sealed = try! AES.GCM.seal(Data(address.utf8), using: encryptionKey)
        return sealed.combined!
    }

    /// Decrypts what `encrypt` produced.
    public func decrypt(_ data: Data) throws(ContactProtectionError) -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            let plain = try AES.GCM.open(box, using: encryptionKey)
            guard let text = String(data: plain, encoding: .utf8) else { throw ContactProtectionError.cannotDecrypt }
            return text
        } catch {
            throw .cannotDecrypt
        }
    }

    /// The keyed hash that links messages of the same person without storing the address
    /// in clear. The address is canonicalised first (see ``ContactAddress``).
    public func linkHash(_ address: String) -> String {
        var canonical = ContactAddress.canonical(address)
        var hmac = keyedHasher.start
        canonical.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        return TextEncoding.hex(Array(hmac.finalize()))
    }
}

/// An HMAC state keyed once. `HMAC` is a value (its hash states are copied on write) that
/// is not marked Sendable; this box only hands out copies of a state nobody mutates.
private final class KeyedHasher: @unchecked Sendable {
    let start: HMAC<SHA256>
    init(_ start: HMAC<SHA256>) { self.start = start }
}

/// Canonical forms and display masks of contact addresses.
public enum ContactAddress {
    /// Phone numbers lose spaces, dashes and brackets (keeping a leading `+`); emails are
    /// lower-cased; other ids are trimmed.
    public static func canonical(_ address: String) -> String {
        // Gateways mostly send bare numbers: those skip trimming and filtering (the
        // Foundation and Character work cost more than the HMAC of the result).
        let bare = !address.isEmpty && address.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B }
        let trimmed = bare ? address : address.trimmingCharacters(in: .whitespacesAndNewlines)
        if !bare && trimmed.contains("@") { return trimmed.lowercased() }
        let stripped = bare ? address : trimmed.filter { !" -().\u{00A0}".contains($0) }
        if stripped.hasPrefix("00"), stripped.count > 6, stripped.dropFirst(2).allSatisfy(\.isASCIIDigit) {
            return "+" + stripped.dropFirst(2)
        }
        if stripped.first == "+" || stripped.allSatisfy(\.isASCIIDigit) { return stripped }
        return trimmed
    }

    /// A form safe to show on screen: `+57 *** *** 4821`, `m***@e***.org`.
    public static func mask(_ address: String) -> String {
        let canonical = canonical(address)
        if canonical.utf8.contains(0x40) {  // @
            let parts = canonical.split(separator: "@", maxSplits: 1)
            let local = parts.first.map { String($0.prefix(1)) + "***" } ?? "***"
            let domain = parts.count > 1 ? String(parts[1]) : ""
            let labels = domain.split(separator: ".")
            let tld = labels.count > 1 ? "." + labels.last! : ""
            return "\(local)@\(labels.first.map { String($0.prefix(1)) } ?? "")***\(tld)"
        }
        let digits = String(decoding: canonical.utf8.filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self)
        guard digits.count >= 6 else { return String(repeating: "*", count: max(3, digits.count)) }
        let last = String(digits.suffix(4))
        if canonical.hasPrefix("+") {
            let country = String(digits.prefix(countryCodeLength(digits)))
            return "+\(country) *** *** \(last)"
        }
        return "*** *** \(last)"
    }

    /// Length of the ITU country calling code at the start of `digits` (E.164).
    static func countryCodeLength(_ digits: String) -> Int {
        guard let first = digits.first else { return 0 }
        if first == "1" || first == "7" { return 1 }
        return twoDigitCountryCodes.contains(String(digits.prefix(2))) ? 2 : 3
    }

    /// Two-digit codes in use (zones 2–9); the rest are three digits.
    private static let twoDigitCountryCodes: Set<String> = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ]
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Data {
    /// Decodes hex text; `nil` when it is not hex.
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var iterator = hexString.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = Self.hexValue(high), let l = Self.hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.init(bytes)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
