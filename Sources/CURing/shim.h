// liburing defines _GNU_SOURCE/_XOPEN_SOURCE itself; include the system headers first so
// a Swift file that also imports COpenSSL sees one fd_set (NATIVE.md).
#ifndef LIVESFU_CURING_SHIM_H
#define LIVESFU_CURING_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <signal.h>
#include <sched.h>
#include <liburing.h>

static inline unsigned lsfu_IOSQE_BUFFER_SELECT(void) { return IOSQE_BUFFER_SELECT; }
static inline unsigned lsfu_IOSQE_FIXED_FILE(void) { return IOSQE_FIXED_FILE; }
static inline unsigned lsfu_IOSQE_IO_LINK(void) { return IOSQE_IO_LINK; }
static inline unsigned lsfu_IORING_CQE_F_MORE(void) { return IORING_CQE_F_MORE; }
static inline unsigned lsfu_IORING_CQE_F_BUFFER(void) { return IORING_CQE_F_BUFFER; }
static inline unsigned lsfu_IORING_CQE_BUFFER_SHIFT(void) { return IORING_CQE_BUFFER_SHIFT; }
static inline unsigned lsfu_IORING_ASYNC_CANCEL_ALL(void) { return IORING_ASYNC_CANCEL_ALL; }
static inline unsigned lsfu_IORING_ASYNC_CANCEL_FD(void) { return IORING_ASYNC_CANCEL_FD; }
/// Size of `struct io_uring` so Swift can allocate one without knowing its layout.
static inline unsigned long lsfu_io_uring_size(void) { return sizeof(struct io_uring); }
/// Gets an SQE, submitting once to make room when the queue is full; NULL only if still full.
static inline struct io_uring_sqe *lsfu_get_sqe(struct io_uring *ring) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (sqe == NULL) { io_uring_submit(ring); sqe = io_uring_get_sqe(ring); }
    return sqe;
}
/// Submits and waits up to `timeout_ns` (negative: forever) for at least one completion.
static inline int lsfu_submit_and_wait_ns(struct io_uring *ring, long long timeout_ns) {
    if (timeout_ns < 0) return io_uring_submit_and_wait(ring, 1);
    if (timeout_ns == 0) return io_uring_submit(ring);
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ns / 1000000000LL;
    ts.tv_nsec = timeout_ns % 1000000000LL;
    struct io_uring_cqe *cqe = NULL;
    return io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
}
/// Copies up to `max` completions (user_data, res, flags) and marks them seen.
static inline unsigned lsfu_reap(struct io_uring *ring, unsigned long long *datas, int *results, unsigned *flags, unsigned max) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) break;
        datas[n] = cqe->user_data; results[n] = cqe->res; flags[n] = cqe->flags;
        n++;
    }
    io_uring_cq_advance(ring, n);
    return n;
}
#endif
