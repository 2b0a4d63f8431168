import Testing

@testable import SFU

/// `TemporalFilter`: a viewer's cap on VP8 temporal layers holds back the frames above it and
/// renumbers what it sends so sequence numbers and picture IDs run on without a hole; the
/// cap goes down at a frame's start and up only at a switching point (a layer-sync frame or
/// a keyframe); late packets and NACKs get the numbers they had.
@Suite("Temporal layer filter")
struct TemporalFilterTests {
    /// What a viewer got: (output sequence, output picture ID, TL0PICIDX, TID, input sequence).
    struct Out: Equatable {
        var sequence: UInt16
        var pictureID: UInt16
        var tl0: UInt8
        var tid: UInt8
        var input: UInt16
        var frame: Int
    }

    static func run(_ filter: TemporalFilter, _ packets: [L1T3Stream.Packet]) -> [Out] {
        packets.compactMap { p in
            guard let d = filter.admit(sequenceNumber: p.sequence, info: L1T3Stream.info(p.bytes)) else { return nil }
            return Out(
                sequence: p.sequence &- d.sequence, pictureID: (p.pictureID &- d.pictureID) & 0x7FFF, tl0: p.tl0,
                tid: p.tid, input: p.sequence, frame: p.frame)
        }
    }

    static func frames(_ stream: inout L1T3Stream, _ n: Int) throws -> [L1T3Stream.Packet] {
        var all: [L1T3Stream.Packet] = []
        for _ in 0..<n { all += try stream.nextFrame() }
        return all
    }

    /// Sequence numbers +1 a packet; picture IDs the same within a frame and +1 from one to
    /// the next (15 bits); TL0PICIDX +1 from one TL0 frame to the next.
    static func expectContinuous(_ out: [Out], sourceLocation: SourceLocation = #_sourceLocation) {
        for (a, b) in zip(out, out.dropFirst()) {
            #expect(b.sequence == a.sequence &+ 1, "sequence after \(a.sequence)", sourceLocation: sourceLocation)
            if a.frame == b.frame {
                #expect(b.pictureID == a.pictureID, sourceLocation: sourceLocation)
            } else {
                #expect(b.pictureID == (a.pictureID &+ 1) & 0x7FFF, "picture ID after \(a.pictureID)", sourceLocation: sourceLocation)
            }
        }
        let tl0s = out.filter { $0.tid == 0 }.map(\.tl0)
        var last: UInt8?
        for t in tl0s {
            if let l = last { #expect(t == l || t == l &+ 1, sourceLocation: sourceLocation) }
            last = t
        }
    }

    @Test("capped at 0: only TL0 frames, from the next frame on, with sequence numbers, picture IDs (across their wrap) and TL0PICIDX continuous")
    func capAtZero() throws {
        var stream = L1T3Stream(sequence: 65_500, pictureID: 0x7FF8)
        let filter = TemporalFilter(target: 0)
        let out = Self.run(filter, try Self.frames(&stream, 40))
        #expect(out.allSatisfy { $0.tid == 0 })
        #expect(out.count == 20, "10 TL0 frames of 2 packets")
        Self.expectContinuous(out)
        #expect(filter.packetsHeld == 60 && filter.cap == 0)
    }

    @Test("capped at 1: TL0 and TL1 frames, about half the frames, continuous")
    func capAtOne() throws {
        var stream = L1T3Stream()
        let filter = TemporalFilter(target: 1)
        let out = Self.run(filter, try Self.frames(&stream, 40))
        #expect(out.allSatisfy { $0.tid <= 1 } && out.count == 40)
        Self.expectContinuous(out)
    }

    @Test("up from 0 only at a layer-sync frame (step by step to the target), never at a TL0 frame alone; down at the next frame's start")
    func upAtSwitchingPoints() throws {
        var stream = L1T3Stream()
        let filter = TemporalFilter(target: 0)
        var out = Self.run(filter, try Self.frames(&stream, 8))  // frames 0-7
        filter.setTarget(2)
        // Frame 8 is TL0, frame 9 TL2 with Y: the cap goes to 2 there, frame 10 (TL1, Y) and 11 (TL2) follow.
        let next = try Self.frames(&stream, 4)
        let upOut = Self.run(filter, next)
        #expect(upOut.map(\.frame) == [8, 8, 9, 9, 10, 10, 11, 11])
        out += upOut
        // Down at once at the next frame: frames 12 (TL0) and 16 only of the next five.
        filter.setTarget(0)
        out += Self.run(filter, try Self.frames(&stream, 5))
        #expect(out.suffix(4).map(\.frame) == [12, 12, 16, 16])
        Self.expectContinuous(out)
        #expect(filter.upSwitches == 1 && filter.downSwitches >= 2)
    }

    @Test("without layer-sync frames the cap stays down until a keyframe, where every layer may start")
    func noSyncNoUp() throws {
        var stream = L1T3Stream()
        stream.sync = { _, _ in false }
        stream.keyframes = [20]
        let filter = TemporalFilter(target: 0)
        var out = Self.run(filter, try Self.frames(&stream, 4))
        filter.setTarget(2)
        let waiting = Self.run(filter, try Self.frames(&stream, 16))  // frames 4-19: no switching point
        #expect(waiting.allSatisfy { $0.tid == 0 })
        out += waiting
        let after = Self.run(filter, try Self.frames(&stream, 4))  // frame 20: a keyframe
        #expect(after.map(\.frame) == [20, 20, 21, 21, 22, 22, 23, 23])
        out += after
        Self.expectContinuous(out)
    }

    @Test("a cap set in the middle of a frame lets that frame finish")
    func downAtFrameBoundary() throws {
        var stream = L1T3Stream()
        stream.packetsPerFrame = 3
        let filter = TemporalFilter(target: 3)
        var out = Self.run(filter, try Self.frames(&stream, 1))
        let tl2 = try stream.nextFrame()
        out += Self.run(filter, [tl2[0]])
        filter.setTarget(0)
        out += Self.run(filter, Array(tl2[1...]))
        #expect(out.filter { $0.frame == 1 }.count == 3, "the TL2 frame under way is whole")
        out += Self.run(filter, try Self.frames(&stream, 4))
        #expect(out.suffix(3).allSatisfy { $0.frame == 4 })
        Self.expectContinuous(out)
    }

    @Test("late, repeated and reordered packets get the numbers they had; held ones stay held; NACKs map back to the stream's numbers")
    func lateAndNacks() throws {
        var stream = L1T3Stream(sequence: 65_530)
        let filter = TemporalFilter(target: 1)
        let packets = try Self.frames(&stream, 24)
        // Frame 4's two packets swapped in arrival.
        var arrival = packets
        let i = packets.firstIndex { $0.frame == 4 }!
        arrival.swapAt(i, i + 1)
        let out = Self.run(filter, arrival).sorted { Int16(bitPattern: $0.input &- $1.input) < 0 }
        Self.expectContinuous(out)
        // Everything again, late: the same answers.
        let again = Self.run(filter, packets.suffix(200))
        #expect(again.map(\.sequence).sorted() == out.suffix(again.count).map(\.sequence).sorted())
        for o in out.suffix(100) {
            #expect(filter.inputSequence(forOutput: o.sequence) == o.input)
        }
        let next = out.last!.sequence &+ 1
        #expect(filter.inputSequence(forOutput: next) == nil, "not sent yet")
        #expect(filter.inputSequence(forOutput: out.first!.sequence &- 2000) == nil, "too old")
    }

    /// Found by the `temporal` fuzz target: the number the stream started at was kept, and
    /// 32 768 packets later every number compared as "before the stream" (16-bit distances),
    /// so repeats, repairs and NACKs went unanswered (at 300 packets/s, after two minutes).
    @Test("after more than 32 768 packets, late packets still get the numbers they had and NACKs still map back")
    func longStream() throws {
        var stream = L1T3Stream(sequence: 100)
        let filter = TemporalFilter(target: 1)
        var last: [Out] = []
        var packets: [L1T3Stream.Packet] = []
        while stream.sequence &- 100 < 40_000 {
            packets = try Self.frames(&stream, 24)
            last = Self.run(filter, packets)
        }
        let again = Self.run(filter, Array(packets.suffix(20)))
        #expect(!again.isEmpty)
        #expect(again.map(\.sequence) == last.suffix(again.count).map(\.sequence))
        for o in last.suffix(20) { #expect(filter.inputSequence(forOutput: o.sequence) == o.input) }
    }

    @Test("a packet lost upstream inside a held frame is held too; one lost at a sent frame's edge keeps its number for a repair")
    func lossUpstream() throws {
        var stream = L1T3Stream()
        stream.packetsPerFrame = 3
        let filter = TemporalFilter(target: 0)
        var packets = try Self.frames(&stream, 12)
        // Lose the middle packet of frame 5 (TL2, held) and the last of frame 8 (TL0, sent).
        let heldMiddle = packets.firstIndex { $0.frame == 5 }! + 1
        let sentLast = packets.firstIndex { $0.frame == 8 }! + 2
        let repair = packets[sentLast]
        packets.remove(at: sentLast)
        packets.remove(at: heldMiddle)
        var out = Self.run(filter, packets)
        // The gap the lost TL0 packet leaves is its own number; its repair fills it.
        out += Self.run(filter, [repair])
        out.sort { Int16(bitPattern: $0.input &- $1.input) < 0 }
        #expect(out.allSatisfy { $0.tid == 0 })
        Self.expectContinuous(out)
    }

    @Test("a viewer's stream starting over (a move to another layer) folds what was held back into its offsets; a filter capping nothing goes")
    func startingOver() throws {
        var stream = L1T3Stream()
        let session = try FanoutTemporalTests.viewerSession(index: 0)
        let track = ViewerTrack(session: session.0, kind: .video, media: FanoutTemporalTests.media())
        track.setTemporalCap(0)
        let filter = try #require(track.temporal)
        _ = Self.run(filter, try Self.frames(&stream, 9))
        let held = filter.droppedPackets
        let pictures = filter.droppedPictures
        #expect(held == 12 && pictures == 6)
        let o = track.offsetsStartingOver()
        #expect(o.sequence == 0 &- held && o.pictureID == 0 &- pictures)
        #expect(track.temporal === filter && filter.droppedPackets == 0 && filter.cap == 0)
        track.setTemporalCap(nil)
        _ = track.offsetsStartingOver()
        #expect(track.temporal == nil)
        withExtendedLifetime(session) {}
    }
}
