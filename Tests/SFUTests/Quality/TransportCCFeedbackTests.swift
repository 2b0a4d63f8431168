import Reactor
import Testing

@testable import SFU

@Suite("Transport-wide congestion control feedback")
struct TransportCCFeedbackTests {
    func us(_ v: UInt64) -> Instant { Instant(nanoseconds: v * 1000) }

    /// Builds the pending feedback and returns its bytes (empty when there was none).
    func build(_ f: inout TransportCCFeedback, now: Instant = qualityT0) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0xEE, count: 2000)
        let n = try buf.withUnsafeMutableBytes { raw in
            var w = RTCPWriter(into: raw)
            f.build(into: &w, senderSSRC: 1, mediaSSRC: 2, now: now)
            return try w.finish()
        }
        return Array(buf[0..<n])
    }

    /// The (sequence, arrival µs) pairs a feedback packet describes.
    func parse(_ bytes: [UInt8]) throws -> [(UInt16, Int64?)] {
        guard !bytes.isEmpty else { return [] }
        var b = bytes
        return try withRTCP(&b) { p -> [(UInt16, Int64?)] in
            guard case .twcc(let t) = p else { return [] }
            var out: [(UInt16, Int64?)] = []
            t.forEachPacket { out.append(($0, $1)) }
            return out
        }.first ?? []
    }

    @Test("feedback from recorded arrivals matches the hand-worked packet, then continues after it")
    func handChecked() throws {
        var f = TransportCCFeedback()
        // 101 lost, 103 arrives before 102's arrival time (reordered on the wire).
        f.record(sequenceNumber: 100, arrival: us(1_000_000))
        f.record(sequenceNumber: 103, arrival: us(1_000_250))
        f.record(sequenceNumber: 102, arrival: us(1_000_500))
        f.record(sequenceNumber: 104, arrival: us(1_100_000))
        #expect(f.isDue(now: qualityT0))
        let bytes = try build(&f)
        #expect(
            bytes == [
                0x8F, 0xCD, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
                0x00, 0x64, 0x00, 0x05, 0x00, 0x00, 0x0F, 0x00,
                0xD1, 0xA0, 0xA0, 0x02, 0xFF, 0xFF, 0x01, 0x8F,
            ])
        #expect(!f.hasPending)
        #expect(try build(&f).isEmpty)
        f.record(sequenceNumber: 105, arrival: us(1_100_250))
        #expect(!f.isDue(now: qualityT0 + .milliseconds(10)))
        #expect(f.isDue(now: qualityT0 + .milliseconds(50)))
        let next = try build(&f, now: qualityT0 + .milliseconds(50))
        #expect(next[19] == 1)  // feedback count
        let pairs = try parse(next)
        #expect(pairs.count == 1 && pairs[0].0 == 105 && pairs[0].1 == 1_100_250)
    }

    @Test("sequence numbers wrap from 65535 to 0 within one feedback")
    func wrap() throws {
        var f = TransportCCFeedback()
        for (i, s) in [65534, 65535, 0, 2].enumerated() {
            f.record(sequenceNumber: UInt16(s), arrival: us(2_000_000 + UInt64(i) * 1000))
        }
        let pairs = try parse(try build(&f))
        #expect(pairs.map(\.0) == [65534, 65535, 0, 1, 2])
        #expect(pairs.map { $0.1 != nil } == [true, true, true, false, true])
        #expect(pairs[4].1 == 2_003_000)
    }

    @Test("a packet arriving after its number was reported is counted, not reported again")
    func late() throws {
        var f = TransportCCFeedback()
        f.record(sequenceNumber: 10, arrival: us(1_000_000))
        f.record(sequenceNumber: 12, arrival: us(1_001_000))
        _ = try build(&f)
        f.record(sequenceNumber: 11, arrival: us(1_002_000))
        #expect(f.lateArrivals == 1)
        #expect(!f.hasPending)
    }

    @Test("a window longer than the ring keeps its newest part; long windows split across feedbacks")
    func bounded() throws {
        var f = TransportCCFeedback(capacity: 16, maxPacketsPerFeedback: 10)
        for s in 0..<40 { f.record(sequenceNumber: UInt16(s), arrival: us(1_000_000 + UInt64(s) * 100)) }
        #expect(f.windowOverflows == 24)
        let first = try parse(try build(&f))
        #expect(first.map(\.0) == Array(24..<34))
        let second = try parse(try build(&f))
        #expect(second.map(\.0) == Array(34..<40))
        // A bogus jump far ahead does not make a huge packet either.
        f.record(sequenceNumber: 30_000, arrival: us(2_000_000))
        let jump = try parse(try build(&f))
        #expect(jump.count <= 10 && jump.last?.0 ?? 0 <= 30_000)
        var rest = 0
        while f.hasPending, rest < 100 {
            _ = try build(&f)
            rest += 1
        }
        #expect(!f.hasPending && rest <= 2)
    }

    @Test("random arrivals with loss and reordering round-trip through RTCPTransportFeedback")
    func randomized() throws {
        var rng = SplitMixRandom(seed: 21)
        var f = TransportCCFeedback()
        var seq = UInt16(truncatingIfNeeded: rng.next())
        var t: UInt64 = 3_000_000
        var expected: [UInt16: Int64] = [:]
        var reported: [UInt16: Int64?] = [:]
        for round in 0..<200 {
            var batch: [UInt16] = []
            for _ in 0..<Int(rng.next() % 30) {
                seq &+= 1
                if rng.next() % 10 != 0 { batch.append(seq) }  // 10 % loss
            }
            if batch.count > 2, rng.next() % 3 == 0 { batch.swapAt(0, 1) }
            for s in batch {
                t += rng.next() % 3000
                f.record(sequenceNumber: s, arrival: us(t))
                expected[s] = Int64(t) / 250 * 250
            }
            for (s, a) in try parse(try build(&f, now: qualityT0 + .milliseconds(UInt64(round) * 50))) {
                reported[s] = a
            }
        }
        for (s, a) in reported {
            if let a { #expect(expected[s] == a) }
        }
        #expect(expected.keys.allSatisfy { reported[$0] != nil })
    }
}
