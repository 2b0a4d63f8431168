import CShim
import Glibc
import Synchronization
import Testing
@testable import Reactor

/// Finds a TCP port free on 127.0.0.1.
func freeTCPPort() throws -> UInt16 {
    let loop = try EventLoop()
    defer { loop.close() }
    let l = try loop.listenTCP(bind: loopback, maxConnections: 1) { _ in nil }
    let port = l.localAddress.port
    l.close()
    return port
}

/// A blocking client socket connected to 127.0.0.1:port, or -1.
func blockingConnect(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    let r = SocketAddress(ip: "127.0.0.1", port: port)!.withSockAddr { connect(fd, $0, $1) }
    if r != 0 {
        close(fd)
        return -1
    }
    var tv = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

@Suite("Reactor group", .serialized)
struct ReactorGroupTests {
    @Test("stop closes every core's listeners and connections, runs queued jobs and joins the threads",
          arguments: BackendKind.available)
    func gracefulStop(backend: BackendKind) throws {
        let port = try freeTCPPort()
        let listening = Atomic<Int>(0)
        let group = try ReactorGroup(cores: 2, backend: backend) { loop in
            _ = try loop.listenTCP(bind: SocketAddress(ip: "127.0.0.1", port: port)!, maxConnections: 100) { _ in EchoHandler() }
            _ = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
            listening.add(1, ordering: .relaxed)
        }
        #expect(group.count == 2)
        #expect(listening.load(ordering: .relaxed) == 2)
        let client = blockingConnect(port: port)
        #expect(client >= 0)
        defer { close(client) }
        var b: UInt8 = 42
        #expect(send(client, &b, 1, 0) == 1)
        var echoed: UInt8 = 0
        #expect(recv(client, &echoed, 1, 0) == 1 && echoed == 42)

        let ran = Atomic<Int>(0)
        for h in group.handles { h.execute { ran.add(1, ordering: .relaxed) } }
        group.stop()
        group.wait()
        #expect(ran.load(ordering: .relaxed) == 2)
        // The server side of the connection was closed: the client reads end-of-stream.
        #expect(recv(client, &echoed, 1, 0) == 0)
        // Nobody listens any more, and the loops refuse work.
        #expect(blockingConnect(port: port) == -1)
        #expect(group.handles.allSatisfy { !$0.execute({}) })
        group.stop()  // stopping twice is harmless
    }

    @Test("SIGTERM delivered to core 0 stops every core", arguments: BackendKind.available)
    func signalStop(backend: BackendKind) throws {
        let tid = Atomic<Int32>(0)
        let group = try ReactorGroup(cores: 2, backend: backend, handleSignals: true) { loop in
            if loop.index == 0 { tid.store(lsfu_gettid(), ordering: .relaxed) }
        }
        #expect(lsfu_tgkill(tid.load(ordering: .relaxed), lsfu_SIGTERM()) == 0)
        group.wait()
        #expect(group.handles.allSatisfy { !$0.execute({}) })
    }

    @Test("a core whose setup throws makes the whole group fail to start")
    func setupFailure() {
        #expect(throws: ReactorError.self) {
            _ = try ReactorGroup(cores: 2, backend: .epoll) { loop in
                if loop.index == 1 { throw ReactorError.invalidArgument("no") }
            }
        }
    }

    @Test("each core's thread is pinned to its own allowed CPU")
    func pinning() throws {
        let cpus = Mutex<[Int32]>([-1, -1])
        let group = try ReactorGroup(cores: 2, backend: .epoll) { loop in
            let cpu = lsfu_current_cpu()
            cpus.withLock { $0[loop.index] = cpu }
        }
        group.stop()
        group.wait()
        let got = cpus.withLock { $0 }
        #expect(got == [lsfu_allowed_cpu(0), lsfu_allowed_cpu(1)])
        #expect(lsfu_core_id() == -1)  // the test thread is no core
    }

    @Test("counters from every core are summed on request")
    func collectCounters() throws {
        let group = try ReactorGroup(cores: 2, backend: .epoll)
        defer { group.stop(); group.wait() }
        for h in group.handles { h.execute { (loop: EventLoop) in loop.counters.udpSent = 10 + loop.index } }
        let result = Mutex<(ReactorCounters, Int)?>(nil)
        group.collectCounters { total, perCore in result.withLock { $0 = (total, perCore.count) } }
        let deadline = Instant.now() + .seconds(3)
        while result.withLock({ $0 }) == nil, Instant.now() < deadline { usleepMs(1) }
        let r = try #require(result.withLock { $0 })
        #expect(r.0.udpSent == 21)
        #expect(r.1 == 2)
        #expect(r.0.loopTurns > 0)
    }

    @Test("EventLoop.current is the running loop on a core and nil elsewhere")
    func currentLoop() throws {
        #expect(EventLoop.current == nil)
        let seen = Mutex<[Int]>([])
        let group = try ReactorGroup(cores: 2, backend: .epoll)
        for h in group.handles {
            h.execute { seen.withLock { $0.append(EventLoop.current?.index ?? -1) } }
        }
        let deadline = Instant.now() + .seconds(3)
        while seen.withLock({ $0.count }) < 2, Instant.now() < deadline { usleepMs(1) }
        group.stop()
        group.wait()
        #expect(seen.withLock { $0.sorted() } == [0, 1])
    }
}
