// The kernel's CPU cost of one forwarded copy: a sender pinned to one CPU sends one 1200-byte
// datagram to each of N destinations per round, in sendmmsg batches of 64 (as livesfu's
// fan-out does when packets arrive one at a time), and reports its own CPU time per datagram
// and the CPU's softirq time per datagram (from /proc/stat).
//
//   udp_floor loopback N ROUNDS SEND_CPU RECV_CPU   N sockets on 127.0.0.1, drained by a thread
//                                                   on RECV_CPU (the receivers' kernel path runs
//                                                   in the sender's context on loopback)
//   udp_floor dest IPv4 N ROUNDS SEND_CPU           N ports of IPv4 (e.g. behind a veth whose
//                                                   peer drops the frames: the send path only)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int n_dest;
static int *recv_fds;
static volatile int stopping;
static int recv_cpu;

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sched_setaffinity"); exit(2); }
}

static double thread_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Softirq ticks of one CPU from /proc/stat (USER_HZ).
static long long softirq_ticks(int cpu) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char name[16], want[16];
    snprintf(want, sizeof want, "cpu%d", cpu);
    long long v[8] = {0}, out = -1;
    while (fscanf(f, "%15s %lld %lld %lld %lld %lld %lld %lld %lld%*[^\n]", name,
                  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9) {
        if (strcmp(name, want) == 0) { out = v[6]; break; }
    }
    fclose(f);
    return out;
}

static void *drain(void *arg) {
    (void)arg;
    pin(recv_cpu);
    int ep = epoll_create1(0);
    for (int i = 0; i < n_dest; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, recv_fds[i], &e);
    }
    static char bufs[64][2048];
    struct mmsghdr m[64];
    struct iovec iov[64];
    for (int i = 0; i < 64; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
        memset(&m[i], 0, sizeof m[i]);
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    struct epoll_event ev[256];
    while (!stopping) {
        int k = epoll_wait(ep, ev, 256, 50);
        for (int j = 0; j < k; j++)
            while (recvmmsg(recv_fds[ev[j].data.u32], m, 64, MSG_DONTWAIT, NULL) > 0) {}
    }
    return NULL;
}

int main(int argc, char **argv) {
    int loopback = argc == 6 && strcmp(argv[1], "loopback") == 0;
    int dest = argc == 6 && strcmp(argv[1], "dest") == 0;
    if (!loopback && !dest) {
        fprintf(stderr, "usage: %s loopback N ROUNDS SEND_CPU RECV_CPU | dest IPv4 N ROUNDS SEND_CPU\n", argv[0]);
        return 2;
    }
    n_dest = atoi(argv[loopback ? 2 : 3]);
    int rounds = atoi(argv[loopback ? 3 : 4]);
    int send_cpu = atoi(argv[loopback ? 4 : 5]);
    struct sockaddr_in *to = calloc(n_dest, sizeof *to);
    pthread_t drainer;
    if (loopback) {
        recv_cpu = atoi(argv[5]);
        recv_fds = calloc(n_dest, sizeof *recv_fds);
        for (int i = 0; i < n_dest; i++) {
            recv_fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
            int size = 1 << 20;
            setsockopt(recv_fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            socklen_t len = sizeof a;
            if (recv_fds[i] < 0 || bind(recv_fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
                getsockname(recv_fds[i], (struct sockaddr *)&a, &len) != 0) { perror("receiver"); return 2; }
            to[i] = a;
        }
        pthread_create(&drainer, NULL, drain, NULL);
    } else {
        struct in_addr ip;
        if (inet_pton(AF_INET, argv[2], &ip) != 1) { fprintf(stderr, "bad IPv4 %s\n", argv[2]); return 2; }
        for (int i = 0; i < n_dest; i++)
            to[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(20000 + i), .sin_addr = ip};
    }
    pin(send_cpu);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 8 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    static char packet[1200];
    struct mmsghdr m[64];
    struct iovec iov = {packet, sizeof packet};
    usleep(100000);
    long long soft0 = softirq_ticks(send_cpu);
    double cpu0 = thread_cpu_seconds();
    long sent = 0, refused = 0;
    for (int r = 0; r < rounds; r++) {
        for (int b = 0; b < n_dest; b += 64) {
            int k = 0;
            for (int i = b; i < b + 64 && i < n_dest; i++, k++) {
                memset(&m[k], 0, sizeof m[k]);
                m[k].msg_hdr.msg_iov = &iov;
                m[k].msg_hdr.msg_iovlen = 1;
                m[k].msg_hdr.msg_name = &to[i];
                m[k].msg_hdr.msg_namelen = sizeof to[i];
            }
            int done = sendmmsg(s, m, k, 0);
            if (done > 0) sent += done;
            if (done < k) refused += k - (done > 0 ? done : 0);
        }
        if (r % 8 == 7) usleep(1000);  // let the receivers drain, as between paced packets
    }
    double cpu1 = thread_cpu_seconds();
    long long soft1 = softirq_ticks(send_cpu);
    long ticks = sysconf(_SC_CLK_TCK);
    printf("{\"mode\":\"%s\",\"destinations\":%d,\"sent\":%ld,\"refused\":%ld,"
           "\"senderCpuNsPerDatagram\":%.0f,\"softirqNsPerDatagram\":%.0f}\n",
           loopback ? "loopback" : "dest", n_dest, sent, refused,
           sent ? (cpu1 - cpu0) / sent * 1e9 : 0.0,
           sent && soft0 >= 0 ? (double)(soft1 - soft0) / ticks / sent * 1e9 : 0.0);
    if (loopback) {
        usleep(200000);
        stopping = 1;
        pthread_join(drainer, NULL);
    }
    return 0;
}
