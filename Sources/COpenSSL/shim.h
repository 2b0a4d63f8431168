// OpenSSL macros Swift cannot import, as static inline functions (NATIVE.md).
#ifndef LIVESFU_COPENSSL_SHIM_H
#define LIVESFU_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

static inline long lsfu_DTLSv1_get_timeout(SSL *s, struct timeval *tv) { return DTLSv1_get_timeout(s, tv); }
static inline long lsfu_DTLSv1_handle_timeout(SSL *s) { return DTLSv1_handle_timeout(s); }
static inline long lsfu_DTLS_set_link_mtu(SSL *s, long mtu) { return DTLS_set_link_mtu(s, mtu); }
static inline long lsfu_SSL_set_mtu(SSL *s, long mtu) { return SSL_set_mtu(s, mtu); }
static inline long lsfu_BIO_set_mem_eof_return(BIO *b, long v) { return BIO_set_mem_eof_return(b, v); }
static inline long lsfu_SSL_CTX_set1_groups_list(SSL_CTX *c, const char *l) { return SSL_CTX_set1_groups_list(c, l); }
static inline long lsfu_SSL_CTX_set_min_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_min_proto_version(c, v); }
static inline long lsfu_SSL_CTX_set_max_proto_version(SSL_CTX *c, int v) { return SSL_CTX_set_max_proto_version(c, v); }
static inline uint64_t lsfu_SSL_OP_NO_QUERY_MTU(void) { return SSL_OP_NO_QUERY_MTU; }
static inline EVP_PKEY *lsfu_EVP_EC_gen(const char *curve) { return EVP_EC_gen(curve); }
static inline long lsfu_SSL_CTX_set_mode(SSL_CTX *c, long m) { return SSL_CTX_set_mode(c, m); }
static inline long lsfu_BIO_pending(BIO *b) { return BIO_pending(b); }
static inline long lsfu_BIO_reset(BIO *b) { return BIO_reset(b); }
static inline int lsfu_SSL_CTX_set_tlsext_use_srtp(SSL_CTX *c, const char *p) { return SSL_CTX_set_tlsext_use_srtp(c, p); }
// DTLS transport (Sources/SFU/DTLS): more macros Swift cannot import.
static inline long lsfu_SSL_CTX_set_session_cache_mode(SSL_CTX *c, long m) { return SSL_CTX_set_session_cache_mode(c, m); }
static inline long lsfu_SSL_SESS_CACHE_OFF(void) { return SSL_SESS_CACHE_OFF; }
static inline uint64_t lsfu_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t lsfu_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline int lsfu_MBSTRING_ASC(void) { return MBSTRING_ASC; }
static inline int lsfu_SSL_set_app_data(SSL *s, void *p) { return SSL_set_app_data(s, p); }
static inline void *lsfu_SSL_get_app_data(const SSL *s) { return SSL_get_app_data(s); }
#endif
