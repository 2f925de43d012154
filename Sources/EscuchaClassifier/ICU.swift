internal import CICU

/// An ICU failure, with ICU's status name and the operation that failed.
public struct ICUError: Error, Sendable, CustomStringConvertible {
    /// ICU's name of the status, e.g. `U_FILE_ACCESS_ERROR`.
    public var status: String
    /// What was being done.
    public var operation: String
    public var description: String { "ICU failed while \(operation): \(status)" }
}

/// Checks an ICU status right after the call, before anything else touches ICU.
@inline(__always)
func checkICU(_ status: Int32, _ operation: @autoclosure () -> String) throws(ICUError) {
    if cicu_failed(status) != 0 {
        throw ICUError(status: String(cString: cicu_error_name(status)), operation: operation())
    }
}

/// A word break iterator over UTF-16 text. One owner: not for sharing across threads.
// @unchecked: one owner at a time; the classifier hands iterators out through a locked pool.
final class WordBreaker: @unchecked Sendable {
    private let handle: OpaquePointer

    init() throws(ICUError) {
        var status: Int32 = 0
        let handle = cicu_word_breaker_open(&status)
        try checkICU(status, "opening the word break iterator")
        self.handle = handle!
    }

    deinit { cicu_word_breaker_close(handle) }

    /// Calls `body` with each segment `[start, end)` and its rule status.
    /// The buffer is only borrowed for the duration of the call.
    func segments(of text: UnsafeBufferPointer<UInt16>, _ body: (Int, Int, Int32) -> Void) {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        var status: Int32 = 0
        cicu_word_breaker_set_text(handle, base, Int32(text.count), &status)
        if cicu_failed(status) != 0 { return }
        var start = Int(cicu_word_breaker_first(handle))
        while true {
            let end = Int(cicu_word_breaker_next(handle))
            if end < 0 { break }
            body(start, end, cicu_word_breaker_rule_status(handle))
            start = end
        }
    }
}

/// Text operations backed by ICU.
public enum ICUText {
    /// Folds UTF-16 code units for matching (NFKC case fold, decomposition, diacritics removed).
    static func foldForMatching(_ source: UnsafeBufferPointer<UInt16>) -> [UInt16] {
        guard let base = source.baseAddress, !source.isEmpty else { return [] }
        if source.count <= 128 {
            return [UInt16](unsafeUninitializedCapacity: 512) { buffer, count in
                var status: Int32 = 0
                let n = cicu_fold_for_matching(base, Int32(source.count), buffer.baseAddress, 512, &status)
                count = cicu_failed(status) != 0 ? 0 : Int(n)
            }
        }
        // Long tokens (rare: URLs, base64) are folded in pieces of 128 units, cut at
        // scalar boundaries.
        var out: [UInt16] = []
        var index = 0
        while index < source.count {
            var end = min(index + 128, source.count)
            if end < source.count, UTF16.isTrailSurrogate(source[end]) { end -= 1 }
            out += foldForMatching(UnsafeBufferPointer(rebasing: source[index..<end]))
            index = end
        }
        return out
    }

    /// Folds a string for matching; the same folding is applied to lexicons and messages.
    public static func foldForMatching(_ text: String) -> String {
        let units = Array(text.utf16)
        let folded = units.withUnsafeBufferPointer { foldForMatching($0) }
        return String(decoding: folded, as: UTF16.self)
    }

    /// NFKC case folding, keeping diacritics.
    public static func caseFold(_ text: String) -> String {
        let units = Array(text.utf16)
        guard !units.isEmpty else { return "" }
        var capacity = units.count * 3 + 16
        while true {
            var status: Int32 = 0
            var written = 0
            let out = [UInt16](unsafeUninitializedCapacity: capacity) { buffer, count in
                written = Int(cicu_nfkc_casefold(units, Int32(units.count), buffer.baseAddress, Int32(capacity), &status))
                count = min(written, capacity)
            }
            if status == cicu_buffer_overflow_status() { capacity = written + 16; continue }
            if cicu_failed(status) != 0 { return text.lowercased() }
            return String(decoding: out, as: UTF16.self)
        }
    }

    /// The ISO 15924 code of a scalar's script ("Latn", "Arab", "Zyyy" for common).
    public static func script(of scalar: Unicode.Scalar) -> String {
        let code = cicu_script(Int32(bitPattern: scalar.value))
        return code < 0 ? "Zzzz" : String(cString: cicu_script_short_name(code))
    }

    /// Whether the scalar is a nonspacing mark.
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        cicu_char_type(Int32(bitPattern: scalar.value)) == 6  // U_NON_SPACING_MARK
    }

    /// Decodes `bytes` from `charset` (IANA or ICU name: "ISO-8859-1", "windows-1252",
    /// "UTF-16BE", "Big5", "ISO-2022-JP", …).
    /// - Throws: ``ICUError`` when the charset is unknown.
    public static func decode(_ bytes: [UInt8], charset: String) throws(ICUError) -> String {
        if bytes.isEmpty { return "" }
        var capacity = bytes.count * 2 + 16
        while true {
            var status: Int32 = 0
            var written = 0
            let out = bytes.withUnsafeBufferPointer { src in
                src.withMemoryRebound(to: CChar.self) { csrc in
                    [UInt16](unsafeUninitializedCapacity: capacity) { buffer, count in
                        written = Int(cicu_convert_to_utf16(charset, csrc.baseAddress, Int32(bytes.count), buffer.baseAddress, Int32(capacity), &status))
                        count = min(written, capacity)
                    }
                }
            }
            if status == cicu_buffer_overflow_status() { capacity = written + 16; continue }
            try checkICU(status, "decoding text as \(charset)")
            return String(decoding: out, as: UTF16.self)
        }
    }
}
