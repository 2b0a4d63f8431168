import Glibc
import Reactor

@testable import SFU

/// Two transports joined by an in-memory network that can drop and reorder datagrams, driven
/// by a clock that jumps to the next timer. OpenSSL 3.0 checks DTLS timer expiry against its
/// own `gettimeofday`, so when the clock jumps the link sleeps until real time catches up.
final class DTLSTestLink {
    let client: DTLSTransport
    let server: DTLSTransport
    var now: Instant
    var rng: SplitMixRandom
    var dropRate: Double
    var reorderRate: Double
    var duplicateRate: Double
    var duplicated = 0
    /// (to server?, bytes)
    var inFlight: [(toServer: Bool, bytes: [UInt8])] = []
    var clientEvents: [DTLSTransport.Event] = []
    var serverEvents: [DTLSTransport.Event] = []
    var sent = 0
    var dropped = 0
    var reordered = 0
    var timerJumps = 0

    init(
        client: DTLSTransport, server: DTLSTransport, seed: UInt64 = 1, dropRate: Double = 0, reorderRate: Double = 0,
        duplicateRate: Double = 0
    ) {
        self.client = client
        self.server = server
        self.now = Instant.now()
        self.rng = SplitMixRandom(seed: seed)
        self.dropRate = dropRate
        self.reorderRate = reorderRate
        self.duplicateRate = duplicateRate
    }

    /// Moves queued datagrams onto the wire (maybe dropping or reordering them) and events out.
    func collect() {
        var buffer = [UInt8](repeating: 0, count: 1500)
        for (transport, toServer) in [(client, true), (server, false)] {
            while let n = buffer.withUnsafeMutableBytes({ transport.pollDatagram(into: $0) }) {
                sent += 1
                if Double.random(in: 0..<1, using: &rng) < dropRate {
                    dropped += 1
                    continue
                }
                let packet = (toServer: toServer, bytes: Array(buffer[0..<n]))
                if !inFlight.isEmpty, Double.random(in: 0..<1, using: &rng) < reorderRate {
                    reordered += 1
                    inFlight.insert(packet, at: Int.random(in: 0..<inFlight.count, using: &rng))
                } else {
                    inFlight.append(packet)
                }
                if Double.random(in: 0..<1, using: &rng) < duplicateRate {
                    duplicated += 1
                    inFlight.insert(packet, at: Int.random(in: 0...inFlight.count, using: &rng))
                }
            }
        }
        while let e = client.pollEvent() { clientEvents.append(e) }
        while let e = server.pollEvent() { serverEvents.append(e) }
    }

    /// Delivers datagrams and fires timers until `done` or `maxSteps`. Returns whether done.
    @discardableResult
    func run(maxSteps: Int = 10_000, until done: () -> Bool) -> Bool {
        for _ in 0..<maxSteps {
            collect()
            if done() { return true }
            if !inFlight.isEmpty {
                let p = inFlight.removeFirst()
                p.bytes.withUnsafeBytes { (p.toServer ? server : client).handle(datagram: $0, now: now) }
                continue
            }
            let deadlines = [client.nextTimeout, server.nextTimeout].compactMap { $0 }
            guard let next = deadlines.min() else {
                collect()
                return done()
            }
            if next > now { now = next }
            timerJumps += 1
            let real = Instant.now()
            if now > real { usleep(UInt32((now - real).nanoseconds / 1_000) + 200) }
            client.handleTimeout(now: now)
            server.handleTimeout(now: now)
        }
        collect()
        return done()
    }

    var bothConnected: Bool { client.state == .connected && server.state == .connected }

    func keys(_ events: [DTLSTransport.Event]) -> SRTPKeys? {
        for case .connected(let keys) in events { return keys }
        return nil
    }
}

/// A client and a server transport that trust each other's identity.
func dtlsTestPair(
    clientIdentity: DTLSIdentity, serverIdentity: DTLSIdentity,
    clientExpects: String? = nil, serverExpects: String? = nil
) throws -> (client: DTLSTransport, server: DTLSTransport) {
    func split(_ fingerprint: String) -> (algorithm: String, value: String) {
        let parts = fingerprint.split(separator: " ", maxSplits: 1)
        return (String(parts[0]), String(parts[1]))
    }
    let client = try DTLSTransport(
        identity: clientIdentity, role: .client,
        remoteFingerprint: split(clientExpects ?? serverIdentity.fingerprint))
    let server = try DTLSTransport(
        identity: serverIdentity, role: .server,
        remoteFingerprint: split(serverExpects ?? clientIdentity.fingerprint))
    return (client, server)
}
