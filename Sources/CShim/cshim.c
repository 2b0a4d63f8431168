#include "cshim.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

int lsfu_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags) { return sendmmsg(fd, msgs, n, flags); }
int lsfu_recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags) { return recvmmsg(fd, msgs, n, flags, NULL); }
size_t lsfu_mmsghdr_size(void) { return sizeof(struct mmsghdr); }

void lsfu_mmsghdr_set(struct mmsghdr *msgs, unsigned int i, struct iovec *iov, size_t iovlen,
                      void *addr, socklen_t addrlen, void *control, size_t controllen) {
    struct msghdr *h = &msgs[i].msg_hdr;
    h->msg_name = addr;
    h->msg_namelen = addrlen;
    h->msg_iov = iov;
    h->msg_iovlen = iovlen;
    h->msg_control = control;
    h->msg_controllen = controllen;
    h->msg_flags = 0;
    msgs[i].msg_len = 0;
}
unsigned int lsfu_mmsghdr_len(const struct mmsghdr *msgs, unsigned int i) { return msgs[i].msg_len; }
socklen_t lsfu_mmsghdr_namelen(const struct mmsghdr *msgs, unsigned int i) { return msgs[i].msg_hdr.msg_namelen; }
size_t lsfu_mmsghdr_controllen(const struct mmsghdr *msgs, unsigned int i) { return msgs[i].msg_hdr.msg_controllen; }
int lsfu_mmsghdr_flags(const struct mmsghdr *msgs, unsigned int i) { return msgs[i].msg_hdr.msg_flags; }

size_t lsfu_cmsg_space_u16(void) { return CMSG_SPACE(sizeof(uint16_t)); }
size_t lsfu_cmsg_space_int(void) { return CMSG_SPACE(sizeof(int)); }

size_t lsfu_cmsg_put_udp_segment(void *control, size_t controllen, uint16_t segment) {
    if (controllen < CMSG_SPACE(sizeof(uint16_t))) return 0;
    memset(control, 0, CMSG_SPACE(sizeof(uint16_t)));
    struct msghdr h = {0};
    h.msg_control = control;
    h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    return CMSG_SPACE(sizeof(uint16_t));
}

int lsfu_cmsg_get_udp_gro(void *control, size_t controllen) {
    if (control == NULL || controllen < sizeof(struct cmsghdr)) return 0;
    struct msghdr h = {0};
    h.msg_control = control;
    h.msg_controllen = controllen;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c != NULL; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof(v));
            return v;
        }
    }
    return 0;
}

int64_t lsfu_cmsg_get_timestamp_ns(void *control, size_t controllen) {
    if (control == NULL || controllen < sizeof(struct cmsghdr)) return -1;
    struct msghdr h = {0};
    h.msg_control = control;
    h.msg_controllen = controllen;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c != NULL; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof(t));
            return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
        }
    }
    return -1;
}

int lsfu_enable_timestamps(int fd) { int on = 1; return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)); }

int64_t lsfu_realtime_minus_monotonic_ns(void) {
    struct timespec r, m;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 + ((int64_t)r.tv_nsec - m.tv_nsec);
}

int lsfu_enable_udp_gro(int fd) { int on = 1; return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)); }
int lsfu_udp_segment_supported(int fd) {
    int v = 0; socklen_t l = sizeof(v);
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &l) == 0;
}

int lsfu_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int lsfu_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
int lsfu_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { events[i] = evs[i].events; datas[i] = evs[i].data.u64; }
    return n;
}
int lsfu_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
uint32_t lsfu_EPOLLIN(void) { return EPOLLIN; }
uint32_t lsfu_EPOLLOUT(void) { return EPOLLOUT; }
uint32_t lsfu_EPOLLERR(void) { return EPOLLERR; }
uint32_t lsfu_EPOLLHUP(void) { return EPOLLHUP; }
uint32_t lsfu_EPOLLRDHUP(void) { return EPOLLRDHUP; }
uint32_t lsfu_EPOLLET(void) { return EPOLLET; }
int lsfu_EPOLL_CTL_ADD(void) { return EPOLL_CTL_ADD; }
int lsfu_EPOLL_CTL_MOD(void) { return EPOLL_CTL_MOD; }
int lsfu_EPOLL_CTL_DEL(void) { return EPOLL_CTL_DEL; }

int lsfu_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
int lsfu_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static __thread int lsfu_tls_core_id = -1;
void lsfu_set_core_id(int id) { lsfu_tls_core_id = id; }
int lsfu_core_id(void) { return lsfu_tls_core_id; }

void lsfu_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}
int lsfu_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int lsfu_set_reuseport(int fd) { int on = 1; return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)); }
int lsfu_SOCK_NONBLOCK(void) { return SOCK_NONBLOCK; }
int lsfu_SOCK_CLOEXEC(void) { return SOCK_CLOEXEC; }
int lsfu_MSG_DONTWAIT(void) { return MSG_DONTWAIT; }
int lsfu_MSG_NOSIGNAL(void) { return MSG_NOSIGNAL; }
int lsfu_MSG_TRUNC(void) { return MSG_TRUNC; }
int lsfu_MSG_CTRUNC(void) { return MSG_CTRUNC; }

struct msghdr *lsfu_mmsghdr_msghdr(struct mmsghdr *msgs, unsigned int i) { return &msgs[i].msg_hdr; }
void lsfu_mmsghdr_reset_recv(struct mmsghdr *msgs, unsigned int n, socklen_t namelen, size_t controllen) {
    for (unsigned int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_namelen = namelen;
        msgs[i].msg_hdr.msg_controllen = controllen;
        msgs[i].msg_hdr.msg_flags = 0;
        msgs[i].msg_len = 0;
    }
}
void lsfu_mmsghdr_set_iov(struct mmsghdr *msgs, unsigned int i, struct iovec *iov, size_t iovlen, size_t controllen) {
    msgs[i].msg_hdr.msg_iov = iov;
    msgs[i].msg_hdr.msg_iovlen = iovlen;
    msgs[i].msg_hdr.msg_controllen = controllen;
    if (controllen == 0) msgs[i].msg_hdr.msg_control = NULL;
    msgs[i].msg_hdr.msg_flags = 0;
    msgs[i].msg_len = 0;
}

int lsfu_set_socket_buffers(int fd, int rcvbuf, int sndbuf) {
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    return lsfu_get_rcvbuf(fd);
}
int lsfu_get_rcvbuf(int fd) { int v = 0; socklen_t l = sizeof(v); getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l); return v; }
int lsfu_get_sndbuf(int fd) { int v = 0; socklen_t l = sizeof(v); getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l); return v; }
int lsfu_set_linger_zero(int fd) { struct linger l = {1, 0}; return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)); }
int lsfu_set_nodelay(int fd) { int on = 1; return setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &on, sizeof(on)); }
int lsfu_socket_error(int fd) { int v = 0; socklen_t l = sizeof(v); if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l) != 0) return errno; return v; }
int lsfu_accept(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }

static __thread void *lsfu_tls_loop = NULL;
void lsfu_set_current_loop(void *loop) { lsfu_tls_loop = loop; }
void *lsfu_current_loop(void) { return lsfu_tls_loop; }

void lsfu_eventfd_signal(int fd) { uint64_t one = 1; ssize_t r = write(fd, &one, sizeof(one)); (void)r; }
void lsfu_eventfd_drain(int fd) { uint64_t v; ssize_t r = read(fd, &v, sizeof(v)); (void)r; }
int lsfu_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t r = read(fd, &info, sizeof(info));
    return r == (ssize_t)sizeof(info) ? (int)info.ssi_signo : 0;
}

int lsfu_EAGAIN(void) { return EAGAIN; }
int lsfu_ENOBUFS(void) { return ENOBUFS; }
int lsfu_errno(void) { return errno; }
#include <sys/syscall.h>
int lsfu_gettid(void) { return (int)syscall(SYS_gettid); }
int lsfu_tgkill(int tid, int sig) { return (int)syscall(SYS_tgkill, getpid(), tid, sig); }
int lsfu_SIGTERM(void) { return SIGTERM; }
#include <dlfcn.h>
void *lsfu_dlvsym(void *handle, const char *name, const char *version) { return dlvsym(handle, name, version); }
int lsfu_allowed_cpu(int n) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    int count = CPU_COUNT(&set);
    if (count <= 0) return -1;
    n %= count;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set)) {
            if (n == 0) return cpu;
            n--;
        }
    }
    return -1;
}
int lsfu_current_cpu(void) { return sched_getcpu(); }
int lsfu_malloc_trim(void) { return malloc_trim(0); }
size_t lsfu_heap_in_use(void) { return mallinfo2().uordblks; }

static __thread int token_seeded;
static __thread uint64_t token_state;

void lsfu_token_seed(uint64_t seed) {
    token_seeded = 1;
    token_state = seed;
}

void lsfu_token_unseed(void) { token_seeded = 0; }

int lsfu_token_next(uint64_t *out) {
    if (!token_seeded) return 0;
    // SplitMix64, as SplitMixRandom in Swift.
    uint64_t z = (token_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    *out = z ^ (z >> 31);
    return 1;
}
