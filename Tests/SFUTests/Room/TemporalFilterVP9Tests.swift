import Testing

@testable import SFU

/// `TemporalFilter` on VP9 (`TemporalInfo(vp9Packet:)`): frames above the cap held back
/// with sequence numbers renumbered and picture IDs kept with their holes (a VP9 receiver
/// finds references by picture ID distance); the cap goes up after a switching-up (U) frame
/// within it, never at a U frame above it (U is not VP8's Y).
@Suite("Temporal layer filter on VP9")
struct TemporalFilterVP9Tests {
    typealias Out = TemporalFilterTests.Out

    static func run(_ filter: TemporalFilter, _ packets: [L1T3Stream.Packet]) -> [Out] {
        packets.compactMap { p in
            guard let d = filter.admit(sequenceNumber: p.sequence, info: VP9L1T3Stream.info(p.bytes)) else { return nil }
            return Out(
                sequence: p.sequence &- d.sequence, pictureID: (p.pictureID &- d.pictureID) & 0x7FFF, tl0: p.tl0,
                tid: p.tid, input: p.sequence, frame: p.frame)
        }
    }

    static func frames(_ stream: inout VP9L1T3Stream, _ n: Int) throws -> [L1T3Stream.Packet] {
        var all: [L1T3Stream.Packet] = []
        for _ in 0..<n { all += try stream.nextFrame() }
        return all
    }

    /// Sequence numbers +1 a packet; every picture ID as the publisher sent it.
    static func expectRenumbered(_ out: [Out], sourceLocation: SourceLocation = #_sourceLocation) {
        for (a, b) in zip(out, out.dropFirst()) {
            #expect(b.sequence == a.sequence &+ 1, "sequence after \(a.sequence)", sourceLocation: sourceLocation)
        }
    }

    @Test("capped at 0: only TL0 frames, sequence numbers continuous, picture IDs as sent (holes where frames were held back)")
    func capAtZero() throws {
        var stream = VP9L1T3Stream(sequence: 65_500, pictureID: 0x7FF8)
        let packets = try Self.frames(&stream, 40)
        let filter = TemporalFilter(target: 0)
        let out = Self.run(filter, packets)
        #expect(out.allSatisfy { $0.tid == 0 } && out.count == 20, "10 TL0 frames of 2 packets")
        Self.expectRenumbered(out)
        let sent = Dictionary(packets.map { ($0.sequence, $0.pictureID) }, uniquingKeysWith: { a, _ in a })
        #expect(out.allSatisfy { $0.pictureID == sent[$0.input] }, "picture IDs unchanged")
        #expect(Set(out.map(\.pictureID)).count == 10 && out.map(\.pictureID).contains(0), "frame 8's, past the wrap")
        #expect(filter.packetsHeld == 60 && filter.droppedPictures == 0)
    }

    @Test("up after a switching-up frame within the cap: every layer to the target from the next frame")
    func upAfterSwitchingUpWithinCap() throws {
        var stream = VP9L1T3Stream()
        let filter = TemporalFilter(target: 0)
        var out = Self.run(filter, try Self.frames(&stream, 6))  // frames 0-5: 0 and 4 sent
        filter.setTarget(2)
        // Frames 6 (TL1) and 7 (TL2) are above the cap; frame 8 (TL0, U) lifts it.
        let up = Self.run(filter, try Self.frames(&stream, 6))
        #expect(up.map(\.frame) == [8, 8, 9, 9, 10, 10, 11, 11])
        out += up
        filter.setTarget(1)
        out += Self.run(filter, try Self.frames(&stream, 4))  // 12-15: TL2 frames 13 and 15 held
        #expect(out.suffix(4).map(\.frame) == [12, 12, 14, 14])
        Self.expectRenumbered(out)
        #expect(filter.upSwitches == 1)
    }

    @Test("a switching-up frame above the cap does not lift it (VP8's layer-sync rule is not VP9's); without one within the cap it waits for a keyframe")
    func notAtSwitchingUpAboveCap() throws {
        var stream = VP9L1T3Stream()
        // U only on the TL2 and TL1 frames, as older libwebrtc marks L1T3.
        stream.switchingUp = { index, tid in tid > 0 && index % 4 != 3 }
        stream.keyframes = [16]
        let filter = TemporalFilter(target: 0)
        _ = Self.run(filter, try Self.frames(&stream, 4))
        filter.setTarget(2)
        let waiting = Self.run(filter, try Self.frames(&stream, 12))  // frames 4-15
        #expect(waiting.allSatisfy { $0.tid == 0 })
        let after = Self.run(filter, try Self.frames(&stream, 4))  // frame 16: a keyframe
        #expect(after.map(\.frame) == [16, 16, 17, 17, 18, 18, 19, 19])
    }
}
