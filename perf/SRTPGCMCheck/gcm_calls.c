// Drives libsrtp's public API with AEAD_AES_128_GCM: N protects of 1200-byte RTP packets (tag
// included), their N unprotects, 200 forged packets (each must fail authentication; skipped with
// NOTAMPER=1 so that callgrind counts only good packets), then N protect + unprotect of a
// 100-byte SRTCP packet. Every round trip is checked. run.sh counts each call under callgrind.
// Usage: gcm_calls [N=10000]
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void rtp_packet(unsigned char *p, int plain, int seq)
{
    for (int k = 0; k < plain; k++)
        p[k] = (unsigned char)k;
    p[0] = 0x80;
    p[1] = 96;
    p[2] = (unsigned char)(seq >> 8);
    p[3] = (unsigned char)seq;
    p[8] = 0x12;
    p[9] = 0x34;
    p[10] = 0x56;
    p[11] = 0x78;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int tamper = getenv("NOTAMPER") == NULL;
    unsigned char key[46];
    srtp_policy_t out_policy, in_policy;
    srtp_t out, in;

    srtp_init();
    for (int i = 0; i < 46; i++)
        key[i] = (unsigned char)(i * 37 + 11);
    memset(&out_policy, 0, sizeof out_policy);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&out_policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&out_policy.rtcp);
    out_policy.key = key;
    out_policy.window_size = 1024;
    in_policy = out_policy;
    out_policy.ssrc.type = ssrc_any_outbound;
    out_policy.allow_repeat_tx = 1;
    in_policy.ssrc.type = ssrc_any_inbound;
    if (srtp_create(&out, &out_policy) || srtp_create(&in, &in_policy)) {
        puts("srtp_create failed");
        return 1;
    }

    int plain = 1200 - 16;
    unsigned char *store = malloc((size_t)n * 1500);
    int *lens = malloc((size_t)n * sizeof(int));
    double t0 = cpu_ns();
    for (int i = 0; i < n; i++) {
        unsigned char *p = store + (size_t)i * 1500;
        rtp_packet(p, plain, i);
        lens[i] = plain;
        if (srtp_protect(out, p, &lens[i])) {
            printf("protect %d failed\n", i);
            return 1;
        }
    }
    double t1 = cpu_ns();
    for (int i = 0; i < n; i++) {
        unsigned char *p = store + (size_t)i * 1500;
        int len = lens[i];
        if (srtp_unprotect(in, p, &len) || len != plain || p[100] != 100) {
            printf("unprotect %d failed\n", i);
            return 1;
        }
    }
    double t2 = cpu_ns();

    for (int i = 0; tamper && i < 200; i++) {
        unsigned char *p = store;
        int len = plain;
        rtp_packet(p, plain, n + i);
        srtp_protect(out, p, &len);
        p[12 + i % (len - 12)] ^= 1; /* payload or tag */
        if (srtp_unprotect(in, p, &len) != srtp_err_status_auth_fail) {
            printf("forged packet %d was not rejected\n", i);
            return 1;
        }
    }

    double t3 = cpu_ns();
    unsigned char r[200];
    for (int i = 0; i < n; i++) {
        int len = 100;
        memset(r, 7, sizeof r);
        memcpy(r, "\x80\xc8\x00\x18\x12\x34\x56\x78", 8);
        if (srtp_protect_rtcp(out, r, &len)) {
            puts("protect_rtcp failed");
            return 1;
        }
        if (srtp_unprotect_rtcp(in, r, &len) || len != 100 || r[50] != 7) {
            puts("unprotect_rtcp failed");
            return 1;
        }
    }
    double t4 = cpu_ns();
    printf("protect %.0f ns (incl. filling the packet), unprotect %.0f ns, SRTCP protect + "
           "unprotect %.0f ns%s\n",
           (t1 - t0) / n, (t2 - t1) / n, (t4 - t3) / n,
           tamper ? "; 200 forged packets rejected" : "");
    srtp_dealloc(out);
    srtp_dealloc(in);
    free(store);
    free(lens);
    return 0;
}
