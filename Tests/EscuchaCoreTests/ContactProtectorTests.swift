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
