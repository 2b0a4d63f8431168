// Differential check of libsrtp's AES-GCM cipher (crypto/cipher/aes_gcm_ossl.c) between two
// builds: one cipher context per variant (AES-128/256, 16- and 8-octet tags) is driven through
// a seeded random mix of encrypt and decrypt — the same direction repeated, direction switches,
// re-keys, AAD in one or two pieces, forged payloads, tags and AAD (which must fail
// authentication) — and an FNV-1a hash of every output byte and status is printed. Two builds
// whose hashes match produced the same bytes and verdicts for all of it. Built against the
// libsrtp source tree (internal headers). Exit status 1 on any unexpected result.
#include <config.h>
#include "srtp.h"
#include "cipher.h"
#include "crypto_kernel.h"
#include <stdio.h>
#include <string.h>

static unsigned long long hash = 1469598103934665603ULL;
static unsigned rng_state = 12345;

static void mix(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        hash ^= b[i];
        hash *= 1099511628211ULL;
    }
}

static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245 + 12345;
    return rng_state >> 8;
}

static srtp_err_status_t set_aad(srtp_cipher_t *c, const unsigned char *aad, int len, int split)
{
    srtp_err_status_t s;
    if (!split)
        return srtp_cipher_set_aad(c, aad, len);
    s = srtp_cipher_set_aad(c, aad, len / 2);
    mix(&s, sizeof s);
    return srtp_cipher_set_aad(c, aad + len / 2, len - len / 2);
}

int main(void)
{
    int unexpected = 0, rejected = 0, operations = 0;
    srtp_crypto_kernel_init();
    for (int variant = 0; variant < 4; variant++) {
        int aes256 = variant & 1, tag_len = (variant & 2) ? 8 : 16;
        srtp_cipher_t *c;
        unsigned char key[44];
        if (srtp_crypto_kernel_alloc_cipher(aes256 ? SRTP_AES_GCM_256 : SRTP_AES_GCM_128, &c,
                                            aes256 ? 44 : 28, tag_len)) {
            puts("cipher allocation failed");
            return 1;
        }
        for (int i = 0; i < 44; i++)
            key[i] = (unsigned char)rnd();
        srtp_cipher_init(c, key);
        for (int it = 0; it < 3000; it++) {
            if (rnd() % 500 == 0) { /* re-key */
                for (int i = 0; i < 44; i++)
                    key[i] = (unsigned char)rnd();
                srtp_cipher_init(c, key);
            }
            unsigned char iv[16], aad[40], buf[300], plain[300];
            int aad_len = rnd() % 40, plain_len = rnd() % 250, split = rnd() % 3 == 0;
            unsigned int len = plain_len;
            uint32_t tag_out = 0;
            srtp_err_status_t s;
            for (int i = 0; i < 16; i++)
                iv[i] = (unsigned char)rnd();
            for (int i = 0; i < aad_len; i++)
                aad[i] = (unsigned char)rnd();
            for (int i = 0; i < plain_len; i++)
                buf[i] = (unsigned char)rnd();
            memcpy(plain, buf, plain_len);

            s = srtp_cipher_set_iv(c, iv, srtp_direction_encrypt);
            mix(&s, sizeof s);
            s = set_aad(c, aad, aad_len, split);
            mix(&s, sizeof s);
            s = srtp_cipher_encrypt(c, buf, &len);
            mix(&s, sizeof s);
            s = srtp_cipher_get_tag(c, buf + len, &tag_out);
            mix(&s, sizeof s);
            mix(buf, len + tag_out);
            operations++;

            int decrypts = 1 + rnd() % 3; /* the same direction once to three times */
            for (int r = 0; r < decrypts; r++) {
                unsigned char d[300], aad2[40];
                unsigned int dlen = len + tag_out;
                int forged = rnd() % 4 == 0, forged_aad = 0;
                memcpy(d, buf, dlen);
                memcpy(aad2, aad, aad_len);
                if (forged)
                    d[rnd() % dlen] ^= (unsigned char)(1 << (rnd() % 8));
                else if (aad_len && rnd() % 8 == 0) {
                    aad2[rnd() % aad_len] ^= 1;
                    forged_aad = 1;
                }
                s = srtp_cipher_set_iv(c, iv, srtp_direction_decrypt);
                mix(&s, sizeof s);
                s = set_aad(c, aad2, aad_len, split);
                mix(&s, sizeof s);
                s = srtp_cipher_decrypt(c, d, &dlen);
                mix(&s, sizeof s);
                operations++;
                if (forged || forged_aad) {
                    if (s == srtp_err_status_auth_fail)
                        rejected++;
                    else
                        unexpected++;
                } else if (s != srtp_err_status_ok || dlen != (unsigned)plain_len ||
                           memcmp(d, plain, plain_len) != 0) {
                    unexpected++;
                } else {
                    mix(d, dlen);
                }
            }
        }
        srtp_cipher_dealloc(c);
    }
    printf("operations %d, unexpected results %d, forgeries rejected %d, hash %016llx\n",
           operations, unexpected, rejected, hash);
    return unexpected != 0;
}
