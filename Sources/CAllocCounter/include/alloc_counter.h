#ifndef LSFU_ALLOC_COUNTER_H
#define LSFU_ALLOC_COUNTER_H

#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
/// the calling thread since it started. Linking this target into an executable replaces the
/// process's malloc family with counting wrappers that forward to glibc's __libc_* functions.
uint64_t lsfu_alloc_count(void);
/// Frees made by the calling thread.
uint64_t lsfu_free_count(void);
/// Bytes asked for by the calling thread's allocations.
uint64_t lsfu_alloc_bytes(void);
/// While armed (non-zero) on a thread, each allocation of that thread raises SIGTRAP, so a
/// debugger (gdb -ex run -ex bt) shows the exact call stack of an unexpected allocation.
void lsfu_alloc_trap(int armed);

#endif
