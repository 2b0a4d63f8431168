import Reactor
import Testing

@testable import SFU

@Suite("Packet history ring")
struct PacketHistoryTests {
    func store(_ h: PacketHistory, _ seq: UInt16, at t: Instant = qualityT0) {
        let p = qualityRTP(seq: seq, payload: [UInt8(truncatingIfNeeded: seq), 9])
        p.withUnsafeBytes { #expect(h.store($0, sequenceNumber: seq, now: t)) }
    }

    func lookup(_ h: PacketHistory, _ seq: UInt16, at t: Instant = qualityT0) -> [UInt8]? {
        h.packet(sequenceNumber: seq, now: t).map { Array($0) }
    }

    @Test("a stored packet comes back byte for byte under its sequence number")
    func storeAndFind() {
        let h = PacketHistory(slotCount: 16)
        store(h, 100)
        #expect(lookup(h, 100) == qualityRTP(seq: 100, payload: [100, 9]))
        #expect(lookup(h, 101) == nil)
        #expect(h.newestSequenceNumber == 100)
    }

    @Test("the ring keeps the newest slotCount packets across the 16-bit wrap")
    func wrapAround() {
        let h = PacketHistory(slotCount: 16)
        for i in 0..<40 { store(h, 65520 &+ UInt16(i)) }  // 65520 … 65535, 0 … 23
        let newest: UInt16 = 23
        #expect(h.newestSequenceNumber == newest)
        for back in 0..<16 {
            let s = newest &- UInt16(back)
            #expect(lookup(h, s).map { Array($0.suffix(2)) } == [UInt8(truncatingIfNeeded: s), 9])
        }
        // Overwritten ones (same slot, older numbers) are gone.
        #expect(lookup(h, newest &- 16) == nil)
        #expect(lookup(h, 65535) == nil)
        #expect(lookup(h, 65520) == nil)
    }

    @Test("future numbers and numbers a full wrap away are never answered from a stale slot")
    func futureAndStale() {
        let h = PacketHistory(slotCount: 16)
        store(h, 5)
        #expect(lookup(h, 6) == nil)  // future
        #expect(lookup(h, 5 &+ 16) == nil)  // same slot, future
        #expect(lookup(h, 5 &- 16) == nil)  // same slot, older
        // A gap leaves slot 7 holding 7 while the newest moves far ahead: 7 is too old now.
        store(h, 7)
        store(h, 7 &+ 1000)
        #expect(lookup(h, 7) == nil)
        #expect(lookup(h, 7 &+ 1000) != nil)
    }

    @Test("packets older than maxAge are not answered")
    func maxAge() {
        let h = PacketHistory(slotCount: 16, maxAge: .seconds(2))
        store(h, 1, at: qualityT0)
        #expect(lookup(h, 1, at: qualityT0 + .milliseconds(1999)) != nil)
        #expect(lookup(h, 1, at: qualityT0 + .milliseconds(2001)) == nil)
    }

    @Test("oversized packets are refused and counted; the empty ring answers nothing")
    func oversized() {
        let h = PacketHistory(slotCount: 16, slotSize: 20)
        #expect(lookup(h, 0) == nil)
        let p = qualityRTP(seq: 1, payload: [UInt8](repeating: 7, count: 100))
        p.withUnsafeBytes { #expect(!h.store($0, sequenceNumber: 1, now: qualityT0)) }
        #expect(h.tooLarge == 1)
        #expect(lookup(h, 1) == nil)
        #expect(h.misses == 2)
    }

    @Test("random stores and lookups only ever return the packet asked for")
    func randomized() {
        var rng = SplitMixRandom(seed: 6)
        let h = PacketHistory(slotCount: 64)
        var seq: UInt16 = UInt16(truncatingIfNeeded: rng.next())
        for _ in 0..<5000 {
            seq &+= UInt16(rng.next() % 3)  // gaps and duplicates
            store(h, seq)
            let ask = seq &- UInt16(truncatingIfNeeded: rng.next() % 200) &+ 50
            if let got = lookup(h, ask) {
                #expect(got.withUnsafeBytes { WireBytes.u16($0, 2) } == ask)
                #expect(got.last == 9 && got[got.count - 2] == UInt8(truncatingIfNeeded: ask))
            }
        }
    }

    @Test("a history grown larger keeps every packet (and its age) of the smaller one, across the wrap")
    func growKeepsPackets() {
        let small = PacketHistory(slotCount: 16, maxAge: .seconds(2))
        for i in 0..<24 { store(small, 65530 &+ UInt16(i), at: qualityT0 + .milliseconds(UInt64(i))) }  // … 17
        let big = PacketHistory(slotCount: 64, maxAge: .seconds(2))
        big.copyPackets(from: small)
        #expect(big.newestSequenceNumber == 17)
        for back in 0..<16 {
            let s: UInt16 = 17 &- UInt16(back)
            #expect(lookup(big, s).map { Array($0.suffix(2)) } == [UInt8(truncatingIfNeeded: s), 9])
        }
        #expect(lookup(big, 1) == nil)  // already overwritten in the small ring
        // Stored times are kept: the oldest copied packet (65536+2 = 2, stored at +8 ms)
        // expires 2 s after it was first stored, not after the copy.
        #expect(lookup(big, 2, at: qualityT0 + .milliseconds(2008)) != nil)
        #expect(lookup(big, 2, at: qualityT0 + .milliseconds(2009)) == nil)
        // It goes on like any ring.
        store(big, 18)
        #expect(big.newestSequenceNumber == 18 && lookup(big, 10) != nil)
        let empty = PacketHistory(slotCount: 64)
        empty.copyPackets(from: PacketHistory(slotCount: 16))
        #expect(empty.newestSequenceNumber == nil)
    }

    @Test("a history shrunk smaller keeps the newest packets it can hold, across the wrap")
    func shrink() {
        let big = PacketHistory(slotCount: 64, maxAge: .seconds(2))
        for i in 0..<70 { store(big, 65500 &+ UInt16(i), at: qualityT0 + .milliseconds(UInt64(i))) }  // … 33
        let small = PacketHistory(slotCount: 16, maxAge: .seconds(2))
        small.copyPackets(from: big)
        #expect(small.newestSequenceNumber == 33)
        for back in 0..<16 {
            let s: UInt16 = 33 &- UInt16(back)
            #expect(lookup(small, s).map { Array($0.suffix(2)) } == [UInt8(truncatingIfNeeded: s), 9])
        }
        #expect(lookup(small, 17) == nil)  // beyond the small ring's span
        store(small, 34)
        #expect(lookup(small, 34) != nil && lookup(small, 18) == nil && lookup(small, 19) != nil)
    }
    /// A packet of `length` bytes whose every byte says which sequence number it is.
    func sized(_ seq: UInt16, _ length: Int) -> [UInt8] {
        [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: length)
    }

    @Test("small packets share the arena: it holds as many as their bytes allow, not a slot each")
    func arenaHoldsByBytes() {
        let h = PacketHistory(slotCount: 64, slotSize: 1500, byteCapacity: 2000)
        for seq: UInt16 in 1...30 { sized(seq, 100).withUnsafeBytes { _ = h.store($0, sequenceNumber: seq, now: qualityT0) } }
        // 2000 bytes hold the newest 20 packets of 100 bytes; the 10 before were overwritten.
        for seq: UInt16 in 11...30 { #expect(lookup(h, seq) == sized(seq, 100)) }
        for seq: UInt16 in 1...10 { #expect(lookup(h, seq) == nil) }
    }

    @Test("a packet that would straddle the arena's end starts again at its beginning, intact")
    func arenaWrapsWhole() {
        let h = PacketHistory(slotCount: 16, slotSize: 600, byteCapacity: 1000)
        sized(1, 600).withUnsafeBytes { _ = h.store($0, sequenceNumber: 1, now: qualityT0) }
        sized(2, 600).withUnsafeBytes { _ = h.store($0, sequenceNumber: 2, now: qualityT0) }  // at 0: overwrites 1
        #expect(lookup(h, 2) == sized(2, 600))
        #expect(lookup(h, 1) == nil)
        sized(3, 300).withUnsafeBytes { _ = h.store($0, sequenceNumber: 3, now: qualityT0) }  // after 2
        #expect(lookup(h, 2) == sized(2, 600) && lookup(h, 3) == sized(3, 300))
        #expect(h.justStored(sequenceNumber: 3).elementsEqual(sized(3, 300)))
    }

    @Test("random sizes, gaps, duplicates and reordering: a lookup returns the packet asked for or nothing")
    func arenaRandomized() {
        var rng = SplitMixRandom(seed: 11)
        let h = PacketHistory(slotCount: 64, slotSize: 1500, byteCapacity: 20_000)
        var model: [UInt16: [UInt8]] = [:]
        var seq: UInt16 = 65000
        var answered = 0
        for _ in 0..<20_000 {
            let s = seq &+ UInt16(rng.next() % 4) &- 1  // duplicates and reordering
            seq &+= UInt16(rng.next() % 3)
            let p = sized(s, 12 + Int(rng.next() % 1489))
            p.withUnsafeBytes { #expect(h.store($0, sequenceNumber: s, now: qualityT0)) }
            model[s] = p
            let ask = seq &- UInt16(truncatingIfNeeded: rng.next() % 100) &+ 5
            if let got = lookup(h, ask) {
                #expect(got == model[ask])
                answered += 1
            }
        }
        #expect(answered > 1000)  // the newest packets are found
    }

    @Test("copying into a smaller arena keeps the newest packets that fit")
    func arenaShrinkKeepsNewest() {
        let big = PacketHistory(slotCount: 64, slotSize: 1500, byteCapacity: 64 * 1000)
        for seq: UInt16 in 1...60 { sized(seq, 1000).withUnsafeBytes { _ = big.store($0, sequenceNumber: seq, now: qualityT0) } }
        let small = PacketHistory(slotCount: 64, slotSize: 1500, byteCapacity: 10 * 1000)
        small.copyPackets(from: big)
        for seq: UInt16 in 51...60 { #expect(lookup(small, seq) == sized(seq, 1000)) }
        #expect(lookup(small, 50) == nil)
        #expect(small.stored == 0)  // copies are not packets the track sent
    }

    @Test("a packet stays intact until the arena has taken byteCapacity - slotSize more bytes")
    func intactWindow() {
        let h = PacketHistory(slotCount: 64, slotSize: 1000, byteCapacity: 5000)
        sized(1, 700).withUnsafeBytes { _ = h.store($0, sequenceNumber: 1, now: qualityT0) }
        let start = h.written - 700
        var seq: UInt16 = 2
        // Whatever the sizes, while `written - start <= byteCapacity - slotSize` packet 1 is intact.
        var rng = SplitMixRandom(seed: 3)
        while true {
            let n = 1 + Int(rng.next() % 1000)
            if h.written - start + UInt64(n) > UInt64(h.byteCapacity - h.slotSize) { break }
            sized(seq, n).withUnsafeBytes { _ = h.store($0, sequenceNumber: seq, now: qualityT0) }
            seq += 1
            #expect(lookup(h, 1) == sized(1, 700))
        }
    }
}
