// Micro-benchmark of the SRTP per-packet path and the DTLS handshake, in ns/op.
// Run in release: swift run -c release livesfu-srtp-bench [packets]
// Every figure is CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), so a busy
// neighbour on a shared machine inflates wall time but not these numbers.
import Glibc
import Reactor
import SFU

func cpuNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func report(_ name: String, _ nanoseconds: UInt64, per count: Int) {
    let each = Double(nanoseconds) / Double(max(count, 1))
    let text = each >= 10_000 ? "\(Int(each / 1000)) µs" : "\(Int(each)) ns"
    print("\(name.padding(48)) \(text.leftPadded(10))/op   (\(count) ops)")
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// Writes a 12-byte RTP header with `seq` and `ssrc` and fills the payload once.
func writeRTPHeader(_ p: UnsafeMutableRawBufferPointer, seq: UInt16, ssrc: UInt32) {
    p[0] = 0x80
    p[1] = 96
    p[2] = UInt8(seq >> 8)
    p[3] = UInt8(seq & 0xff)
    let ts = UInt32(seq) &* 3000
    p[4] = UInt8(ts >> 24)
    p[5] = UInt8((ts >> 16) & 0xff)
    p[6] = UInt8((ts >> 8) & 0xff)
    p[7] = UInt8(ts & 0xff)
    p[8] = UInt8(ssrc >> 24)
    p[9] = UInt8((ssrc >> 16) & 0xff)
    p[10] = UInt8((ssrc >> 8) & 0xff)
    p[11] = UInt8(ssrc & 0xff)
}

let packets = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let packetSize = 1200
let fanout = 10
print("livesfu SRTP/DTLS micro-benchmark — \(SRTPBackend.description)")
print("RTP packets of \(packetSize) bytes (incl. tag), \(packets) per measurement")

for profile in [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80] {
    var keyBytes = [UInt8](repeating: 0, count: profile.keyingMaterialLength)
    for i in keyBytes.indices { keyBytes[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
    let outbound = try SRTPSession(profile: profile, key: keyBytes, direction: .outbound)
    let inbound = try SRTPSession(profile: profile, key: keyBytes, direction: .inbound)
    let plainLength = packetSize - profile.rtpTrailerLength
    print("\n\(profile)")

    // protect: one buffer, a new sequence number each time (what a forwarder does).
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
    defer { buffer.deallocate() }
    for i in 0..<1500 { buffer[i] = UInt8(truncatingIfNeeded: i) }
    var start = cpuNanoseconds()
    for i in 0..<packets {
        writeRTPHeader(buffer, seq: UInt16(truncatingIfNeeded: i), ssrc: 0x1234_5678)
        _ = try outbound.protectRTP(buffer, length: plainLength)
    }
    report("protectRTP", cpuNanoseconds() - start, per: packets)

    // unprotect: batches of valid packets, protected outside the timed loop.
    let batch = 4096
    let store = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * 1500, alignment: 16)
    defer { store.deallocate() }
    let sender = try SRTPSession(profile: profile, key: keyBytes, direction: .outbound)
    var unprotectTime: UInt64 = 0
    var done = 0
    var seq = 0
    while done < packets {
        let n = min(batch, packets - done)
        for j in 0..<n {
            let slot = UnsafeMutableRawBufferPointer(rebasing: store[(j * 1500)..<((j + 1) * 1500)])
            writeRTPHeader(slot, seq: UInt16(truncatingIfNeeded: seq), ssrc: 0x0bad_cafe)
            seq += 1
            _ = try sender.protectRTP(slot, length: plainLength)
        }
        start = cpuNanoseconds()
        for j in 0..<n {
            let slot = UnsafeMutableRawBufferPointer(rebasing: store[(j * 1500)..<((j + 1) * 1500)])
            _ = try inbound.unprotectRTP(slot, length: packetSize)
        }
        unprotectTime += cpuNanoseconds() - start
        done += n
    }
    report("unprotectRTP", unprotectTime, per: packets)

    // fanout: one unprotect, then a copy + protect per viewer session (header rewrite is the
    // RTP module's; here only the SSRC/seq bytes are rewritten).
    let viewers = try (0..<fanout).map { _ in
        try SRTPContext(
            keys: SRTPKeys(profile: profile, role: .server, clientWriteKey: keyBytes, serverWriteKey: keyBytes))
    }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
    defer { copy.deallocate() }
    let fanPackets = packets / fanout
    var fanTime: UInt64 = 0
    done = 0
    while done < fanPackets {
        let n = min(batch, fanPackets - done)
        for j in 0..<n {
            let slot = UnsafeMutableRawBufferPointer(rebasing: store[(j * 1500)..<((j + 1) * 1500)])
            writeRTPHeader(slot, seq: UInt16(truncatingIfNeeded: seq), ssrc: 0x0bad_cafe)
            seq += 1
            _ = try sender.protectRTP(slot, length: plainLength)
        }
        start = cpuNanoseconds()
        for j in 0..<n {
            let slot = UnsafeMutableRawBufferPointer(rebasing: store[(j * 1500)..<((j + 1) * 1500)])
            let length = try inbound.unprotectRTP(slot, length: packetSize)
            for (v, viewer) in viewers.enumerated() {
                copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: slot[0..<length]))
                writeRTPHeader(copy, seq: UInt16(truncatingIfNeeded: done + j), ssrc: UInt32(0x1000 + v))
                _ = try viewer.protectRTP(copy, length: length)
            }
        }
        fanTime += cpuNanoseconds() - start
        done += n
    }
    report("unprotect + \(fanout)× (copy, rewrite, protect)", fanTime, per: fanPackets)

    // RTCP: a 100-byte compound packet protect + unprotect.
    let rtcpCount = packets / 4
    start = cpuNanoseconds()
    for _ in 0..<rtcpCount {
        buffer[0] = 0x80
        buffer[1] = 200
        buffer[2] = 0
        buffer[3] = 24
        buffer[4] = 0x12
        buffer[5] = 0x34
        buffer[6] = 0x56
        buffer[7] = 0x78
        let n = try sender.protectRTCP(buffer, length: 100)
        _ = try inbound.unprotectRTCP(buffer, length: n)
    }
    report("protectRTCP + unprotectRTCP (100 B)", cpuNanoseconds() - start, per: rtcpCount)

    let sessions = 2_000
    start = cpuNanoseconds()
    for _ in 0..<sessions {
        _ = try SRTPContext(
            keys: SRTPKeys(profile: profile, role: .client, clientWriteKey: keyBytes, serverWriteKey: keyBytes))
    }
    report("SRTPContext create + free (2 sessions)", cpuNanoseconds() - start, per: sessions)
}

// DTLS: identity generation, then full in-memory handshakes with CPU per side.
print("\nDTLS 1.2 (ECDSA P-256, in memory)")
let identities = 50
var start = cpuNanoseconds()
for _ in 0..<identities { _ = try DTLSIdentity.generate() }
report("DTLSIdentity.generate (key + cert)", cpuNanoseconds() - start, per: identities)

let serverIdentity = try DTLSIdentity.generate()
let clientIdentity = try DTLSIdentity.generate()
func split(_ fingerprint: String) -> (algorithm: String, value: String) {
    let parts = fingerprint.split(separator: " ", maxSplits: 1)
    return (String(parts[0]), String(parts[1]))
}
let handshakes = max(50, packets / 1000)
var clientCPU: UInt64 = 0
var serverCPU: UInt64 = 0
var datagram = [UInt8](repeating: 0, count: 1500)
var completed = 0
for _ in 0..<handshakes {
    let now = Instant.now()
    var t = cpuNanoseconds()
    let client = try DTLSTransport(
        identity: clientIdentity, role: .client, remoteFingerprint: split(serverIdentity.fingerprint))
    client.startHandshake(now: now)
    clientCPU += cpuNanoseconds() - t
    t = cpuNanoseconds()
    let server = try DTLSTransport(
        identity: serverIdentity, role: .server, remoteFingerprint: split(clientIdentity.fingerprint))
    serverCPU += cpuNanoseconds() - t
    var rounds = 0
    while rounds < 10, !(client.state == .connected && server.state == .connected) {
        rounds += 1
        for (from, to, toServer) in [(client, server, true), (server, client, false)] {
            while let n = datagram.withUnsafeMutableBytes({ from.pollDatagram(into: $0) }) {
                t = cpuNanoseconds()
                datagram.withUnsafeBytes { to.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
                let spent = cpuNanoseconds() - t
                if toServer { serverCPU += spent } else { clientCPU += spent }
            }
        }
    }
    if client.state == .connected && server.state == .connected { completed += 1 }
    while client.pollEvent() != nil {}
    while server.pollEvent() != nil {}
}
report("handshake, client side (active)", clientCPU, per: handshakes)
report("handshake, server side (passive)", serverCPU, per: handshakes)
print("handshakes completed: \(completed)/\(handshakes)")
