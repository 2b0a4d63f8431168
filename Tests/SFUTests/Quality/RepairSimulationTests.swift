import Reactor
import Testing

@testable import SFU

/// The quality-loop components wired as the media path wires them, over a virtual network
/// with loss and delay on both legs, driven by a virtual clock from a fixed seed: the
/// viewer must end up with (almost) every packet, which it cannot without the repairs.
@Suite("NACK/RTX repair over lossy legs (simulation)")
struct RepairSimulationTests {
    enum Kind { case media, rtx, nack }

    struct Datagram {
        var at: UInt64
        var kind: Kind
        var bytes: [UInt8]
        var lost: [UInt16] = []
    }

    /// A one-way link: drops `lossPercent` of datagrams, delivers the rest after `delayMs`.
    struct Link {
        var lossPercent: UInt64
        var delayMs: UInt64
        var queue: [Datagram] = []
        var dropped = 0

        mutating func send(_ d: Datagram, now: UInt64, rng: inout SplitMixRandom) {
            if rng.next() % 100 < lossPercent {
                dropped += 1
                return
            }
            var d = d
            d.at = now + delayMs * 1_000_000 + rng.next() % 3_000_000  // a little jitter
            queue.append(d)
        }

        mutating func due(now: UInt64) -> [Datagram] {
            let ready = queue.filter { $0.at <= now }.sorted { $0.at < $1.at }
            queue.removeAll { $0.at <= now }
            return ready
        }
    }

    func simulate(loss: UInt64, repairs: Bool, seed: UInt64) -> (received: Int, sent: Int) {
        var rng = SplitMixRandom(seed: seed)
        var uplink = Link(lossPercent: loss, delayMs: 20)
        var uplinkBack = Link(lossPercent: loss, delayMs: 20)  // SFU → publisher (NACKs)
        var downlink = Link(lossPercent: loss, delayMs: 15)
        var downlinkBack = Link(lossPercent: loss, delayMs: 15)  // viewer → SFU (NACKs)

        let publisherSSRC: UInt32 = 0x1111
        let roomSSRC: UInt32 = 0x2222
        let roomRTX: UInt32 = 0x3333
        var publisherSent: [UInt16: [UInt8]] = [:]
        var publisherRTXSeq: UInt16 = 500

        var rewriter = StreamRewriter(clockRate: 90_000)
        let history = PacketHistory(slotCount: 512)
        var upstream = NackGenerator()
        var responder = NackResponder(minimumRate: 1_000_000)

        var viewerNacks = NackGenerator()
        var viewerGot = Set<UInt16>()

        let start: UInt64 = 10_000_000_000
        let count = 2000
        var seq: UInt16 = 65000  // crosses the wrap
        var buf = [UInt8](repeating: 0, count: 1500)
        var now = start
        while now < start + UInt64(count) * 10_000_000 + 3_000_000_000 {
            let t = Instant(nanoseconds: now)
            // Publisher: one packet every 10 ms.
            if now < start + UInt64(count) * 10_000_000, (now - start) % 10_000_000 == 0 {
                let p = qualityRTP(
                    seq: seq, ts: UInt32(truncatingIfNeeded: now / 11_111), ssrc: publisherSSRC,
                    payload: [UInt8(truncatingIfNeeded: seq), 1, 2, 3])
                publisherSent[seq] = p
                uplink.send(Datagram(at: 0, kind: .media, bytes: p), now: now, rng: &rng)
                seq &+= 1
            }
            // Publisher: answers NACKs with RTX.
            for d in uplinkBack.due(now: now) where repairs {
                for s in d.lost {
                    guard let original = publisherSent[s] else { continue }
                    let n = original.withUnsafeBytes { src in
                        buf.withUnsafeMutableBytes {
                            (try? RTXPacketizer.wrap(
                                src, into: $0, ssrc: 0x4444, sequenceNumber: publisherRTXSeq, payloadType: 97)) ?? 0
                        }
                    }
                    publisherRTXSeq &+= 1
                    uplink.send(Datagram(at: 0, kind: .rtx, bytes: Array(buf[0..<n])), now: now, rng: &rng)
                }
            }
            // SFU: publisher packets (RTX unwrapped) → rewrite → history → viewer.
            for d in uplink.due(now: now) {
                var bytes = d.bytes
                var length = bytes.count
                if d.kind == .rtx {
                    length = bytes.withUnsafeMutableBytes { raw in
                        guard let v = try? RTPPacket(parsing: raw) else { return 0 }
                        return (try? RTXPacketizer.unwrap(v, ssrc: publisherSSRC, payloadType: 96)) ?? 0
                    }
                    guard length > 0 else { continue }
                    let s = bytes.withUnsafeBytes { WireBytes.u16($0, 2) }
                    guard upstream.repairArrived(sequenceNumber: s) else { continue }
                } else {
                    _ = upstream.received(sequenceNumber: bytes.withUnsafeBytes { WireBytes.u16($0, 2) }, now: t)
                }
                bytes = Array(bytes[0..<length])
                let outSeq = bytes.withUnsafeMutableBytes { raw -> UInt16 in
                    let v = try! RTPPacket(parsing: raw)
                    let out = rewriter.rewrite(
                        ssrc: v.ssrc, sequenceNumber: v.sequenceNumber, timestamp: v.timestamp, now: t)
                    v.sequenceNumber = out.sequenceNumber
                    v.timestamp = out.timestamp
                    v.ssrc = roomSSRC
                    history.store(UnsafeRawBufferPointer(raw), sequenceNumber: out.sequenceNumber, now: t)
                    return out.sequenceNumber
                }
                #expect(outSeq == d.bytes.withUnsafeBytes { WireBytes.u16($0, 2) } || d.kind == .rtx)
                downlink.send(Datagram(at: 0, kind: .media, bytes: bytes), now: now, rng: &rng)
            }
            if repairs, upstream.isDue(now: t) {
                var lost = [UInt16](repeating: 0, count: 100)
                let n = lost.withUnsafeMutableBufferPointer { upstream.collect(now: t, into: $0) }
                if n > 0 {
                    uplinkBack.send(
                        Datagram(at: 0, kind: .nack, bytes: [], lost: Array(lost[0..<n])), now: now, rng: &rng)
                }
            }
            // SFU: viewer NACKs → history → RTX.
            for d in downlinkBack.due(now: now) {
                for s in d.lost {
                    guard let stored = history.packet(sequenceNumber: s, now: t) else {
                        responder.recordMissing()
                        continue
                    }
                    guard responder.decide(sequenceNumber: s, bytes: stored.count + 2, now: t) == .resend else {
                        continue
                    }
                    let n = buf.withUnsafeMutableBytes {
                        (try? RTXPacketizer.wrap(
                            stored, into: $0, ssrc: roomRTX, sequenceNumber: responder.takeRTXSequence(),
                            payloadType: 97)) ?? 0
                    }
                    downlink.send(Datagram(at: 0, kind: .rtx, bytes: Array(buf[0..<n])), now: now, rng: &rng)
                }
            }
            // Viewer: media and RTX, NACKs back.
            for d in downlink.due(now: now) {
                var bytes = d.bytes
                if d.kind == .rtx {
                    let n = bytes.withUnsafeMutableBytes { raw in
                        (try? RTXPacketizer.unwrap(try! RTPPacket(parsing: raw), ssrc: roomSSRC, payloadType: 96)) ?? 0
                    }
                    bytes = Array(bytes[0..<n])
                    #expect(bytes.withUnsafeBytes { WireBytes.u32($0, 8) } == roomSSRC)
                }
                let s = bytes.withUnsafeBytes { WireBytes.u16($0, 2) }
                // The first source passes through unchanged: the payload names the same number.
                #expect(bytes.last == 3 && bytes[bytes.count - 4] == UInt8(truncatingIfNeeded: s))
                viewerGot.insert(s)
                if d.kind == .rtx {
                    _ = viewerNacks.repairArrived(sequenceNumber: s)
                } else {
                    viewerNacks.received(sequenceNumber: s, now: t)
                }
            }
            if repairs, viewerNacks.isDue(now: t) {
                var lost = [UInt16](repeating: 0, count: 100)
                let n = lost.withUnsafeMutableBufferPointer { viewerNacks.collect(now: t, into: $0) }
                if n > 0 {
                    downlinkBack.send(
                        Datagram(at: 0, kind: .nack, bytes: [], lost: Array(lost[0..<n])), now: now, rng: &rng)
                }
            }
            now += 1_000_000
        }
        return (viewerGot.count, count)
    }

    @Test("with 5 % loss on both legs the viewer gets almost every packet through NACK and RTX")
    func repairsRecoverLosses() {
        let with = simulate(loss: 5, repairs: true, seed: 42)
        let without = simulate(loss: 5, repairs: false, seed: 42)
        #expect(Double(without.received) < 0.93 * Double(without.sent))
        #expect(Double(with.received) >= 0.998 * Double(with.sent), "\(with) vs \(without) without repairs")
    }
}
