#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED
#include "csimulation.h"
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static __thread int sim_active;
static __thread int64_t sim_realtime_ns;
static __thread uint64_t sim_rand_state;

static uint64_t splitmix(void) {
    uint64_t z = (sim_rand_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int sim_bytes(unsigned char *buf, int num) {
    if (!sim_active) return RAND_OpenSSL()->bytes(buf, num);
    for (int i = 0; i < num; i += 8) {
        uint64_t v = splitmix();
        int n = num - i < 8 ? num - i : 8;
        memcpy(buf + i, &v, (size_t)n);
    }
    return 1;
}

static int sim_seed(const void *buf, int num) {
    return sim_active ? 1 : RAND_OpenSSL()->seed(buf, num);
}

static int sim_add(const void *buf, int num, double entropy) {
    return sim_active ? 1 : RAND_OpenSSL()->add(buf, num, entropy);
}

static int sim_status(void) { return sim_active ? 1 : RAND_OpenSSL()->status(); }

static RAND_METHOD sim_method = {sim_seed, sim_bytes, NULL, sim_add, sim_bytes, sim_status};
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) { RAND_set_rand_method(&sim_method); }

void lsfu_sim_enter(uint64_t seed, int64_t realtime_ns) {
    pthread_once(&install_once, install);
    sim_active = 1;
    sim_rand_state = seed;
    sim_realtime_ns = realtime_ns;
}

void lsfu_sim_set_time(int64_t realtime_ns) { sim_realtime_ns = realtime_ns; }

void lsfu_sim_leave(void) { sim_active = 0; }

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    if (sim_active) {
        tv->tv_sec = (time_t)(sim_realtime_ns / 1000000000);
        tv->tv_usec = (suseconds_t)((sim_realtime_ns % 1000000000) / 1000);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out) {
    time_t t;
    if (sim_active) {
        t = (time_t)(sim_realtime_ns / 1000000000);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t = ts.tv_sec;
    }
    if (out) *out = t;
    return t;
}

int lsfu_sim_hooks_active(void) {
    if (!sim_active) return 0;
    // The clock: libssl's DTLS timer goes through gettimeofday; a bound glibc would answer
    // the real time, far from the simulation's epoch.
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if ((int64_t)tv.tv_sec != sim_realtime_ns / 1000000000) return 0;
    // Randomness: two draws after the same seed must agree.
    uint64_t saved = sim_rand_state;
    unsigned char a[16], b[16];
    RAND_bytes(a, sizeof a);
    sim_rand_state = saved;
    RAND_bytes(b, sizeof b);
    sim_rand_state = saved;
    return memcmp(a, b, sizeof a) == 0;
}
