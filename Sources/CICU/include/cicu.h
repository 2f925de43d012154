// Thin shim over ICU's C API.
//
// Why it exists: Debian's ICU renames every C function with a version suffix through
// macros (ubrk_open → ubrk_open_72), and Swift does not import function-aliasing macros.
// Every <unicode/*.h> include stays in this file's .c so Swift only sees these
// version-independent names.
#ifndef CICU_H
#define CICU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t cicu_uchar;

/// Opaque word break iterator.
typedef struct cicu_word_breaker cicu_word_breaker;

/// ICU's rule status ranges for word boundaries (UWordBreak).
enum {
    CICU_WORD_NONE_LIMIT = 100,   // [0,100): spaces, punctuation, symbols
    CICU_WORD_NUMBER_LIMIT = 200, // [100,200): numbers
    CICU_WORD_LETTER_LIMIT = 300, // [200,300): letters
    CICU_WORD_KANA_LIMIT = 400,   // [300,400): kana
    CICU_WORD_IDEO_LIMIT = 500    // [400,500): ideographs
};

/// Opens a word break iterator for the root locale; NULL on failure, with *status set.
cicu_word_breaker *cicu_word_breaker_open(int32_t *status);
/// Closes what cicu_word_breaker_open returned.
void cicu_word_breaker_close(cicu_word_breaker *breaker);
/// Points the iterator at `text` (not copied: it must outlive the iteration).
void cicu_word_breaker_set_text(cicu_word_breaker *breaker, const cicu_uchar *text, int32_t length, int32_t *status);
/// The first boundary (0).
int32_t cicu_word_breaker_first(cicu_word_breaker *breaker);
/// The next boundary, or -1 at the end.
int32_t cicu_word_breaker_next(cicu_word_breaker *breaker);
/// The rule status of the segment that ends at the current boundary.
int32_t cicu_word_breaker_rule_status(cicu_word_breaker *breaker);

/// Folds `src` for matching: NFKC case folding, canonical decomposition, and removal of
/// nonspacing marks (diacritics). Returns the length written (or needed, when larger
/// than `capacity`).
int32_t cicu_fold_for_matching(const cicu_uchar *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status);

/// NFKC case folding only. Same contract as cicu_fold_for_matching.
int32_t cicu_nfkc_casefold(const cicu_uchar *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status);

/// The ICU script code (UScriptCode) of a code point, or -1 on error.
int32_t cicu_script(int32_t codepoint);
/// The ISO 15924 short name of a script code ("Latn", "Arab", …), or "Zzzz".
const char *cicu_script_short_name(int32_t script);
/// The general category (UCharCategory) of a code point.
int32_t cicu_char_type(int32_t codepoint);
/// Whether the code point is alphabetic.
int32_t cicu_is_alphabetic(int32_t codepoint);

/// Converts bytes in `charset` (an IANA or ICU name) to UTF-16. Returns the length
/// written (or needed). *status > 0 on failure (e.g. an unknown charset).
int32_t cicu_convert_to_utf16(const char *charset, const char *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status);

/// Whether an ICU status is a failure.
int32_t cicu_failed(int32_t status);
/// ICU's name for a status code ("U_ILLEGAL_ARGUMENT_ERROR").
const char *cicu_error_name(int32_t status);

/// ICU's status for a destination buffer that is too small.
int32_t cicu_buffer_overflow_status(void);

#ifdef __cplusplus
}
#endif
#endif
