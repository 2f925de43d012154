#include "cicu.h"

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/ucnv.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/utypes.h>

_Static_assert(sizeof(cicu_uchar) == sizeof(UChar), "cicu_uchar must match ICU's UChar");
_Static_assert(sizeof(int32_t) == sizeof(UErrorCode), "UErrorCode is passed as int32_t");

cicu_word_breaker *cicu_word_breaker_open(int32_t *status) {
    UErrorCode code = U_ZERO_ERROR;
    UBreakIterator *it = ubrk_open(UBRK_WORD, "", NULL, 0, &code);
    *status = code;
    return (cicu_word_breaker *)it;
}

void cicu_word_breaker_close(cicu_word_breaker *breaker) {
    ubrk_close((UBreakIterator *)breaker);
}

void cicu_word_breaker_set_text(cicu_word_breaker *breaker, const cicu_uchar *text, int32_t length, int32_t *status) {
    UErrorCode code = U_ZERO_ERROR;
    ubrk_setText((UBreakIterator *)breaker, (const UChar *)text, length, &code);
    *status = code;
}

int32_t cicu_word_breaker_first(cicu_word_breaker *breaker) { return ubrk_first((UBreakIterator *)breaker); }
int32_t cicu_word_breaker_next(cicu_word_breaker *breaker) { return ubrk_next((UBreakIterator *)breaker); }
int32_t cicu_word_breaker_rule_status(cicu_word_breaker *breaker) { return ubrk_getRuleStatus((UBreakIterator *)breaker); }

int32_t cicu_nfkc_casefold(const cicu_uchar *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status) {
    UErrorCode code = U_ZERO_ERROR;
    const UNormalizer2 *nfkc = unorm2_getNFKCCasefoldInstance(&code);
    if (U_FAILURE(code)) { *status = code; return 0; }
    int32_t n = unorm2_normalize(nfkc, (const UChar *)src, length, (UChar *)dest, capacity, &code);
    *status = code;
    return n;
}

int32_t cicu_fold_for_matching(const cicu_uchar *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status) {
    // Two passes through a stack buffer: NFKC_Casefold, then NFD, then drop Mn.
    UErrorCode code = U_ZERO_ERROR;
    const UNormalizer2 *nfkc = unorm2_getNFKCCasefoldInstance(&code);
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&code);
    if (U_FAILURE(code)) { *status = code; return 0; }
    UChar folded[512];
    UChar decomposed[1024];
    if (length > 128) { *status = U_BUFFER_OVERFLOW_ERROR; return length * 4; }
    int32_t n = unorm2_normalize(nfkc, (const UChar *)src, length, folded, 512, &code);
    if (U_FAILURE(code)) { *status = code; return 0; }
    int32_t m = unorm2_normalize(nfd, folded, n, decomposed, 1024, &code);
    if (U_FAILURE(code)) { *status = code; return 0; }
    int32_t out = 0;
    int32_t i = 0;
    while (i < m) {
        UChar32 c;
        U16_NEXT(decomposed, i, m, c);
        if (u_charType(c) == U_NON_SPACING_MARK) continue;
        if (U_IS_BMP(c)) {
            if (out < capacity) dest[out] = (UChar)c;
            out += 1;
        } else {
            if (out + 1 < capacity) { dest[out] = U16_LEAD(c); dest[out + 1] = U16_TRAIL(c); }
            out += 2;
        }
    }
    *status = out > capacity ? U_BUFFER_OVERFLOW_ERROR : U_ZERO_ERROR;
    return out;
}

int32_t cicu_script(int32_t codepoint) {
    UErrorCode code = U_ZERO_ERROR;
    UScriptCode script = uscript_getScript(codepoint, &code);
    return U_FAILURE(code) ? -1 : (int32_t)script;
}

const char *cicu_script_short_name(int32_t script) {
    const char *name = uscript_getShortName((UScriptCode)script);
    return name ? name : "Zzzz";
}

int32_t cicu_char_type(int32_t codepoint) { return (int32_t)u_charType(codepoint); }
int32_t cicu_is_alphabetic(int32_t codepoint) { return u_isUAlphabetic(codepoint) ? 1 : 0; }

int32_t cicu_convert_to_utf16(const char *charset, const char *src, int32_t length, cicu_uchar *dest, int32_t capacity, int32_t *status) {
    UErrorCode code = U_ZERO_ERROR;
    UConverter *conv = ucnv_open(charset, &code);
    if (U_FAILURE(code)) { *status = code; return 0; }
    int32_t n = ucnv_toUChars(conv, (UChar *)dest, capacity, src, length, &code);
    ucnv_close(conv);
    *status = code;
    return n;
}

int32_t cicu_failed(int32_t status) { return U_FAILURE((UErrorCode)status) ? 1 : 0; }
const char *cicu_error_name(int32_t status) { return u_errorName((UErrorCode)status); }
int32_t cicu_buffer_overflow_status(void) { return U_BUFFER_OVERFLOW_ERROR; }
