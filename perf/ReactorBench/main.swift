// Reactor benchmark: UDP packets/s on loopback for the send strategies the Reactor can use,
// one sender thread pinned to CPU 0 and one recvmmsg receiver pinned to CPU 1.
// With --hop: round trips between two cores' mailboxes instead (the hop a WHIP/WHEP takes to
// its room's home core and on to its owner).
// Usage: livesfu-reactor-bench [--seconds S] [--size N] [--modes a,b,...] [--alloc-check] [--hop]
import CShim
import CURing
import Glibc
import Reactor
import Synchronization

struct Options {
    var seconds = 3.0
    var size = 1200
    var modes = ["sendto", "sendmmsg", "gso", "iouring", "reactor-epoll-nogso", "reactor-epoll", "reactor-iouring-nogso", "reactor-iouring",
                 "fanout-nogroup", "fanout"]
    var allocCheck = false
    var hop = false
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--seconds": o.seconds = Double(args.next() ?? "") ?? o.seconds
        case "--size": o.size = Int(args.next() ?? "") ?? o.size
        case "--modes": o.modes = (args.next() ?? "").split(separator: ",").map(String.init)
        case "--alloc-check": o.allocCheck = true
        case "--hop": o.hop = true
        case "-h", "--help":
            print("livesfu-reactor-bench [--seconds S] [--size N] [--modes \(Options().modes.joined(separator: ","))] [--alloc-check]")
            exit(0)
        default:
            print("unknown argument \(a)")
            exit(2)
        }
    }
    return o
}

/// A blocking UDP socket on 127.0.0.1 with big buffers.
func rawSocket() -> (fd: Int32, address: SocketAddress) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    _ = lsfu_set_socket_buffers(fd, 8 << 20, 8 << 20)
    // 0.0.0.0 so the fanout modes can address it as 127.0.0.1...127.0.0.8.
    let bound = SocketAddress(ip: "0.0.0.0", port: 0)!.withSockAddr { bind(fd, $0, $1) }
    precondition(bound == 0, "bind failed")
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    let port = withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(len))!.port }
    return (fd, SocketAddress(ip: "127.0.0.1", port: port)!)
}

/// Receives with recvmmsg×32 on CPU 1 until `stop`; returns the count.
final class Receiver: Sendable {
    let fd: Int32
    let address: SocketAddress
    let received = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)

    init() {
        (fd, address) = rawSocket()
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func run() {
        OSThread.pinCurrent(to: 1)
        let n = 32
        let size = 2048
        let bufs = UnsafeMutableRawPointer.allocate(byteCount: n * size, alignment: 64)
        let iovs = UnsafeMutablePointer<iovec>.allocate(capacity: n)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: n * lsfu_mmsghdr_size(), alignment: 16)
        mem.initializeMemory(as: UInt8.self, repeating: 0, count: n * lsfu_mmsghdr_size())
        let msgs = OpaquePointer(mem)
        for i in 0..<n {
            iovs[i] = iovec(iov_base: bufs + i * size, iov_len: size)
            lsfu_mmsghdr_set(msgs, UInt32(i), iovs + i, 1, nil, 0, nil, 0)
        }
        var count = 0
        while !stop.load(ordering: .relaxed) {
            let r = lsfu_recvmmsg(fd, msgs, UInt32(n), 0x10000 /* MSG_WAITFORONE */)
            if r > 0 { count += Int(r) }
        }
        received.store(count, ordering: .relaxed)
    }
}

/// Sends for `seconds` with `mode` to `to`; returns datagrams handed to the kernel.
func sendLoop(mode: String, to: SocketAddress, size: Int, seconds: Double) -> Int {
    OSThread.pinCurrent(to: 0)
    let deadline = Instant.now() + Duration(nanoseconds: UInt64(seconds * 1e9))
    let payload = UnsafeMutableRawPointer.allocate(byteCount: 32 * size, alignment: 64)
    payload.initializeMemory(as: UInt8.self, repeating: 0x42, count: 32 * size)
    var sent = 0
    var storage = sockaddr_storage()
    let alen = to.write(to: &storage)
    switch mode {
    case "sendto":
        let (fd, _) = rawSocket()
        while Instant.now() < deadline {
            for _ in 0..<256 {
                let r = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, payload, size, 0, $0, alen) }
                }
                if r > 0 { sent += 1 }
            }
        }
        close(fd)
    case "sendmmsg", "gso":
        let (fd, _) = rawSocket()
        let n = 32
        let gso = mode == "gso"
        let iovs = UnsafeMutablePointer<iovec>.allocate(capacity: n)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: n * lsfu_mmsghdr_size(), alignment: 16)
        mem.initializeMemory(as: UInt8.self, repeating: 0, count: n * lsfu_mmsghdr_size())
        let msgs = OpaquePointer(mem)
        let control = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16)
        for i in 0..<n { iovs[i] = iovec(iov_base: payload + i * size, iov_len: size) }
        withUnsafeMutablePointer(to: &storage) { sp in
            if gso {
                let clen = lsfu_cmsg_put_udp_segment(control, 64, UInt16(size))
                lsfu_mmsghdr_set(msgs, 0, iovs, n, UnsafeMutableRawPointer(sp), alen, control, clen)
            } else {
                for i in 0..<n { lsfu_mmsghdr_set(msgs, UInt32(i), iovs + i, 1, UnsafeMutableRawPointer(sp), alen, nil, 0) }
            }
        }
        while Instant.now() < deadline {
            for _ in 0..<16 {
                let r = lsfu_sendmmsg(fd, msgs, gso ? 1 : UInt32(n), 0)
                if r > 0 { sent += gso ? n : Int(r) }
            }
        }
        close(fd)
    case "iouring":
        let (fd, _) = rawSocket()
        let n = 32
        let ring = UnsafeMutableRawPointer.allocate(byteCount: Int(lsfu_io_uring_size()), alignment: 64)
            .bindMemory(to: io_uring.self, capacity: 1)
        precondition(io_uring_queue_init(256, ring, 0) == 0, "io_uring_queue_init failed")
        let iovs = UnsafeMutablePointer<iovec>.allocate(capacity: n)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: n * lsfu_mmsghdr_size(), alignment: 16)
        mem.initializeMemory(as: UInt8.self, repeating: 0, count: n * lsfu_mmsghdr_size())
        let msgs = OpaquePointer(mem)
        for i in 0..<n { iovs[i] = iovec(iov_base: payload + i * size, iov_len: size) }
        withUnsafeMutablePointer(to: &storage) { sp in
            for i in 0..<n { lsfu_mmsghdr_set(msgs, UInt32(i), iovs + i, 1, UnsafeMutableRawPointer(sp), alen, nil, 0) }
        }
        let datas = UnsafeMutablePointer<UInt64>.allocate(capacity: 64)
        let results = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
        let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        while Instant.now() < deadline {
            for i in 0..<n {
                let sqe = lsfu_get_sqe(ring)!
                io_uring_prep_sendmsg(sqe, fd, lsfu_mmsghdr_msghdr(msgs, UInt32(i)), 0)
            }
            _ = io_uring_submit_and_wait(ring, UInt32(n))
            var done = 0
            while done < n {
                let k = Int(lsfu_reap(ring, datas, results, flags, 64))
                for j in 0..<k where results[j] > 0 { sent += 1 }
                done += k
                if done < n { _ = io_uring_submit_and_wait(ring, UInt32(n - done)) }
            }
        }
        io_uring_queue_exit(ring)
        close(fd)
    case "reactor-epoll", "reactor-epoll-nogso", "reactor-iouring", "reactor-iouring-nogso", "fanout", "fanout-nogroup":
        final class Ignore: UDPReceiver {
            func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on s: UDPSocket, now: Instant) {}
            func batchEnded(on socket: UDPSocket, now: Instant) {}
        }
        let loop = try! EventLoop(backend: mode.hasPrefix("reactor-iouring") ? .iouring : .epoll)
        let tx = try! loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: Ignore())
        if mode.hasSuffix("-nogso") { tx.gsoEnabled = false }
        if mode == "fanout-nogroup" { tx.groupsByDestination = false }
        // Fanout modes: 4 packets × 8 viewers per turn, packet-major (each packet to every
        // viewer in turn), viewers being 127.0.0.1...8 on the receiver's port.
        let viewers = (1...8).map { SocketAddress(ipv4: (127, 0, 0, UInt8($0)), port: to.port) }
        let fanout = mode.hasPrefix("fanout")
        // 32 datagrams queued per loop turn by a timer that re-arms itself for "now" (so the
        // loop never sleeps), flushed at the end of the turn: the SFU's shape.
        let producer = loop.scheduleTimer(at: Instant(nanoseconds: 0)) {}
        var finished = false
        producer.body = {
            for k in 0..<32 {
                let dest = fanout ? viewers[k % 8] : to
                _ = tx.send(to: dest, capacity: size) { buf in
                    buf.baseAddress!.copyMemory(from: payload, byteCount: size)
                    return size
                }
            }
            if Instant.now() >= deadline { finished = true } else { loop.reschedule(producer, at: loop.now) }
        }
        loop.run(until: { finished }, timeout: Duration(nanoseconds: UInt64(seconds * 1e9) + 1_000_000_000))
        loop.run(until: { tx.pendingSendCount == 0 }, timeout: .milliseconds(200))
        sent = loop.counters.udpSent
        if getenv("BENCH_DEBUG") != nil { print(loop.counters) }
        tx.close()
        loop.close()
    default:
        print("unknown mode \(mode)")
    }
    return sent
}

func runMode(_ mode: String, options: Options) {
    let receiver = Receiver()
    let rt = try! OSThread.spawn { receiver.run() }
    let to = receiver.address
    let size = options.size
    let seconds = options.seconds
    let sentBox = Atomic<Int>(0)
    let st = try! OSThread.spawn { sentBox.store(sendLoop(mode: mode, to: to, size: size, seconds: seconds), ordering: .relaxed) }
    st.join()
    usleep(200_000)  // let the receiver drain its queue
    receiver.stop.store(true, ordering: .relaxed)
    rt.join()
    close(receiver.fd)
    let sent = sentBox.load(ordering: .relaxed)
    let got = receiver.received.load(ordering: .relaxed)
    let pad = { (s: String, n: Int) in s + String(repeating: " ", count: max(0, n - s.count)) }
    print("| \(pad(mode, 20)) | \(pad(String(Int(Double(sent) / seconds)), 10)) | \(pad(String(Int(Double(got) / seconds)), 10)) | \(sent == 0 ? 0 : (100 * (sent - got)) / sent)% |")
}

/// Counts heap allocations per datagram on the Reactor's send + receive path. Run with
/// `LD_PRELOAD=libc_malloc_debug.so.0 MALLOC_TRACE=/tmp/trace`: glibc then logs every
/// malloc between mtrace() and muntrace().
func allocCheck(backend: BackendKind) {
    final class Count: UDPReceiver {
        var n = 0
        func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on s: UDPSocket, now: Instant) { n += 1 }
        func batchEnded(on socket: UDPSocket, now: Instant) {}
    }
    typealias Fn = @convention(c) () -> Void
    // libc_malloc_debug's mtrace is a non-default symbol version: plain dlsym finds libc's stub.
    guard getenv("MALLOC_TRACE") != nil, let lib = dlopen("libc_malloc_debug.so.0", RTLD_NOW | RTLD_NOLOAD),
          let mt = lsfu_dlvsym(lib, "mtrace", "GLIBC_2.2.5"), let mu = lsfu_dlvsym(lib, "muntrace", "GLIBC_2.2.5")
    else {
        print("alloc-check needs LD_PRELOAD=libc_malloc_debug.so.0 MALLOC_TRACE=<file>")
        return
    }
    let loop = try! EventLoop(backend: backend)
    let sink = Count()
    let rx = try! loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: sink)
    let tx = try! loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: Count())
    let to = rx.localAddress
    var queued = 0
    var toQueue = 0
    let producer = loop.scheduleTimer(at: Instant(nanoseconds: 0)) {}
    producer.body = {
        for _ in 0..<16 where queued < toQueue {
            _ = tx.send(to: to, capacity: 1200) { buf in
                buf.storeBytes(of: UInt64(queued), as: UInt64.self)
                return 1200
            }
            queued += 1
        }
        if queued < toQueue { loop.reschedule(producer, at: loop.now) }
    }
    func pump(_ packets: Int) {
        let target = sink.n + packets
        toQueue += packets
        loop.reschedule(producer, at: loop.now)
        loop.run(until: { sink.n >= target }, timeout: .seconds(10))
    }
    pump(5_000)  // warm-up: lazy metadata, array growth
    let before = sink.n
    unsafeBitCast(mt, to: Fn.self)()
    pump(50_000)
    unsafeBitCast(mu, to: Fn.self)()
    let packets = sink.n - before
    print("alloc-check \(backend): \(packets) datagrams sent and received while tracing; count `+ ` lines in $MALLOC_TRACE")
    tx.close()
    rx.close()
    loop.close()
}

/// One message from core 0 to core 1 and one back, `rounds` times in sequence, each timed on
/// core 0: both cores otherwise idle, so each message also wakes a core asleep in its backend,
/// as a request to a room on another core does on a server that is not busy.
final class HopChain: @unchecked Sendable {  // `rtt` is written by one core at a time, in turn
    let there: EventLoopHandle
    let back: EventLoopHandle
    let rounds: Int
    let rtt: UnsafeMutablePointer<UInt64>
    let done = Atomic<Bool>(false)

    init(there: EventLoopHandle, back: EventLoopHandle, rounds: Int) {
        self.there = there
        self.back = back
        self.rounds = rounds
        rtt = .allocate(capacity: rounds)
    }

    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func go(_ i: Int) {
        guard i < rounds else {
            done.store(true, ordering: .releasing)
            return
        }
        let start = Self.nanos()
        _ = there.execute { [self] in
            _ = back.execute { [self] in
                rtt[i] = Self.nanos() - start
                go(i + 1)
            }
        }
    }
}

func runHop(backend: BackendKind) {
    let group = try! ReactorGroup(cores: 2, backend: backend)
    let rounds = 20_000
    let chain = HopChain(there: group.handles[1], back: group.handles[0], rounds: rounds)
    _ = group.handles[0].execute { chain.go(0) }
    while !chain.done.load(ordering: .acquiring) { usleep(1000) }
    group.stop()
    group.wait()
    let sorted = (1000..<rounds).map { chain.rtt[$0] }.sorted()  // the first 1 000 warm up
    func us(_ q: Double) -> String {
        let v = Double(sorted[min(Int(q * Double(sorted.count)), sorted.count - 1)]) / 1000
        return v < 10 ? String(Int(v * 100)).withDecimal : String(Int(v.rounded()))
    }
    print("| \(backend) | \(sorted.count) | \(us(0.5)) | \(us(0.9)) | \(us(0.99)) | \(us(0.999)) |")
}

extension String {
    /// "123" (hundredths) → "1.23".
    var withDecimal: String {
        let padded = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return padded.dropLast(2) + "." + padded.suffix(2)
    }
}

let options = parseOptions()
if options.hop {
    print("Mailbox round trips, core 0 → core 1 → core 0 (two hops), each core asleep between messages; µs")
    print("| backend | round trips | p50 | p90 | p99 | p99.9 |")
    print("|---|---|---|---|---|---|")
    for backend in BackendKind.available { runHop(backend: backend) }
    exit(0)
}
if options.allocCheck {
    allocCheck(backend: BackendKind.fromEnvironment)
    exit(0)
}
var loadavg = [CChar](repeating: 0, count: 64)
if let f = fopen("/proc/loadavg", "r") {
    _ = fgets(&loadavg, 64, f)
    fclose(f)
}
let load = loadavg.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: " ").prefix(3).joined(separator: " ")
print("UDP loopback, \(options.size)-byte datagrams, \(options.seconds) s per mode, sender CPU 0, receiver CPU 1 (recvmmsg×32); load average at start: \(load)")
print("| mode                 | sent/s     | recv/s     | loss |")
print("|----------------------|------------|------------|------|")
for m in options.modes { runMode(m, options: options) }
