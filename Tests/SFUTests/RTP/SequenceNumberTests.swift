import Testing

@testable import SFU

@Suite("Sequence numbers")
struct SequenceNumberTests {
    @Test("a number just past the wrap is newer than 65 535, and 65 535 older than it")
    func newerAcrossTheWrap() {
        #expect(SequenceNumber(0).isNewer(than: SequenceNumber(65_535)))
        #expect(SequenceNumber(1).isNewer(than: SequenceNumber(65_535)))
        #expect(!SequenceNumber(65_535).isNewer(than: SequenceNumber(1)))
        #expect(!SequenceNumber(5).isNewer(than: SequenceNumber(5)))
        #expect(SequenceNumber(6).isNewer(than: SequenceNumber(5)))
    }

    @Test("distance is signed and wrap-aware, within -32 768...32 767")
    func distance() {
        #expect(SequenceNumber(2).distance(from: SequenceNumber(65_534)) == 4)
        #expect(SequenceNumber(65_534).distance(from: SequenceNumber(2)) == -4)
        #expect(SequenceNumber(7).distance(from: SequenceNumber(7)) == 0)
        #expect(SequenceNumber(32_767).distance(from: SequenceNumber(0)) == 32_767)
        // Exactly half the number space apart: behind, so newer in neither direction.
        #expect(SequenceNumber(32_768).distance(from: SequenceNumber(0)) == -32_768)
        #expect(SequenceNumber(0).distance(from: SequenceNumber(32_768)) == -32_768)
        #expect(!SequenceNumber(32_768).isNewer(than: SequenceNumber(0)))
        #expect(!SequenceNumber(0).isNewer(than: SequenceNumber(32_768)))
    }

    @Test("advancing wraps both ways")
    func advanced() {
        #expect(SequenceNumber(65_535).advanced(by: 1) == SequenceNumber(0))
        #expect(SequenceNumber(0).advanced(by: -1) == SequenceNumber(65_535))
        #expect(SequenceNumber(10).advanced(by: -256) == SequenceNumber(65_290))
        #expect(SequenceNumber(65_000).advanced(by: 1000).distance(from: SequenceNumber(65_000)) == 1000)
    }

    @Test("every pair: newer one way exactly when not newer the other, except half the space apart")
    func antisymmetric() {
        for a in stride(from: 0, through: 65_535, by: 257) {
            for b in stride(from: 0, through: 65_535, by: 263) {
                let x = SequenceNumber(UInt16(a)), y = SequenceNumber(UInt16(b))
                let half = UInt16(truncatingIfNeeded: a - b) == 0x8000
                #expect(x.isNewer(than: y) != y.isNewer(than: x) || a == b || half)
                #expect(x.advanced(by: y.distance(from: x)) == y)
            }
        }
    }
}
