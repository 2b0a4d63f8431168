import CShim
import Glibc
import Synchronization
import Testing
@testable import Reactor

/// Echoes what it receives.
final class EchoHandler: TCPConnectionHandler {
    var closedCount = 0
    func received(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) { connection.write(bytes) }
    func writable(_ connection: TCPConnection) {}
    func closed(_ connection: TCPConnection) { closedCount += 1 }
}

/// Records what the peer sent and the events it saw.
final class RecordingHandler: TCPConnectionHandler {
    var bytes: [UInt8] = []
    var writableCount = 0
    var closedCount = 0
    func received(_ b: UnsafeRawBufferPointer, on connection: TCPConnection) { bytes.append(contentsOf: b) }
    func writable(_ connection: TCPConnection) { writableCount += 1 }
    func closed(_ connection: TCPConnection) { closedCount += 1 }
}

/// Writes until the queue is past the high watermark, then again after each `writable`.
final class FloodHandler: TCPConnectionHandler {
    var sawFull = false
    var writableCount = 0
    var closedCount = 0
    var written = 0
    let chunk = [UInt8](repeating: 0x5A, count: 16 * 1024)
    let stopAfter: Int
    init(stopAfter: Int) { self.stopAfter = stopAfter }
    func fill(_ c: TCPConnection) {
        while !c.isWriteBufferFull, c.isOpen, written < stopAfter {
            c.write(chunk)
            written += chunk.count
        }
        if c.isWriteBufferFull { sawFull = true }
    }
    func received(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {}
    func writable(_ connection: TCPConnection) { writableCount += 1 }
    func closed(_ connection: TCPConnection) { closedCount += 1 }
}

@Suite("TCP", .serialized)
struct TCPTests {
    @Test("a client's bytes are echoed back by an accepted connection", arguments: BackendKind.available)
    func echo(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let server = EchoHandler()
        var accepted: [TCPConnection] = []
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10) { c in
            accepted.append(c)
            return server
        }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        let message = Array("hello, reactor".utf8) + [UInt8](repeating: 7, count: 100_000)
        conn.write(message)
        #expect(loop.run(until: { client.bytes.count == message.count }, timeout: .seconds(5)))
        #expect(client.bytes == message)
        #expect(accepted.count == 1 && accepted[0].id != conn.id)
        #expect(accepted[0].remoteAddress.port != 0)
        #expect(listener.connectionCount == 1)
        conn.close()
        #expect(loop.run(until: { server.closedCount == 1 && client.closedCount == 1 }, timeout: .seconds(5)))
        #expect(listener.connectionCount == 0)
    }

    @Test("a peer that stops reading makes the queue full; writable comes once it drains", arguments: BackendKind.available)
    func backPressure(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let limits = TCPLimits(highWatermark: 64 * 1024, lowWatermark: 16 * 1024, hardCap: 256 * 1024 * 1024)
        let flood = FloodHandler(stopAfter: 64 * 1024 * 1024)
        var serverConn: TCPConnection?
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10, limits: limits) { c in
            serverConn = c
            return flood
        }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        conn.pauseReading()
        #expect(loop.run(until: { serverConn != nil }, timeout: .seconds(5)))
        let s = try #require(serverConn)
        // Keep writing until the kernel buffers and then our queue stay full.
        var fullSince: Instant?
        #expect(loop.run(until: {
            flood.fill(s)
            if !s.isWriteBufferFull { fullSince = nil } else if fullSince == nil { fullSince = Instant.now() }
            return fullSince.map { Instant.now() - $0 > .milliseconds(100) } ?? false
        }, timeout: .seconds(10)))
        #expect(flood.sawFull && s.isWriteBufferFull)
        flood.writableCount = 0
        loop.run(until: { false }, timeout: .milliseconds(50))
        #expect(flood.writableCount == 0)  // still stalled: the peer reads nothing
        #expect(s.isWriteBufferFull)
        conn.resumeReading()
        #expect(loop.run(until: { flood.writableCount == 1 }, timeout: .seconds(10)))
        #expect(!s.isWriteBufferFull)
        #expect(s.pendingWriteBytes < limits.lowWatermark)
    }

    @Test("a peer that stops reading is aborted once its queue has not moved for the stall timeout, also while closing",
          arguments: BackendKind.available)
    func writeStall(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let limits = TCPLimits(highWatermark: 32 * 1024, lowWatermark: 8 * 1024, hardCap: 64 * 1024 * 1024,
                               writeStallTimeout: .milliseconds(300))
        var serverConns: [TCPConnection] = []
        let floods = [FloodHandler(stopAfter: 64 * 1024 * 1024), FloodHandler(stopAfter: 64 * 1024 * 1024)]
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10, limits: limits) { c in
            serverConns.append(c)
            return floods[serverConns.count - 1]
        }
        // One peer reads nothing; the server closes its end of the second after filling it.
        let clients = [RecordingHandler(), RecordingHandler()]
        let conns = try clients.map { try loop.connectTCP(to: listener.localAddress, handler: $0) }
        for c in conns { c.pauseReading() }
        #expect(loop.run(until: { serverConns.count == 2 }, timeout: .seconds(5)))
        // Fill both until the kernel takes no more and our queues stay full.
        var fullSince: Instant?
        #expect(loop.run(until: {
            for (c, f) in zip(serverConns, floods) { f.fill(c) }
            if !serverConns.allSatisfy(\.isWriteBufferFull) { fullSince = nil } else if fullSince == nil { fullSince = Instant.now() }
            return fullSince.map { Instant.now() - $0 > .milliseconds(100) } ?? false
        }, timeout: .seconds(10)))
        serverConns[1].close()
        #expect(serverConns[1].isOpen)  // still flushing: it waits for the peer...
        // The producer of the first keeps offering more, as a server answering requests would.
        #expect(loop.run(until: {
            if serverConns[0].isOpen { floods[0].fill(serverConns[0]) }
            return floods.allSatisfy { $0.closedCount == 1 }
        }, timeout: .seconds(10)))
        // ...but not forever.
        #expect(loop.counters.tcpWriteStallAborts == 2)
        #expect(serverConns.allSatisfy { !$0.isOpen && $0.pendingWriteBytes == 0 })
        #expect(loop.counters.tcpWriteQueuePeakBytes >= 32 * 1024)
    }

    @Test("a peer that keeps reading slowly is never cut off by the stall timeout", arguments: BackendKind.available)
    func slowReaderIsNotStalled(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let limits = TCPLimits(highWatermark: 32 * 1024, lowWatermark: 8 * 1024, hardCap: 64 * 1024 * 1024,
                               writeStallTimeout: .milliseconds(300))
        let flood = FloodHandler(stopAfter: 16 * 1024 * 1024)
        var serverConn: TCPConnection?
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10, limits: limits) { c in
            serverConn = c
            return flood
        }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { serverConn != nil }, timeout: .seconds(5)))
        let s = try #require(serverConn)
        // Read in short bursts between pauses shorter than the stall timeout.
        var paused = false
        var last = Instant.now()
        #expect(loop.run(until: {
            flood.fill(s)
            if Instant.now() - last > .milliseconds(100) {
                paused ? conn.resumeReading() : conn.pauseReading()
                paused.toggle()
                last = Instant.now()
            }
            return flood.written >= 16 * 1024 * 1024 && s.pendingWriteBytes == 0
        }, timeout: .seconds(30)))
        #expect(s.isOpen)
        #expect(loop.counters.tcpWriteStallAborts == 0)
    }

    @Test("a lingering close sends FIN, discards what the peer still sends, and ends at the peer's FIN",
          arguments: BackendKind.available)
    func lingeringClose(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        final class AnswerEarly: TCPConnectionHandler {
            var closedCount = 0
            func received(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {
                connection.write(Array("413".utf8))
                connection.close(linger: TCPConnection.Linger(timeout: .seconds(20), maxBytes: 4 * 1024 * 1024))
            }
            func writable(_ connection: TCPConnection) {}
            func closed(_ connection: TCPConnection) { closedCount += 1 }
        }
        let server = AnswerEarly()
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10) { _ in server }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        let body = [UInt8](repeating: 0x62, count: 1024 * 1024)
        conn.write(body)
        // The answer arrives and the server's FIN with it; the server keeps reading meanwhile.
        #expect(loop.run(until: { client.bytes == Array("413".utf8) && conn.pendingWriteBytes == 0 }, timeout: .seconds(10)))
        #expect(server.closedCount == 0)
        conn.close()
        #expect(loop.run(until: { server.closedCount == 1 && client.closedCount == 1 }, timeout: .seconds(10)))
        #expect(listener.connectionCount == 0)
        #expect(loop.counters.tcpWriteStallAborts == 0)
    }

    @Test("a lingering close ends at its time bound even if the peer never closes", arguments: BackendKind.available)
    func lingerTimeout(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        var serverConn: TCPConnection?
        let server = RecordingHandler()
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10) { c in
            serverConn = c
            return server
        }
        // A plain blocking socket outside the loop: it never reads, so never sees our FIN.
        let peer = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(peer) }
        #expect(listener.localAddress.withSockAddr { connect(peer, $0, $1) } == 0)
        #expect(send(peer, "hello", 5, Int32(MSG_NOSIGNAL)) == 5)
        #expect(loop.run(until: { server.bytes.count == 5 }, timeout: .seconds(5)))
        let s = try #require(serverConn)
        s.close(linger: TCPConnection.Linger(timeout: .milliseconds(200), maxBytes: 1024))
        #expect(s.isOpen)
        #expect(loop.run(until: { server.closedCount == 1 }, timeout: .seconds(5)))
        #expect(listener.connectionCount == 0)
    }

    @Test("a peer that never reads is aborted at the hard cap and counted", arguments: BackendKind.available)
    func hardCap(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let limits = TCPLimits(highWatermark: 32 * 1024, lowWatermark: 8 * 1024, hardCap: 512 * 1024)
        var serverConn: TCPConnection?
        let server = RecordingHandler()
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 10, limits: limits) { c in
            serverConn = c
            return server
        }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        conn.pauseReading()
        #expect(loop.run(until: { serverConn != nil }, timeout: .seconds(5)))
        let s = try #require(serverConn)
        let chunk = [UInt8](repeating: 1, count: 64 * 1024)
        // Ignore back-pressure on purpose; memory must stay bounded anyway.
        #expect(loop.run(until: {
            for _ in 0..<16 where s.isOpen { s.write(chunk) }
            return server.closedCount == 1
        }, timeout: .seconds(10)))
        #expect(loop.counters.tcpWriteCapAborts == 1)
        #expect(s.pendingWriteBytes == 0)
        #expect(!s.isOpen)
    }

    @Test("connections beyond the per-core limit are refused and counted", arguments: BackendKind.available)
    func connectionLimit(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        var accepted = 0
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 2) { _ in
            accepted += 1
            return EchoHandler()
        }
        let clients = (0..<3).map { _ in RecordingHandler() }
        var conns: [TCPConnection] = []
        for c in clients {
            conns.append(try loop.connectTCP(to: listener.localAddress, handler: c))
            #expect(loop.run(until: { accepted + loop.counters.tcpRefused == conns.count }, timeout: .seconds(5)))
        }
        #expect(accepted == 2)
        #expect(loop.counters.tcpRefused == 1)
        #expect(listener.connectionCount == 2)
        // The refused client sees its connection end.
        for c in conns { c.write([1, 2, 3]) }
        #expect(loop.run(until: { clients[2].closedCount == 1 }, timeout: .seconds(5)))
        #expect(loop.run(until: { clients[0].bytes == [1, 2, 3] && clients[1].bytes == [1, 2, 3] }, timeout: .seconds(5)))
    }

    @Test("an accept closure that returns nil refuses the connection", arguments: BackendKind.available)
    func refusedByAccept(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 5) { _ in nil }
        let client = RecordingHandler()
        _ = try loop.connectTCP(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { client.closedCount == 1 }, timeout: .seconds(5)))
        #expect(loop.counters.tcpRefused == 1)
        #expect(listener.connectionCount == 0)
    }

    @Test("close flushes what was queued before the connection ends", arguments: BackendKind.available)
    func closeAfterFlush(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let payload = [UInt8](repeating: 3, count: 2 * 1024 * 1024)
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 5) { c in
            c.write(payload)
            c.close()
            return RecordingHandler()
        }
        let client = RecordingHandler()
        _ = try loop.connectTCP(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { client.closedCount == 1 }, timeout: .seconds(10)))
        #expect(client.bytes.count == payload.count)
    }

    @Test("a peer that resets a paused connection ends it without spinning the loop", arguments: BackendKind.available)
    func resetWhilePaused(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let server = RecordingHandler()
        var serverConn: TCPConnection?
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 5) { c in
            c.pauseReading()
            serverConn = c
            return server
        }
        let client = RecordingHandler()
        let conn = try loop.connectTCP(to: listener.localAddress, handler: client)
        conn.write([1, 2, 3])
        #expect(loop.run(until: { serverConn != nil }, timeout: .seconds(5)))
        loop.run(until: { false }, timeout: .milliseconds(20))
        conn.abort()
        let turnsBefore = loop.counters.loopTurns
        #expect(loop.run(until: { server.closedCount == 1 }, timeout: .seconds(5)))
        loop.run(until: { false }, timeout: .milliseconds(100))
        #expect(loop.counters.loopTurns - turnsBefore < 200)
        #expect(client.closedCount == 1)
        #expect(listener.connectionCount == 0)
    }

    @Test("two hundred concurrent echo connections all finish and leave nothing registered", arguments: BackendKind.available)
    func manyConnections(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let server = EchoHandler()
        let listener = try loop.listenTCP(bind: loopback, maxConnections: 1000) { _ in server }
        let baseline = loop.registry.count
        let clients = (0..<200).map { _ in RecordingHandler() }
        var conns: [TCPConnection] = []
        for (i, c) in clients.enumerated() {
            let conn = try loop.connectTCP(to: listener.localAddress, handler: c)
            conn.write(patterned(i, length: 1000))
            conns.append(conn)
        }
        #expect(loop.run(until: { clients.allSatisfy { $0.bytes.count == 1000 } }, timeout: .seconds(10)))
        for (i, c) in clients.enumerated() { #expect(c.bytes == patterned(i, length: 1000)) }
        for c in conns { c.close() }
        #expect(loop.run(until: { server.closedCount == 200 && clients.allSatisfy { $0.closedCount == 1 } }, timeout: .seconds(10)))
        #expect(loop.run(until: { loop.registry.count == baseline }, timeout: .seconds(2)))
        #expect(listener.connectionCount == 0)
    }

    @Test("connecting to a closed port reports closed exactly once", arguments: BackendKind.available)
    func connectRefused(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        // Bind then close to find a port nobody listens on.
        let l = try loop.listenTCP(bind: loopback, maxConnections: 1) { _ in nil }
        let port = l.localAddress.port
        l.close()
        let client = RecordingHandler()
        let c = try? loop.connectTCP(to: SocketAddress(ip: "127.0.0.1", port: port)!, handler: client)
        if c != nil {
            #expect(loop.run(until: { client.closedCount == 1 }, timeout: .seconds(5)))
            loop.run(until: { false }, timeout: .milliseconds(20))
        }
        #expect(c == nil || client.closedCount == 1)
    }
}
