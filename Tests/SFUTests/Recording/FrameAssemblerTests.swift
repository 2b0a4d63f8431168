import Reactor
import Testing

@testable import SFU

/// Drives a FrameAssembler with a virtual clock and records what comes out.
final class AssemblerHarness {
    var assembler: FrameAssembler
    var now = Instant(nanoseconds: 1_000_000_000)
    /// Frames emitted, as (timestamp, keyframe, payload bytes joined).
    var frames: [(ts: UInt32, key: Bool, bytes: [UInt8])] = []
    var keyframeRequests = 0

    init(_ configuration: FrameAssembler.Configuration = .init()) {
        assembler = FrameAssembler(configuration: configuration)
    }

    func packet(_ p: TestPacket, after ms: UInt64 = 1) {
        now = now + .milliseconds(ms)
        p.payload.withUnsafeBytes {
            assembler.insert(
                .init(sequenceNumber: p.seq, timestamp: p.ts, marker: p.marker, traits: p.traits), payload: $0, now: now)
        }
        drain()
    }

    func wait(_ ms: UInt64) {
        now = now + .milliseconds(ms)
        assembler.advance(now: now)
        drain()
    }

    func drain() {
        while let e = assembler.nextEvent() {
            switch e {
            case .keyframeNeeded: keyframeRequests += 1
            case .frame(let f):
                var bytes: [UInt8] = []
                assembler.forEachPayload(of: f) { bytes += $0 }
                #expect(bytes.count >= f.packetCount)
                frames.append((f.timestamp, f.isKeyframe, bytes))
            }
        }
    }

    var timestamps: [UInt32] { frames.map(\.ts) }
}

struct TestPacket {
    var seq: UInt16
    var ts: UInt32
    var marker: Bool
    var traits: PayloadTraits?
    var payload: [UInt8]
}

/// A stream of frames of `size` packets, every `keyEvery`-th a keyframe (the first is one);
/// frame i has timestamp base + 3000 i, each payload is [frame index, packet index].
func frames(
    count: Int, size: Int = 3, keyEvery: Int = 10, firstSeq: UInt16 = 1000, baseTS: UInt32 = 90_000
) -> [[TestPacket]] {
    var seq = firstSeq
    return (0..<count).map { i in
        (0..<size).map { k in
            defer { seq &+= 1 }
            let key = i % keyEvery == 0
            return TestPacket(
                seq: seq, ts: baseTS &+ UInt32(3000 * i), marker: k == size - 1,
                traits: PayloadTraits(startsFrame: k == 0, isKeyframe: key && k == 0),
                payload: [UInt8(truncatingIfNeeded: i), UInt8(k)])
        }
    }
}

@Suite("Frame assembler")
struct FrameAssemblerTests {
    @Test("in-order packets come out as frames at their marker, payloads joined in order")
    func inOrder() {
        let h = AssemblerHarness()
        let stream = frames(count: 4)
        for p in stream.joined() { h.packet(p) }
        #expect(h.timestamps == [90_000, 93_000, 96_000, 99_000])
        #expect(h.frames[0].key && !h.frames[1].key)
        #expect(h.frames[2].bytes == [2, 0, 2, 1, 2, 2])
        #expect(h.keyframeRequests == 0)
        #expect(h.assembler.counters.framesEmitted == 4)
    }

    @Test("reordered packets within and across frames still come out whole and in order")
    func reordering() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 3).joined())
        for i in [1, 0, 4, 2, 5, 3, 8, 7, 6] { h.packet(p[i]) }
        #expect(h.timestamps == [90_000, 93_000, 96_000])
        #expect(h.frames.map(\.bytes) == [[0, 0, 0, 1, 0, 2], [1, 0, 1, 1, 1, 2], [2, 0, 2, 1, 2, 2]])
    }

    @Test("the first packets of the first keyframe may arrive after later ones")
    func firstKeyframeReordered() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 2).joined())
        for i in [2, 1, 0, 3, 4, 5] { h.packet(p[i]) }
        #expect(h.timestamps == [90_000, 93_000])
        #expect(h.frames.first?.key == true)
    }

    @Test("a recording that starts mid-stream asks for a keyframe and begins with one")
    func startsOnKeyframe() {
        let h = AssemblerHarness()
        let stream = frames(count: 25)
        for p in stream[3...].joined() { h.packet(p) }
        #expect(h.keyframeRequests == 1)
        #expect(h.frames.first?.key == true)
        #expect(h.timestamps == (10..<25).map { 90_000 + 3000 * UInt32($0) })
        #expect(h.frames.filter(\.key).count == 2)
    }

    @Test("a lost packet repaired within maxWait delays its frame and those behind it, nothing is lost")
    func repairedInTime() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 4).joined())
        for i in [0, 1, 2, 3, 5, 6, 7, 8] { h.packet(p[i]) }  // 4 lost for now
        #expect(h.timestamps == [90_000])
        #expect(h.assembler.deadline != nil)
        h.wait(200)
        h.packet(p[4])  // the NACK repair
        for i in 9..<12 { h.packet(p[i]) }
        #expect(h.timestamps == [90_000, 93_000, 96_000, 99_000])
        #expect(h.keyframeRequests == 0)
    }

    @Test("a frame never completed is skipped after maxWait with every frame up to the next keyframe")
    func lossSkipsToKeyframe() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 25).joined())
        for (i, packet) in p.enumerated() where i != 7 { h.packet(packet) }  // frame 2 loses a packet
        #expect(h.timestamps == [90_000, 93_000])  // frame 2 is not complete; frames 3+ wait for it
        h.wait(300)
        // Given up: frames 2-9 depend on frame 2; frame 10 is a keyframe, then 11-24 follow.
        #expect(h.keyframeRequests == 1)
        #expect(h.timestamps == [90_000, 93_000] + (10..<25).map { 90_000 + 3000 * UInt32($0) })
        #expect(h.frames[2].key)
        #expect(h.assembler.counters.framesSkipped == 8)
        // A late repair of the lost packet is ignored.
        h.packet(p[7])
        #expect(h.frames.count == 17 && h.assembler.counters.packetsLate == 1)
    }

    @Test("the wait for a keyframe ends with the next keyframe that arrives after the request")
    func keyframeAfterRequest() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 5, keyEvery: 100).joined())
        for (i, packet) in p.enumerated() where i != 4 { h.packet(packet) }
        h.wait(400)
        #expect(h.keyframeRequests == 1 && h.timestamps == [90_000])
        h.wait(1000)
        #expect(h.keyframeRequests == 2)  // asked again: no keyframe came
        // The publisher's answer: a keyframe, 2 packets, then a delta frame.
        let key = frames(count: 2, size: 2, keyEvery: 100, firstSeq: p.last!.seq &+ 1, baseTS: 200_000)
        for packet in key.joined() { h.packet(packet) }
        #expect(h.timestamps == [90_000, 200_000, 203_000])
        #expect(h.frames[1].key && !h.frames[2].key)
    }

    @Test("a frame whose marker bit is missing ends where the next timestamp begins")
    func missingMarker() {
        let h = AssemblerHarness()
        var p = Array(frames(count: 3).joined())
        p[2].marker = false
        for packet in p[0..<3] { h.packet(packet) }
        #expect(h.frames.isEmpty)  // the end is not known yet
        h.packet(p[3])
        #expect(h.timestamps == [90_000])
        for packet in p[4...] { h.packet(packet) }
        #expect(h.timestamps == [90_000, 93_000, 96_000])
    }

    @Test("the deadline is maxWait after the oldest packet held behind a gap")
    func deadline() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 3).joined())
        for packet in p[0..<3] { h.packet(packet) }
        #expect(h.assembler.deadline == nil)  // nothing held
        h.packet(p[4])  // p[3] missing
        let held = h.now
        h.packet(p[5])
        #expect(h.assembler.deadline == held + .milliseconds(300))
        h.now = held + .milliseconds(299)
        h.wait(0)
        #expect(h.keyframeRequests == 0)
        h.wait(1)
        #expect(h.keyframeRequests == 1 && h.assembler.counters.framesSkipped == 1)
    }

    @Test("duplicates are dropped and counted")
    func duplicates() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 2).joined())
        for i in [0, 0, 1, 1, 2, 2, 3, 4, 3, 5, 0] { h.packet(p[i]) }
        #expect(h.timestamps == [90_000, 93_000])
        #expect(h.assembler.counters.packetsDuplicate == 3)  // copies of packets still held
        #expect(h.assembler.counters.packetsLate == 2)  // copies of packets already emitted
    }

    @Test("sequence numbers wrap around 65535 and timestamps around 2^32")
    func wrap() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 6, firstSeq: 65_530, baseTS: UInt32.max - 4000).joined())
        for i in [0, 2, 1, 3, 4, 7, 6, 5, 8, 9, 10, 11, 12, 13, 14, 15, 17, 16] { h.packet(p[i]) }
        #expect(h.frames.count == 6)
        #expect(h.timestamps == (0..<6).map { (UInt32.max - 4000) &+ UInt32(3000 * $0) })
    }

    @Test("timestamp jumps do not matter: frames are told apart by timestamp changes and markers")
    func timestampJumps() {
        let h = AssemblerHarness()
        var p = Array(frames(count: 3).joined())
        for i in 3..<6 { p[i].ts = 4_000_000_000 }
        for i in 6..<9 { p[i].ts = 7 }
        for packet in p { h.packet(packet) }
        #expect(h.timestamps == [90_000, 4_000_000_000, 7])
    }

    @Test("a frame with a malformed packet is skipped at once, with its dependents")
    func malformedPacket() {
        let h = AssemblerHarness()
        var p = Array(frames(count: 12).joined())
        p[4].traits = nil
        for packet in p { h.packet(packet) }
        #expect(h.keyframeRequests == 1)
        #expect(h.timestamps == [90_000, 120_000, 123_000])
    }

    @Test("a frame the depacketizer refused makes the next frames wait for a keyframe")
    func depacketizerFailure() {
        let h = AssemblerHarness()
        let p = Array(frames(count: 12).joined())
        for packet in p[0..<6] { h.packet(packet) }
        h.assembler.frameFailed(now: h.now)
        h.drain()
        for packet in p[6...] { h.packet(packet) }
        #expect(h.keyframeRequests == 1)
        #expect(h.timestamps == [90_000, 93_000, 120_000, 123_000])
    }

    @Test("memory is bounded: a packet far ahead drops what falls out of the window")
    func bounded() {
        let h = AssemblerHarness(.init(maxPackets: 16))
        let p = Array(frames(count: 30, size: 2, keyEvery: 10).joined())
        for (i, packet) in p.enumerated() where i != 3 { h.packet(packet, after: 0) }
        // Packet 3 lost: frame 1 waits while up to 16 packets are held; then the window
        // moves, frames fall out, and the keyframes at 10 and 20 restart the stream.
        #expect(h.assembler.counters.packetsOverflowed > 0)
        #expect(h.frames.first?.ts == 90_000 && h.frames.dropFirst().first?.key == true)
        #expect(h.timestamps.last == UInt32(90_000 + 3000 * 29))
        let oversized = [UInt8](repeating: 0, count: 1501)
        h.packet(TestPacket(seq: 2000, ts: 1, marker: true, traits: nil, payload: oversized))
        #expect(h.assembler.counters.packetsOversized == 1)
    }

    @Test("sequence numbers that jump back for good (a new source) restart the assembler")
    func sequenceJumpBack() {
        let h = AssemblerHarness()
        for p in frames(count: 3, firstSeq: 30_000).joined() { h.packet(p) }
        for p in frames(count: 50, firstSeq: 10_000, baseTS: 500_000).joined() { h.packet(p) }
        #expect(h.frames.count == 3 + 20)  // from the first keyframe after the restart (frame 30)
        #expect(h.timestamps.last == UInt32(500_000 + 3000 * 49))
        #expect(h.frames[3].key)
    }

    @Test("random packet orders, loss and duplicates: frames come out in order, whole, starting with a keyframe")
    func randomNetwork() {
        for seed: UInt64 in 1...20 {
            var rng = TestRNG(state: seed &* 0x9E37_79B9_7F4A_7C15)
            let h = AssemblerHarness()
            let p = Array(frames(count: 200, size: 4, keyEvery: 20).joined())
            var i = 0
            var pending: [TestPacket] = []
            while i < p.count || !pending.isEmpty {
                if i < p.count {
                    if rng.next() % 50 != 0 { pending.append(p[i]) }  // 2 % loss
                    if rng.next() % 30 == 0 { pending.append(p[i]) }  // duplicates
                    i += 1
                }
                if pending.count > 6 || (i == p.count && !pending.isEmpty) {
                    let k = Int(rng.next() % UInt64(pending.count))  // reordering, up to 6 deep
                    h.packet(pending.remove(at: k), after: 2)
                }
            }
            h.wait(2000)
            #expect(h.frames.first?.key == true)
            let indices = h.frames.map { Int(($0.ts - 90_000) / 3000) }
            #expect(indices == indices.sorted() && Set(indices).count == indices.count)
            // After a frame that did not come out, the next one is a keyframe.
            for (a, b) in zip(h.frames, h.frames.dropFirst()) where b.ts - a.ts != 3000 {
                #expect(b.key)
            }
            for f in h.frames {
                let n = UInt8(truncatingIfNeeded: Int((f.ts - 90_000) / 3000))
                #expect(f.bytes == [n, 0, n, 1, n, 2, n, 3])
            }
            #expect(h.frames.count > 50)
        }
    }
}
