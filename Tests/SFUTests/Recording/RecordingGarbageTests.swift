import Reactor
import Testing

@testable import SFU

/// Bad input through the whole sans-IO chain: whatever the packets, nothing traps, and every
/// frame that comes out of the assembler either depacketizes or is reported as failed.
@Suite("Recording chain with garbage input")
struct RecordingGarbageTests {
    func run<D: RTPDepacketizer>(_ depacketizer: D, codec: IVFWriter.Codec, seed: UInt64) {
        var rng = TestRNG(state: seed)
        var d = depacketizer
        var assembler = FrameAssembler(configuration: .init(maxPackets: 64, maxPayloadBytes: 64))
        var writer = IVFWriter(codec: codec)
        var out: [UInt8] = []
        var now = Instant(nanoseconds: 1)
        var seq: UInt16 = UInt16(truncatingIfNeeded: rng.next())
        var ts: UInt32 = UInt32(truncatingIfNeeded: rng.next())
        var emitted = 0
        var payloads: [[UInt8]] = []
        for _ in 0..<20_000 {
            // Mostly a plausible stream, with jumps, repeats and timestamps that go anywhere.
            switch rng.next() % 20 {
            case 0: seq &+= UInt16(truncatingIfNeeded: rng.next())
            case 1: seq &-= UInt16(rng.next() % 8)
            case 2: ts = UInt32(truncatingIfNeeded: rng.next())
            case 3, 4: ts &+= 3000
            default: seq &+= 1
            }
            var payload = rng.bytes(Int(rng.next() % 80))
            if !payload.isEmpty && rng.next() % 4 == 0 { payload[0] = [0x10, 0x88, 0x7C, 0x18][Int(rng.next() % 4)] }
            now = now + .milliseconds(rng.next() % 50)
            payload.withUnsafeBytes {
                assembler.insert(
                    .init(sequenceNumber: seq, timestamp: ts, marker: rng.next() % 3 == 0, traits: D.traits(of: $0)),
                    payload: $0, now: now)
            }
            while let e = assembler.nextEvent() {
                guard case .frame(let f) = e else { continue }
                payloads.removeAll(keepingCapacity: true)
                assembler.forEachPayload(of: f) { payloads.append(Array($0)) }
                #expect(payloads.count == f.packetCount)
                switch depacketize(&d, payloads) {
                case .success(let bytes):
                    bytes.withUnsafeBytes { writer.appendFrame($0, rtpTimestamp: f.timestamp, into: &out) }
                    emitted += 1
                case .failure: assembler.frameFailed(now: now)
                }
            }
            if out.count > 1 << 20 { out.removeAll(keepingCapacity: true) }
        }
        #expect(assembler.counters.framesEmitted >= UInt64(emitted))
        #expect(emitted > 10, "the chain was exercised")
    }

    @Test("VP8, VP9, H.264 and AV1 chains survive random packets")
    func garbage() {
        run(VP8Depacketizer(), codec: .vp8, seed: 1)
        run(VP9Depacketizer(), codec: .vp9, seed: 2)
        run(H264Depacketizer(), codec: .vp8, seed: 3)  // the IVF writer only frames the bytes
        run(AV1Depacketizer(), codec: .av1, seed: 4)
    }

    @Test("Ogg/Opus writer survives random packets and timestamps")
    func opusGarbage() {
        var rng = TestRNG(state: 5)
        var w = OggOpusWriter(serial: 1)
        var out: [UInt8] = []
        var ts: UInt32 = 0
        var written = 0
        for _ in 0..<20_000 {
            ts &+= rng.next() % 10 == 0 ? UInt32(truncatingIfNeeded: rng.next()) : 960
            let p = rng.bytes(Int(rng.next() % 60))
            do {
                try p.withUnsafeBytes { try w.append($0, rtpTimestamp: ts, into: &out) }
                written += 1
            } catch {}
        }
        w.finish(into: &out)
        #expect(w.packetCount == UInt64(written))
        let pages = OggPage.parse(out)
        #expect(pages != nil)
        // Granules never go back.
        let granules = (pages ?? []).map(\.granule).filter { $0 != -1 }
        #expect(granules == granules.sorted())
    }
}
