import EscuchaCore
import Foundation
import Testing

@Suite struct ContactProtectorTests {
    let key = ContactProtector.generateEncodedSecret()

    @Test(arguments: ["+57 300 123 4821", "maria.lopez@example.org", "ñandú ✉️ id-77"])
    func encryptionRoundTrips(address: String) throws {
        let protector = try ContactProtector(encodedSecret: key)
        let sealed = protector.encrypt(address)
        #expect(!sealed.isEmpty)
        #expect(sealed.range(of: Data(address.utf8)) == nil)
        #expect(try protector.decrypt(sealed) == address)
        // A fresh nonce every time.
        #expect(protector.encrypt(address) != sealed)
    }

    @Test func aWrongKeyCannotDecrypt() throws {
        let sealed = try ContactProtector(encodedSecret: key).encrypt("+573001234567")
        let other = try ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())
        #expect(throws: ContactProtectionError.cannotDecrypt) { try other.decrypt(sealed) }
    }

    @Test func damagedDataCannotBeDecrypted() throws {
        let protector = try ContactProtector(encodedSecret: key)
        var sealed = protector.encrypt("+573001234567")
        sealed[sealed.count - 1] ^= 0x01
        #expect(throws: ContactProtectionError.cannotDecrypt) { try protector.decrypt(sealed) }
        #expect(throws: ContactProtectionError.cannotDecrypt) { try protector.decrypt(Data([1, 2, 3])) }
    }

    @Test func theLinkHashIsKeyedAndCanonical() throws {
        let protector = try ContactProtector(encodedSecret: key)
        let other = try ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())
        #expect(protector.linkHash("+57 300-123-4821") == protector.linkHash("+573001234821"))
        #expect(protector.linkHash("0057 300 123 4821") == protector.linkHash("+573001234821"))
        #expect(protector.linkHash("+573001234821") != other.linkHash("+573001234821"))
        #expect(protector.linkHash("+573001234821").count == 64)
    }

    /// Stored link hashes thread a person's later messages: the hash of a number may never
    /// change. The expected value is HKDF-SHA256 (no salt, info "escucha contact hash v1")
    /// then HMAC-SHA256, computed apart from Escucha (Python's hmac module).
    @Test func theLinkHashIsStableAndTheSameFromEveryThread() async throws {
        let protector = try ContactProtector(encodedSecret: String(repeating: "01", count: 32))
        let expected = "bca03d67637460208e419cbc57625da4ad6570db63d2411bc2cec4e054f6e1f7"
        #expect(protector.linkHash("+573001234821") == expected)
        #expect(protector.linkHash("+57 300 123 4821") == expected, "a second hash starts from the same keyed state")
        let hashes = await withTaskGroup(of: String.self) { group in
            for k in 0..<64 { group.addTask { protector.linkHash(k % 2 == 0 ? "+573001234821" : "+573001234822") } }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(hashes.filter { $0 == expected }.count == 32)
        #expect(Set(hashes).count == 2)
    }

    @Test func badKeysAreRefusedWithoutEchoingThem() {
        #expect(throws: ContactProtectionError.self) { try ContactProtector(encodedSecret: "c2hvcnQ=") }
        do {
            _ = try ContactProtector(encodedSecret: "not a key at all!")
            Issue.record("accepted a bad key")
        } catch {
            #expect(!error.description.contains("not a key at all"))
        }
    }
}
