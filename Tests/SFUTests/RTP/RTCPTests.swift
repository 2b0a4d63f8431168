import Reactor
import Testing

@testable import SFU

/// Writes RTCP with `body` into a fresh buffer and returns the bytes.
func buildRTCP(_ body: (inout RTCPWriter) -> Void) throws -> [UInt8] {
    var buf = [UInt8](repeating: 0xEE, count: 4000)
    let n = try buf.withUnsafeMutableBytes { raw in
        var w = RTCPWriter(into: raw)
        body(&w)
        return try w.finish()
    }
    return Array(buf[0..<n])
}

/// Parses a compound and returns its packets mapped through `body` while the bytes live.
func withRTCP<R>(_ bytes: inout [UInt8], _ body: (RTCPPacket) throws -> R) throws -> [R] {
    try bytes.withUnsafeMutableBytes { raw in
        let c = try RTCPCompound(parsing: raw)
        var out: [R] = []
        for p in c { out.append(try body(p)) }
        #expect(out.count == c.packetCount)
        return out
    }
}

func parseRTCPError(_ bytes: [UInt8]) -> RTCPError? {
    bytes.withUnsafeBytes { raw in
        do throws(RTCPError) {
            _ = try RTCPCompound(parsing: raw)
            return nil
        } catch { return error }
    }
}

@Suite("RTCP packets")
struct RTCPTests {
    func randomBlock(_ rng: inout SplitMixRandom) -> RTCPReportBlock {
        RTCPReportBlock(
            ssrc: UInt32(truncatingIfNeeded: rng.next()), fractionLost: UInt8(truncatingIfNeeded: rng.next()),
            cumulativeLost: Int32(truncatingIfNeeded: Int64(rng.next() % 0x100_0000) - 0x80_0000),
            extendedHighestSequence: UInt32(truncatingIfNeeded: rng.next()), jitter: UInt32(truncatingIfNeeded: rng.next()),
            lastSenderReport: UInt32(truncatingIfNeeded: rng.next()),
            delaySinceLastSenderReport: UInt32(truncatingIfNeeded: rng.next()))
    }

    @Test("SR + SDES + RR + BYE compounds round-trip every field (seeded random)")
    func reportsRoundTrip() throws {
        var rng = SplitMixRandom(seed: 11)
        for _ in 0..<200 {
            let ssrc = UInt32(truncatingIfNeeded: rng.next())
            let ntp = rng.next()
            let rtp = UInt32(truncatingIfNeeded: rng.next())
            let blocks = (0..<Int(rng.next() % 4)).map { _ in randomBlock(&rng) }
            let rrBlocks = (0..<Int(rng.next() % 4)).map { _ in randomBlock(&rng) }
            let cname = String((0..<Int(rng.next() % 40 + 1)).map { _ in Character(Unicode.Scalar(UInt8(65 + rng.next() % 26))) })
            let byes = (0..<Int(rng.next() % 3 + 1)).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
            var bytes = try buildRTCP { w in
                w.addSenderReport(ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: rtp, packetCount: 7, octetCount: 9, reports: blocks)
                w.addSourceDescription(ssrc: ssrc, cname: cname)
                w.addReceiverReport(ssrc: ssrc &+ 1, reports: rrBlocks)
                w.addBye(ssrcs: byes)
            }
            #expect(bytes.count % 4 == 0)
            let seen = try withRTCP(&bytes) { p -> Int in
                switch p {
                case .senderReport(let sr):
                    #expect(sr.ssrc == ssrc && sr.ntpTimestamp == ntp && sr.rtpTimestamp == rtp)
                    #expect(sr.packetCount == 7 && sr.octetCount == 9)
                    #expect((0..<sr.reportCount).map { sr.reportBlock(at: $0) } == blocks)
                    return 1
                case .sdes(let s):
                    #expect(s.cname(of: ssrc) == cname)
                    return 2
                case .receiverReport(let rr):
                    #expect(rr.ssrc == ssrc &+ 1)
                    #expect((0..<rr.reportCount).map { rr.reportBlock(at: $0) } == rrBlocks)
                    return 3
                case .bye(let b):
                    #expect((0..<b.ssrcCount).map { b.ssrc(at: $0) } == byes)
                    return 4
                default:
                    return 0
                }
            }
            #expect(seen == [1, 2, 3, 4])
        }
    }

    @Test("NACK from a lost list round-trips through PID/BLP pairs, across the sequence wrap")
    func nackRoundTrip() throws {
        var rng = SplitMixRandom(seed: 12)
        for _ in 0..<300 {
            var s = UInt16(truncatingIfNeeded: rng.next())
            var lost: [UInt16] = []
            for _ in 0..<Int(rng.next() % 40 + 1) {
                lost.append(s)
                s &+= UInt16(rng.next() % 20 + 1)
            }
            var bytes = try buildRTCP { $0.addNack(senderSSRC: 1, mediaSSRC: 2, lost: lost) }
            let got = try withRTCP(&bytes) { p -> [UInt16] in
                guard case .nack(let n) = p else { return [] }
                #expect(n.senderSSRC == 1 && n.mediaSSRC == 2)
                var l: [UInt16] = []
                n.forEachLostSequence { l.append($0) }
                return l
            }
            #expect(got == [lost])
        }
        // A hand-worked one: 100, 101, 103, 117 → (100, 0b101), (117, 0).
        var bytes = try buildRTCP { $0.addNack(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 103, 117]) }
        #expect(bytes == [0x81, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0, 0b101, 0, 117, 0, 0])
        _ = try withRTCP(&bytes) { _ in }
    }

    @Test("PLI, FIR and REMB build and parse; REMB keeps 18 bits of mantissa")
    func keyframeRequests() throws {
        var bytes = try buildRTCP { w in
            w.addPictureLossIndication(senderSSRC: 5, mediaSSRC: 6)
            w.addFullIntraRequest(senderSSRC: 5, mediaSSRC: 7, sequenceNumber: 9)
            w.addRemb(senderSSRC: 5, bitrate: 2_500_000, ssrcs: [6, 7])
        }
        let kinds = try withRTCP(&bytes) { p -> String in
            switch p {
            case .pli(let x):
                #expect(x.senderSSRC == 5 && x.mediaSSRC == 6)
                return "pli"
            case .fir(let x):
                #expect(x.senderSSRC == 5 && x.entryCount == 1)
                #expect(x.entry(at: 0).ssrc == 7 && x.entry(at: 0).sequenceNumber == 9)
                return "fir"
            case .remb(let x):
                #expect(x.senderSSRC == 5 && x.ssrcCount == 2 && x.ssrc(at: 1) == 7)
                // 2 500 000 = 0x2625A0 needs 22 bits: exponent 4, mantissa 156250.
                #expect(x.bitrate == 2_500_000)
                return "remb"
            default:
                return "other"
            }
        }
        #expect(kinds == ["pli", "fir", "remb"])
        var rng = SplitMixRandom(seed: 13)
        for _ in 0..<200 {
            let br = rng.next() >> (rng.next() % 64)
            var b = try buildRTCP { $0.addRemb(senderSSRC: 1, bitrate: br, ssrcs: [1]) }
            _ = try withRTCP(&b) { p in
                guard case .remb(let r) = p else { Issue.record("not REMB"); return }
                #expect(r.bitrate <= br)
                #expect(br - r.bitrate < max(1, br >> 17))
            }
        }
    }

    @Test("SSRC setters rewrite SR, RR, NACK, PLI, FIR and TWCC in place for forwarding")
    func ssrcRewrite() throws {
        var bytes = try buildRTCP { w in
            w.addSenderReport(ssrc: 1, ntpTimestamp: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5)
            w.addReceiverReport(ssrc: 1, reports: [RTCPReportBlock(ssrc: 10)])
            w.addNack(senderSSRC: 1, mediaSSRC: 10, lost: [1])
            w.addPictureLossIndication(senderSSRC: 1, mediaSSRC: 10)
            w.addFullIntraRequest(senderSSRC: 1, mediaSSRC: 10, sequenceNumber: 1)
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 10, baseSequence: 0, feedbackCount: 0,
                                   arrivals: [Instant(nanoseconds: 5_000_000)])
        }
        _ = try withRTCP(&bytes) { p in
            switch p {
            case .senderReport(let x): x.ssrc = 100; x.rtpTimestamp = 300
            case .receiverReport(let x): x.ssrc = 100; x.setReportBlockSSRC(1000, at: 0)
            case .nack(let x): x.senderSSRC = 100; x.mediaSSRC = 1000
            case .pli(let x): x.senderSSRC = 100; x.mediaSSRC = 1000
            case .fir(let x): x.senderSSRC = 100; x.setEntrySSRC(1000, at: 0)
            case .twcc(let x): x.senderSSRC = 100; x.mediaSSRC = 1000
            default: Issue.record("unexpected packet")
            }
        }
        _ = try withRTCP(&bytes) { p in
            switch p {
            case .senderReport(let x): #expect(x.ssrc == 100 && x.rtpTimestamp == 300)
            case .receiverReport(let x): #expect(x.ssrc == 100 && x.reportBlock(at: 0).ssrc == 1000)
            case .nack(let x): #expect(x.senderSSRC == 100 && x.mediaSSRC == 1000)
            case .pli(let x): #expect(x.senderSSRC == 100 && x.mediaSSRC == 1000)
            case .fir(let x): #expect(x.senderSSRC == 100 && x.entry(at: 0).ssrc == 1000)
            case .twcc(let x): #expect(x.senderSSRC == 100 && x.mediaSSRC == 1000)
            default: Issue.record("unexpected packet")
            }
        }
    }

    @Test("TWCC build matches a hand-worked packet (two-bit vector, negative and large deltas)")
    func twccHandWorked() throws {
        // Arrivals (µs): 100 at 1 000 000, 101 lost, 102 at 1 000 500, 103 at 1 000 250,
        // 104 at 1 100 000. Reference time 15 × 64 ms = 960 000 µs.
        // Symbols [small, lost, small, large, large] → one two-bit vector chunk:
        // 11 01 00 01 10 10 00 00 = 0xD1A0. Deltas (250 µs): +160 (A0), +2 (02), -1 (FFFF),
        // +399 (018F). 28 bytes: no padding needed.
        let us: [UInt64?] = [1_000_000, nil, 1_000_500, 1_000_250, 1_100_000]
        let bytes = try buildRTCP { w in
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 100, feedbackCount: 5,
                                   arrivals: us.map { $0.map { Instant(nanoseconds: $0 * 1000) } })
        }
        #expect(bytes == [
            0x8F, 0xCD, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
            0x00, 0x64, 0x00, 0x05, 0x00, 0x00, 0x0F, 0x05,
            0xD1, 0xA0, 0xA0, 0x02, 0xFF, 0xFF, 0x01, 0x8F,
        ])
        var b = bytes
        let parsed = try withRTCP(&b) { p -> [Int64?] in
            guard case .twcc(let t) = p else { return [] }
            #expect(t.baseSequence == 100 && t.statusCount == 5 && t.referenceTime == 15 && t.feedbackCount == 5)
            var seqs: [UInt16] = []
            var times: [Int64?] = []
            t.forEachPacket { s, a in
                seqs.append(s)
                times.append(a)
            }
            #expect(seqs == [100, 101, 102, 103, 104])
            return times
        }
        #expect(parsed.first == us.map { $0.map { Int64($0) } })
    }

    @Test("TWCC uses run-length chunks for long runs and one-bit vectors for loss patterns")
    func twccChunks() throws {
        let t0: UInt64 = 64_000_000  // 1 × 64 ms in ns
        let run = try buildRTCP { w in
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, feedbackCount: 0,
                                   arrivals: [Instant?](repeating: Instant(nanoseconds: t0), count: 20))
        }
        #expect(Array(run[20..<22]) == [0x20, 0x14])  // run-length, small delta, 20
        // 20 + 2 + 20 delta bytes = 42: two bytes of RTCP padding, P bit set, count 2.
        #expect(run.count == 44 && run[0] == 0xAF && run[3] == 10)
        #expect(Array(run[22..<24]) == [0, 0] && Array(run[41..<44]) == [0, 0, 2])
        let pattern = try buildRTCP { w in
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, feedbackCount: 0,
                                   arrivals: (0..<8).map { $0 % 2 == 0 ? Instant(nanoseconds: t0) : nil })
        }
        #expect(Array(pattern[20..<22]) == [0xAA, 0x80])  // one-bit vector 1010 1010 0000 00
    }

    @Test("TWCC build then parse gives back arrival times to 250 µs (seeded random)")
    func twccRoundTrip() throws {
        var rng = SplitMixRandom(seed: 14)
        for _ in 0..<300 {
            let n = Int(rng.next() % 300 + 1)
            var t: UInt64 = 10_000_000_000 + rng.next() % 1_000_000_000
            var arrivals: [Instant?] = []
            for _ in 0..<n {
                if rng.next() % 4 == 0 {
                    arrivals.append(nil)
                } else {
                    // Mostly small steps, sometimes reordering or a long gap.
                    switch rng.next() % 10 {
                    case 0: t -= min(t, rng.next() % 5_000_000)
                    case 1: t += rng.next() % 2_000_000_000
                    default: t += rng.next() % 20_000_000
                    }
                    arrivals.append(Instant(nanoseconds: t))
                }
            }
            if arrivals.allSatisfy({ $0 == nil }) { arrivals[0] = Instant(nanoseconds: t) }
            let base = UInt16(truncatingIfNeeded: rng.next())
            var bytes = try buildRTCP { w in
                w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: base, feedbackCount: 3, arrivals: arrivals)
            }
            let got = try withRTCP(&bytes) { p -> [Int64?] in
                guard case .twcc(let f) = p else { return [] }
                var out: [Int64?] = []
                var expectSeq = base
                f.forEachPacket { s, a in
                    #expect(s == expectSeq)
                    expectSeq &+= 1
                    out.append(a)
                }
                return out
            }
            let expected = arrivals.map { $0.map { Int64($0.nanoseconds / 1000) / 250 * 250 } }
            #expect(got == [expected])
        }
    }

    @Test("truncated compounds, bad versions, lying lengths and short bodies are rejected")
    func badInput() throws {
        let good = try buildRTCP { w in
            w.addReceiverReport(ssrc: 1, reports: [RTCPReportBlock(ssrc: 2)])
            w.addPictureLossIndication(senderSSRC: 1, mediaSSRC: 2)
        }
        #expect(parseRTCPError([]) == .truncated(offset: 0, count: 0))
        #expect(parseRTCPError(Array(good[0..<3])) == .truncated(offset: 0, count: 3))
        #expect(parseRTCPError(Array(good[0..<good.count - 1])) == .lengthOverrun(offset: 32, declared: 12, available: 11))
        var v = good
        v[0] = 0x41
        #expect(parseRTCPError(v) == .badVersion(1))
        var count = good
        count[0] = 0x82  // two report blocks in a one-block packet
        #expect(parseRTCPError(count) == .malformed(packetType: 201, format: 2))
        var pad = good
        pad[32] |= 0x20
        pad[pad.count - 1] = 40
        #expect(parseRTCPError(pad) == .badPadding(offset: 32))
        // TWCC whose status count needs more chunks than the packet has.
        var twcc = try buildRTCP { w in
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, feedbackCount: 0,
                                   arrivals: [Instant(nanoseconds: 1_000_000)])
        }
        twcc[14] = 0x7F
        #expect(parseRTCPError(twcc) == .malformed(packetType: 205, format: 15))
    }

    @Test("writers report a full buffer and bad arguments instead of writing past them")
    func writerErrors() {
        var small = [UInt8](repeating: 0, count: 10)
        small.withUnsafeMutableBytes { raw in
            var w = RTCPWriter(into: raw)
            w.addPictureLossIndication(senderSSRC: 1, mediaSSRC: 2)
            #expect(throws: RTCPError.bufferTooSmall(needed: 12, capacity: 10)) { _ = try w.finish() }
        }
        #expect(throws: RTCPError.invalidArgument) {
            _ = try buildRTCP { $0.addNack(senderSSRC: 1, mediaSSRC: 2, lost: [UInt16]()) }
        }
        #expect(throws: RTCPError.invalidArgument) {
            _ = try buildRTCP { $0.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, feedbackCount: 0, arrivals: [nil]) }
        }
    }

    @Test("random bytes never crash the RTCP parser or any view")
    func garbage() throws {
        var rng = SplitMixRandom(seed: 15)
        let seedPackets = try buildRTCP { w in
            w.addSenderReport(ssrc: 1, ntpTimestamp: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5,
                              reports: [RTCPReportBlock(ssrc: 9)])
            w.addSourceDescription(ssrc: 1, cname: "abc")
            w.addNack(senderSSRC: 1, mediaSSRC: 2, lost: [1, 5, 40])
            w.addRemb(senderSSRC: 1, bitrate: 1_000_000, ssrcs: [2])
            w.addTransportFeedback(senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, feedbackCount: 0,
                                   arrivals: [Instant(nanoseconds: 1_000_000), nil, Instant(nanoseconds: 900_000)])
        }
        for i in 0..<20_000 {
            var b: [UInt8]
            if i % 2 == 0 {
                b = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if !b.isEmpty { b[0] = 0x80 | (b[0] & 0x3F) }
                if b.count > 1 { b[1] = UInt8(200 + rng.next() % 7) }
            } else {
                b = seedPackets
                for _ in 0..<Int(rng.next() % 4 + 1) {
                    b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { b = Array(b[0..<Int(rng.next() % UInt64(b.count))]) }
            }
            b.withUnsafeMutableBytes { raw in
                guard let c = try? RTCPCompound(parsing: raw) else { return }
                for p in c {
                    switch p {
                    case .senderReport(let x): for k in 0..<x.reportCount { _ = x.reportBlock(at: k) }
                    case .receiverReport(let x): for k in 0..<x.reportCount { _ = x.reportBlock(at: k) }
                    case .sdes(let x): x.forEachItem { _, _, _ in }
                    case .bye(let x): for k in 0..<x.ssrcCount { _ = x.ssrc(at: k) }
                    case .nack(let x): x.forEachLostSequence { _ in }
                    case .pli(let x): _ = x.mediaSSRC
                    case .fir(let x): for k in 0..<x.entryCount { _ = x.entry(at: k) }
                    case .remb(let x): _ = x.bitrate; for k in 0..<x.ssrcCount { _ = x.ssrc(at: k) }
                    case .twcc(let x): x.forEachPacket { _, _ in }
                    case .other(let h): _ = h.packetType
                    }
                }
            }
        }
    }
}
