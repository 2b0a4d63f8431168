// What Swift's Glibc module lacks: batched UDP I/O, GSO/GRO control messages,
// epoll, eventfd, CPU affinity and a reliable thread-local core id (NATIVE.md).
#ifndef LIVESFU_CSHIM_H
#define LIVESFU_CSHIM_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

struct mmsghdr;

/// Batched datagram I/O: thin wrappers so Swift can call them.
int lsfu_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags);
int lsfu_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags);
size_t lsfu_mmsghdr_size(void);
/// Points message `i` of an mmsghdr array at one iovec, an address and a control buffer.
void lsfu_mmsghdr_set(struct mmsghdr *msgs, unsigned int i, struct iovec *iov, size_t iovlen,
                      void *addr, socklen_t addrlen, void *control, size_t controllen);
unsigned int lsfu_mmsghdr_len(const struct mmsghdr *msgs, unsigned int i);
socklen_t lsfu_mmsghdr_namelen(const struct mmsghdr *msgs, unsigned int i);
size_t lsfu_mmsghdr_controllen(const struct mmsghdr *msgs, unsigned int i);
int lsfu_mmsghdr_flags(const struct mmsghdr *msgs, unsigned int i);

/// GSO: writes a UDP_SEGMENT control message of `segment` bytes into `control`; returns its length.
size_t lsfu_cmsg_put_udp_segment(void *control, size_t controllen, uint16_t segment);
size_t lsfu_cmsg_space_u16(void);
size_t lsfu_cmsg_space_int(void);
/// GRO: the segment size from a UDP_GRO control message, or 0 when there is none.
int lsfu_cmsg_get_udp_gro(void *control, size_t controllen);
int lsfu_enable_udp_gro(int fd);
/// The kernel's receive time (SO_TIMESTAMPNS, CLOCK_REALTIME) in a received message's control data, or -1.
int64_t lsfu_cmsg_get_timestamp_ns(void *control, size_t controllen);
int lsfu_enable_timestamps(int fd);
/// CLOCK_REALTIME minus CLOCK_MONOTONIC now, to map kernel receive times onto the monotonic clock.
int64_t lsfu_realtime_minus_monotonic_ns(void);
int lsfu_udp_segment_supported(int fd);

/// epoll / eventfd.
int lsfu_epoll_create(void);
int lsfu_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits; writes up to `max` (events, data) pairs; returns the count or -1.
int lsfu_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max, int timeout_ms);
int lsfu_eventfd(void);
uint32_t lsfu_EPOLLIN(void);
uint32_t lsfu_EPOLLOUT(void);
uint32_t lsfu_EPOLLERR(void);
uint32_t lsfu_EPOLLHUP(void);
uint32_t lsfu_EPOLLRDHUP(void);
uint32_t lsfu_EPOLLET(void);
int lsfu_EPOLL_CTL_ADD(void);
int lsfu_EPOLL_CTL_MOD(void);
int lsfu_EPOLL_CTL_DEL(void);

/// CPU affinity of the calling thread; returns 0 on success.
int lsfu_pin_current_thread(int cpu);
int lsfu_cpu_count(void);
/// The `n`-th CPU (0-based, wrapping) of the process's allowed set, e.g. 2 for n = 0 when
/// only CPUs 2-3 are allowed; -1 if the set cannot be read.
int lsfu_allowed_cpu(int n);
/// The CPU the calling thread runs on now.
int lsfu_current_cpu(void);

/// Thread-local core id (pthread_self() is unreliable in async code).
void lsfu_set_core_id(int id);
int lsfu_core_id(void);

/// Blocks SIGINT/SIGTERM/SIGPIPE for the calling thread (and threads it starts later).
void lsfu_block_signals(void);
/// A signalfd for SIGINT and SIGTERM.
int lsfu_signalfd(void);

/// Socket options that Glibc's module does not name.
int lsfu_set_reuseport(int fd);
int lsfu_SOCK_NONBLOCK(void);
int lsfu_SOCK_CLOEXEC(void);
int lsfu_MSG_DONTWAIT(void);
int lsfu_MSG_NOSIGNAL(void);
int lsfu_MSG_TRUNC(void);
int lsfu_MSG_CTRUNC(void);

/// The msghdr inside message `i` of an mmsghdr array (for io_uring SENDMSG/RECVMSG).
struct msghdr *lsfu_mmsghdr_msghdr(struct mmsghdr *msgs, unsigned int i);
/// Resets the lengths recvmmsg overwrites (name, control, flags) on `n` messages.
void lsfu_mmsghdr_reset_recv(struct mmsghdr *msgs, unsigned int n, socklen_t namelen, size_t controllen);
/// Sets message `i`'s iovec list (for GSO runs spanning several buffers) and control length.
void lsfu_mmsghdr_set_iov(struct mmsghdr *msgs, unsigned int i, struct iovec *iov, size_t iovlen, size_t controllen);

/// Socket buffer sizes: tries SO_*BUFFORCE (root) and falls back to SO_*BUF; returns the size the kernel reports.
int lsfu_set_socket_buffers(int fd, int rcvbuf, int sndbuf);
int lsfu_get_rcvbuf(int fd);
int lsfu_get_sndbuf(int fd);
/// SO_LINGER {1, 0}: close() sends RST (abort).
int lsfu_set_linger_zero(int fd);
int lsfu_set_nodelay(int fd);
int lsfu_socket_error(int fd);
int lsfu_accept(int fd, int flags);

/// The calling thread's event loop (opaque), for EventLoop.current.
void lsfu_set_current_loop(void *loop);
void *lsfu_current_loop(void);

/// eventfd: add 1 / drain.
void lsfu_eventfd_signal(int fd);
void lsfu_eventfd_drain(int fd);
/// Reads one signalfd_siginfo; returns the signal number or 0.
int lsfu_signalfd_read(int fd);

/// The calling thread's kernel id, and a signal sent to one thread (tests of signal handling).
int lsfu_gettid(void);
int lsfu_tgkill(int tid, int sig);
int lsfu_SIGTERM(void);

/// dlvsym (a GNU extension Swift does not import): the benchmark finds glibc's debug
/// mtrace, whose symbol is not the default version.
void *lsfu_dlvsym(void *handle, const char *name, const char *version);

int lsfu_EAGAIN(void);
int lsfu_ENOBUFS(void);
int lsfu_errno(void);
/// Returns freed heap pages to the kernel (glibc malloc_trim(0)); 1 if memory was released.
int lsfu_malloc_trim(void);
/// Bytes malloc has handed out and not yet freed, across all arenas (glibc mallinfo2).
size_t lsfu_heap_in_use(void);

/// A seeded source for `RandomToken` on the calling thread only (a deterministic simulation
/// replays its identifiers from a seed); other threads keep the system's CSPRNG.
void lsfu_token_seed(uint64_t seed);
void lsfu_token_unseed(void);
/// 1 and the next seeded value in `out` if the calling thread is seeded, else 0.
int lsfu_token_next(uint64_t *out);
#endif
