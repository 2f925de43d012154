/// A set of byte strings numbered in insertion order, with open addressing: looking up a
/// token costs one hash over its folded bytes and one comparison, and creates no String.
struct ByteStringTable: Sendable {
    private var keyBytes: [UInt8] = []
    /// Key `i` is `keyBytes[keyStarts[i]..<keyStarts[i + 1]]`.
    private var keyStarts: [Int32] = [0]
    private var hashes: [UInt64] = []
    /// Per slot: the key's hash in the high 32 bits and its index + 1 in the low ones, 0
    /// when empty, so a probe reads one word before comparing bytes. The count is a power
    /// of two.
    private var slots: [UInt64] = Array(repeating: 0, count: 16)

    var count: Int { hashes.count }

    static let hashSeed: UInt64 = 0xcbf2_9ce4_8422_2325

    /// One step of 64-bit FNV-1a, for callers that hash bytes as they write them.
    @inline(__always)
    static func hash(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }

    /// 64-bit FNV-1a: short keys (words), so a byte loop is as fast as anything wider.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash = hashSeed
        for byte in bytes { hash = Self.hash(hash, byte) }
        return hash
    }

    /// The index of `bytes`, adding them when new.
    @discardableResult
    mutating func insert(_ bytes: [UInt8]) -> Int32 {
        let existing = bytes.withUnsafeBufferPointer { find($0) }
        if existing >= 0 { return existing }
        let index = Int32(hashes.count)
        keyBytes += bytes
        keyStarts.append(Int32(keyBytes.count))
        let hash = bytes.withUnsafeBufferPointer { Self.hash($0) }
        hashes.append(hash)
        if hashes.count * 2 > slots.count {
            rehash(capacity: slots.count * 2)
        } else {
            place(index, hash: hash)
        }
        return index
    }

    mutating func insert(_ text: String) -> Int32 { insert(Array(text.utf8)) }

    private mutating func rehash(capacity: Int) {
        slots = Array(repeating: 0, count: capacity)
        for (i, hash) in hashes.enumerated() { place(Int32(i), hash: hash) }
    }

    private mutating func place(_ index: Int32, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = (hash >> 32) << 32 | UInt64(UInt32(index) + 1)
    }

    /// The index of `bytes`, or -1.
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        find(bytes, hash: Self.hash(bytes))
    }

    /// The index of `bytes`, whose `hash` the caller computed, or -1.
    @inline(__always)
    func find(_ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int32 {
        slots.withUnsafeBufferPointer { slots in
            keyStarts.withUnsafeBufferPointer { starts in
                keyBytes.withUnsafeBufferPointer { keys in
                    let mask = slots.count - 1
                    let tag = hash >> 32
                    var slot = Int(truncatingIfNeeded: hash) & mask
                    while true {
                        let entry = slots[slot]
                        if entry == 0 { return -1 }
                        if entry >> 32 == tag {
                            let index = Int(entry & 0xFFFF_FFFF) - 1
                            let start = Int(starts[index])
                            let end = Int(starts[index + 1])
                            if end - start == bytes.count,
                                bytes.isEmpty || memoryEqual(keys.baseAddress! + start, bytes.baseAddress!, bytes.count)
                            {
                                return Int32(index)
                            }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    func find(_ text: String) -> Int32 {
        Array(text.utf8).withUnsafeBufferPointer { find($0) }
    }

    /// The bytes of key `index`.
    func bytes(_ index: Int32) -> ArraySlice<UInt8> {
        keyBytes[Int(keyStarts[Int(index)])..<Int(keyStarts[Int(index) + 1])]
    }

    func string(_ index: Int32) -> String { String(decoding: bytes(index), as: UTF8.self) }
}

@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for i in 0..<count where a[i] != b[i] { return false }
    return true
}
