// libcurl (Debian libcurl4-openssl-dev): HTTP, TLS and SigV4 for the S3 uploads. Its
// variadic curl_easy_setopt/curl_easy_getinfo cannot be called from Swift, so each argument
// type gets a typed static inline wrapper here.
#ifndef LIVESFU_CCURL_SHIM_H
#define LIVESFU_CCURL_SHIM_H
#include <curl/curl.h>

static inline CURLcode lsfu_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode lsfu_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode lsfu_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode lsfu_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode lsfu_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode lsfu_curl_setopt_write(CURL *h, CURLoption o, curl_write_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode lsfu_curl_setopt_read(CURL *h, CURLoption o, curl_read_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode lsfu_curl_setopt_seek(CURL *h, CURLoption o, curl_seek_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode lsfu_curl_setopt_xferinfo(CURL *h, CURLoption o, curl_xferinfo_callback f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode lsfu_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode lsfu_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
#endif
