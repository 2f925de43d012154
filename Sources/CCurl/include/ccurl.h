// Thin shim over libcurl's easy API.
//
// Why it exists: `curl_easy_setopt` and `curl_easy_getinfo` are variadic C functions, which
// Swift cannot call. Each wrapper below fixes one argument type, so Swift sees an ordinary
// typed function. Nothing else lives here: the Swift wrapper (EscuchaWorkflow/HTTPClient.swift)
// owns the handles and turns CURLcode into Swift errors.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// The option constants are passed through a variable, so libcurl's compile-time type
// checking macros (typecheck-gcc.h) cannot help; each wrapper's parameter type is the check.
_Static_assert(sizeof(curl_off_t) == 8, "CURLOPT_*_LARGE options take a 64-bit curl_off_t");

/// Callback type of CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION (named so Swift can
/// spell the @convention(c) type).
typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *context);

/// Callback type of CURLOPT_READFUNCTION (upload of an SMTP message).
typedef size_t (*ccurl_read_callback)(char *buffer, size_t size, size_t count, void *context);

/// Callback type of CURLOPT_XFERINFOFUNCTION (progress; returning non-zero aborts, used
/// for task cancellation).
typedef int (*ccurl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);

/// Calls curl_global_init(CURL_GLOBAL_DEFAULT) exactly once per process (it is not
/// thread-safe itself); later calls return the first result.
CURLcode ccurl_global_init_once(void);

/// Sets a `long` option (timeouts, flags): the variadic setopt reads a long.
static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets a `curl_off_t` option (CURLOPT_INFILESIZE_LARGE): the variadic setopt reads 64 bits.
static inline CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets a C string option (URL, user, password, custom method); libcurl copies strings
/// (except CURLOPT_POSTFIELDS, which this shim never sets: see ccurl_setopt_copy_postfields).
static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets an opaque pointer option (CURLOPT_WRITEDATA, CURLOPT_ERRORBUFFER, …): the caller
/// keeps the pointee alive for the whole transfer.
static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets a string-list option (CURLOPT_HTTPHEADER, CURLOPT_MAIL_RCPT); the list must live
/// until the transfer ends.
static inline CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *list) {
    return curl_easy_setopt(handle, option, list);
}

/// Sets CURLOPT_WRITEFUNCTION or CURLOPT_HEADERFUNCTION: the variadic setopt reads a
/// function pointer, which Swift cannot pass through `...`.
static inline CURLcode ccurl_setopt_data_function(CURL *handle, CURLoption option, ccurl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

/// Sets CURLOPT_WRITEFUNCTION (response body).
static inline CURLcode ccurl_setopt_write_function(CURL *handle, ccurl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

/// Sets CURLOPT_HEADERFUNCTION (response header lines).
static inline CURLcode ccurl_setopt_header_function(CURL *handle, ccurl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

/// Sets CURLOPT_READFUNCTION (upload body, e.g. an SMTP message).
static inline CURLcode ccurl_setopt_read_function(CURL *handle, ccurl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

/// Sets CURLOPT_XFERINFOFUNCTION and turns progress calls on (CURLOPT_NOPROGRESS 0), so a
/// transfer can be aborted from Swift when its task is cancelled.
static inline CURLcode ccurl_setopt_progress_function(CURL *handle, ccurl_progress_callback callback) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

/// Sets the request body by copy: CURLOPT_POSTFIELDSIZE_LARGE first, then
/// CURLOPT_COPYPOSTFIELDS. CURLOPT_POSTFIELDS would keep the pointer, and a Swift
/// temporary is gone by the time the transfer runs (seen: an empty body was sent).
static inline CURLcode ccurl_setopt_copy_postfields(CURL *handle, const char *data, curl_off_t length) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, length);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_COPYPOSTFIELDS, length == 0 ? "" : data);
}

/// Reads the last response code (HTTP status, or SMTP reply code): the variadic getinfo
/// writes through a `long *`.
static inline CURLcode ccurl_getinfo_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}

/// Reads the total transfer time in microseconds (CURLINFO_TOTAL_TIME_T), for logs and metrics.
static inline CURLcode ccurl_getinfo_total_time_us(CURL *handle, curl_off_t *microseconds) {
    return curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME_T, microseconds);
}

#ifdef __cplusplus
}
#endif

#endif
