// Counting replacements for the malloc family, for the fan-out benchmark's proof that the
// per-packet path allocates nothing. Defined in the executable, they interpose glibc's
// malloc for every shared library too (Swift runtime, OpenSSL, libsrtp).
#define _GNU_SOURCE
#include "alloc_counter.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

// initial-exec: no __tls_get_addr (which may itself allocate) inside malloc.
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS uint64_t allocs;
static TLS uint64_t frees;
static TLS uint64_t bytes;
static TLS int trap;

static inline void counted(size_t n) {
    allocs++;
    bytes += n;
    if (trap) {
        trap = 0;  // one stop per arming: the handler/debugger may allocate
        raise(SIGTRAP);
    }
}

uint64_t lsfu_alloc_count(void) { return allocs; }
uint64_t lsfu_free_count(void) { return frees; }
uint64_t lsfu_alloc_bytes(void) { return bytes; }
void lsfu_alloc_trap(int armed) { trap = armed; }

void *malloc(size_t n) {
    counted(n);
    return __libc_malloc(n);
}

void *calloc(size_t c, size_t n) {
    counted(c * n);
    return __libc_calloc(c, n);
}

void *realloc(void *p, size_t n) {
    counted(n);
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p) frees++;
    __libc_free(p);
}

void *memalign(size_t a, size_t n) {
    counted(n);
    return __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n) {
    counted(n);
    return __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n) {
    if (a < sizeof(void *) || (a & (a - 1)) != 0) return EINVAL;
    counted(n);
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
