/// A set of byte strings numbered in insertion order, with open addressing: looking up a
/// token costs one hash over its folded bytes and one comparison, and creates no String.
struct ByteStringTable: Sendable {
    private var keyBytes: [UInt8] = []
    /// Key `i` is `keyBytes[keyStarts[i]..<keyStarts[i + 1]]`.
    private var keyStarts: [Int32] = [0]
    private var hashes: [UInt64] = []
    private var marked: [Bool] = []
    /// The count is a power of two.
    private var slots: [Slot] = Array(repeating: .empty, count: 16)

    /// A key's first eight bytes, length, index and mark side by side: a lookup of a word
    /// of up to eight bytes reads one cache line, not a slot, an offset and the bytes.
    private struct Slot: Sendable {
        var head: UInt64
        var length: UInt32
        /// The key's index + 1 (0: empty), with the mark in the top bit.
        var tag: UInt32

        static let empty = Slot(head: 0, length: 0, tag: 0)
        static let markBit: UInt32 = 1 << 31
    }

    /// A lookup's answer: the key's index (-1 when absent) and whether it is marked.
    struct Found {
        var index: Int32
        var isMarked: Bool
    }

    var count: Int { hashes.count }

    /// A hash taken eight bytes at a time, for callers that hash bytes as they write them:
    /// a byte costs a shift and an or, and only every eighth a multiplication (a byte-wise
    /// hash makes every byte wait for the previous multiplication).
    struct Hasher {
        private var state: UInt64 = 0
        private var chunk: UInt64 = 0
        private var count = 0

        @inline(__always)
        mutating func add(_ byte: UInt8) {
            chunk |= UInt64(byte) << (8 * UInt64(count & 7))
            count += 1
            if count & 7 == 0 {
                state = (state ^ chunk) &* 0x9E37_79B9_7F4A_7C15
                chunk = 0
            }
        }

        @inline(__always)
        func finish() -> UInt64 {
            var x = ((state ^ chunk) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)) &* 0x9E37_79B9_7F4A_7C15
            // Slots are picked by the low bits: fold the high ones in.
            x ^= x >> 29
            x = x &* 0xBF58_476D_1CE4_E5B9
            return x ^ (x >> 32)
        }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hasher = Hasher()
        for byte in bytes { hasher.add(byte) }
        return hasher.finish()
    }

    /// Up to the first eight bytes, little-endian, zero-padded.
    @inline(__always)
    private static func head(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var head: UInt64 = 0
        for k in 0..<min(bytes.count, 8) { head |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        return head
    }

    /// The index of `bytes`, adding them when new.
    @discardableResult
    mutating func insert(_ bytes: [UInt8]) -> Int32 {
        precondition(bytes.count < Int(Slot.markBit), "a key of \(bytes.count) bytes")
        let existing = bytes.withUnsafeBufferPointer { find($0) }
        if existing >= 0 { return existing }
        let index = Int32(hashes.count)
        keyBytes += bytes
        keyStarts.append(Int32(keyBytes.count))
        let hash = bytes.withUnsafeBufferPointer { Self.hash($0) }
        hashes.append(hash)
        marked.append(false)
        if hashes.count * 2 > slots.count {
            rehash(capacity: slots.count * 2)
        } else {
            place(index, hash: hash)
        }
        return index
    }

    mutating func insert(_ text: String) -> Int32 { insert(Array(text.utf8)) }

    /// Marks key `index`: lookups report it (the tokenizer marks abbreviations).
    mutating func mark(_ index: Int32) {
        marked[Int(index)] = true
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hashes[Int(index)]) & mask
        while slots[slot].tag & ~Slot.markBit != UInt32(index) + 1 { slot = (slot + 1) & mask }
        slots[slot].tag |= Slot.markBit
    }

    private mutating func rehash(capacity: Int) {
        slots = Array(repeating: .empty, count: capacity)
        for (i, hash) in hashes.enumerated() { place(Int32(i), hash: hash) }
    }

    private mutating func place(_ index: Int32, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot].tag != 0 { slot = (slot + 1) & mask }
        let range = Int(keyStarts[Int(index)])..<Int(keyStarts[Int(index) + 1])
        let head = keyBytes[range].withUnsafeBufferPointer { Self.head($0) }
        slots[slot] = Slot(head: head, length: UInt32(range.count), tag: (UInt32(index) + 1) | (marked[Int(index)] ? Slot.markBit : 0))
    }

    /// The index of `bytes`, or -1.
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        find(bytes, hash: Self.hash(bytes)).index
    }

    /// The index of `bytes`, whose `hash` the caller computed, and its mark.
    @inline(__always)
    func find(_ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Found {
        slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            let head = Self.head(bytes)
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let entry = slots[slot]
                if entry.tag == 0 { return Found(index: -1, isMarked: false) }
                if entry.head == head, Int(entry.length) == bytes.count {
                    let index = Int(entry.tag & ~Slot.markBit) - 1
                    if bytes.count <= 8 || tailEqual(index, bytes) { return Found(index: Int32(index), isMarked: entry.tag & Slot.markBit != 0) }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Whether key `index` (as long as `bytes`) has the same bytes after the eighth.
    private func tailEqual(_ index: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        keyBytes.withUnsafeBufferPointer { keys in
            let start = Int(keyStarts[index])
            for k in 8..<bytes.count where keys[start + k] != bytes[k] { return false }
            return true
        }
    }

    func find(_ text: String) -> Int32 {
        Array(text.utf8).withUnsafeBufferPointer { find($0) }
    }

    /// The bytes of key `index`.
    func bytes(_ index: Int32) -> ArraySlice<UInt8> {
        keyBytes[Int(keyStarts[Int(index)])..<Int(keyStarts[Int(index) + 1])]
    }

    /// The hash of key `index`, as ``hash(_:)`` gives it.
    func hash(of index: Int32) -> UInt64 { hashes[Int(index)] }

    func string(_ index: Int32) -> String { String(decoding: bytes(index), as: UTF8.self) }
}
