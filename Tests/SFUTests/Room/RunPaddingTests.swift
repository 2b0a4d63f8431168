import Reactor
import Testing

@testable import SFU

/// `RunPadding`: a frame split as libwebrtc splits it (last packets one byte larger) leaves to
/// each viewer as equal-sized datagrams, one GSO run, and decodes to the same payloads.
@Suite("Run padding")
struct RunPaddingTests {
    /// An RTP packet of `length` bytes: timestamp `timestamp`, `padding` bytes of RTP padding.
    static func packet(sequence: UInt16, timestamp: UInt32, length: Int, padding: Int = 0) -> [UInt8] {
        var p: [UInt8] = [padding > 0 ? 0xA0 : 0x80, 96, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        p += [UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF)]
        p += [0, 0, 0, 9]
        p += (0..<(length - 12 - padding)).map { UInt8(truncatingIfNeeded: Int(sequence) &* 31 &+ $0) }
        if padding > 0 { p += [UInt8](repeating: 0, count: padding - 1) + [UInt8(padding)] }
        return p
    }

    static func plan(_ packets: [[UInt8]]) -> (any: Bool, pads: [Int]) {
        let buffers = packets.map { p in
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: p.count, alignment: 1)
            b.copyBytes(from: p)
            return UnsafeRawBufferPointer(b)
        }
        defer { buffers.forEach { $0.deallocate() } }
        let pads = UnsafeMutablePointer<UInt8>.allocate(capacity: packets.count)
        defer { pads.deallocate() }
        let any = buffers.withUnsafeBufferPointer { RunPadding.plan($0.baseAddress!, count: packets.count, into: pads) }
        return (any, (0..<packets.count).map { Int(pads[$0]) })
    }

    @Test("libwebrtc's split (last packets a byte larger) is padded to the frame's longest; the frame's last packet and other frames are left as they are")
    func plansEqualSizes() {
        let frames = [[963, 963, 963, 964], [700, 701, 701], [1200]]
        var packets: [[UInt8]] = []
        for (f, sizes) in frames.enumerated() {
            for n in sizes { packets.append(Self.packet(sequence: UInt16(packets.count), timestamp: UInt32(f * 3000), length: n)) }
        }
        let r = Self.plan(packets)
        #expect(r.any)
        #expect(r.pads == [1, 1, 1, 0, 1, 0, 0, 0])
    }

    @Test("a shorter last packet, a gap over the limit and packets already padded get none")
    func leavesOthers() {
        let shortLast = [1200, 1200, 300].enumerated().map { Self.packet(sequence: UInt16($0), timestamp: 0, length: $1) }
        #expect(Self.plan(shortLast).any == false)
        let wide = [1000, 1000 + RunPadding.maximumBytes + 1].enumerated().map { Self.packet(sequence: UInt16($0), timestamp: 0, length: $1) }
        #expect(Self.plan(wide).pads == [0, 0])
        let alreadyPadded = [Self.packet(sequence: 0, timestamp: 0, length: 500, padding: 4), Self.packet(sequence: 1, timestamp: 0, length: 502)]
        #expect(Self.plan(alreadyPadded).pads == [0, 0])
    }

    @Test("a viewer gets a libwebrtc-split frame as equal-sized SRTP datagrams whose payloads are the publisher's")
    func fanoutPadsCopies() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 64))
        let now = Instant(nanoseconds: 1_000_000_000)
        let media = FanoutTemporalTests.media()
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        fanout.attach(source: media)
        let (session, receiver) = try FanoutTemporalTests.viewerSession(index: 0)
        fanout.add(ViewerTrack(session: session, kind: .video, media: media))

        let sizes = [963, 963, 963, 964]
        let sent = sizes.enumerated().map { Self.packet(sequence: UInt16(100 + $0), timestamp: 9000, length: $1) }
        for p in sent {
            var bytes = p
            bytes.withUnsafeMutableBytes { raw in
                guard let rtp = try? RTPPacket(parsing: raw) else { return }
                fanout.forward(rtp, isKeyframe: false, now: now, output: output)
            }
        }
        fanout.flushPending(output: output)
        var lengths: [Int] = []
        output.drain { _, bytes in
            lengths.append(bytes.count)
            receiver.received(bytes)
        }
        #expect(Set(lengths).count == 1, "equal datagrams, one GSO run: \(lengths)")
        #expect(receiver.failures == 0)
        #expect(receiver.packets.count == sizes.count)
        for (n, got) in receiver.packets.enumerated() {
            var copy = got
            copy.withUnsafeMutableBytes { raw in
                guard let p = try? RTPPacket(parsing: raw) else {
                    Issue.record("copy \(n) does not parse")
                    return
                }
                #expect(p.hasPadding == (n < sizes.count - 1))
                #expect(Array(p.payload) == Array(sent[n][12...]), "copy \(n): the publisher's payload")
            }
        }
        // Counted as sent: the padded copies (each with the transport-wide number the fan-out adds).
        #expect(fanout.bytesOut == UInt64(receiver.packets.reduce(0) { $0 + $1.count }))
        #expect(Set(receiver.packets.map(\.count)).count == 1)
        withExtendedLifetime(session) {}
    }
}
