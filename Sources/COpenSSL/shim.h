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
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <string.h>

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
// DTLSRecordLayer: the TLS 1.2 key block (RFC 5246 §6.3) of an established SSL, so a
// connected DTLSTransport can free its SSL and still seal close_notify and open alerts.
static inline int lsfu_dtls12_key_block(const SSL *s, unsigned char *out, size_t len) {
    const SSL_SESSION *session = SSL_get_session(s);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(s);
    if (session == NULL || cipher == NULL) return 0;
    const EVP_MD *md = SSL_CIPHER_get_handshake_digest(cipher);
    if (md == NULL) return 0;
    unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
    size_t masterLength = SSL_SESSION_get_master_key(session, master, sizeof master);
    unsigned char seed[13 + 2 * SSL3_RANDOM_SIZE];
    memcpy(seed, "key expansion", 13);
    if (SSL_get_server_random(s, seed + 13, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE
        || SSL_get_client_random(s, seed + 13 + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE
        || masterLength == 0) {
        OPENSSL_cleanse(master, sizeof master);
        return 0;
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    int ok = 0;
    if (ctx != NULL) {
        OSSL_PARAM params[4];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, masterLength);
        params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed);
        params[3] = OSSL_PARAM_construct_end();
        ok = EVP_KDF_derive(ctx, out, len, params) == 1;
        EVP_KDF_CTX_free(ctx);
    }
    OPENSSL_cleanse(master, sizeof master);
    return ok;
}
// One AEAD operation with a 12-byte nonce and a 16-byte tag (AES-GCM, ChaCha20-Poly1305):
// encrypt writes `tag`, decrypt checks it. Returns 1 on success.
static inline int lsfu_aead_crypt(int encrypt, int cipherNID, const unsigned char *key, const unsigned char *nonce,
                                  const unsigned char *aad, int aadLength, const unsigned char *in, int length,
                                  unsigned char *out, unsigned char *tag) {
    const EVP_CIPHER *cipher = EVP_get_cipherbynid(cipherNID);
    if (cipher == NULL) return 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return 0;
    int n = 0, ok = EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, encrypt) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1
        && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) == 1
        && (encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1)
        && EVP_CipherUpdate(ctx, NULL, &n, aad, aadLength) == 1
        && (length == 0 || EVP_CipherUpdate(ctx, out, &n, in, length) == 1)
        && EVP_CipherFinal_ex(ctx, out + (length == 0 ? 0 : n), &n) == 1
        && (!encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
#endif
