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
#endif
