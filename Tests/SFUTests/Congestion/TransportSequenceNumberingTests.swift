import Reactor
import Testing

@testable import SFU

/// Viewer copies carry the viewer's own transport-wide sequence numbers: renumbered where the
/// publisher sent the element, added where it did not, shared by a viewer's audio and video,
/// on repairs too; and what is numbered is logged for the feedback.
@Suite("Transport-wide numbering of viewer copies", .serialized)
struct TransportSequenceNumberingTests {
    /// A connected viewer session with its own SRTP keys, and a decryptor for what it gets.
    final class Viewer {
        let session: PeerSession
        let media: [NegotiatedMedia]
        let srtp: SRTPContext
        var packets: [[UInt8]] = []

        init(index i: Int, media: [NegotiatedMedia], now: Instant) throws {
            let key = (0..<28).map { UInt8(truncatingIfNeeded: $0 * 5 + i) }
            let keys = SRTPKeys(profile: .aeadAes128Gcm, role: .server, clientWriteKey: key, serverWriteKey: key)
            srtp = try SRTPContext(keys: SRTPKeys(profile: .aeadAes128Gcm, role: .client, clientWriteKey: key, serverWriteKey: key))
            let identity = try DTLSIdentity.generate()
            session = PeerSession(
                id: "v\(i)", role: .viewer, roomName: "r",
                ice: IceLiteAgent(localUfrag: "u\(i)", localPassword: "p", remoteUfrag: "r\(i)", remotePassword: nil),
                dtls: try DTLSTransport(
                    identity: identity, role: .server,
                    remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
                tracks: media, now: now)
            try session.installKeys(keys)
            session.state = .connected
            session.address = SocketAddress(ip: "10.0.1.\(i + 1)", port: 5000)
            self.media = media
        }

        func receive(_ bytes: UnsafeRawBufferPointer) {
            var d = Array(bytes)
            guard let n = d.withUnsafeMutableBytes({ try? srtp.unprotectRTP($0, length: $0.count) }) else {
                Issue.record("a copy that does not decrypt")
                return
            }
            packets.append(Array(d[0..<n]))
        }

        /// The transport-wide number of every packet received (nil: none with `id`).
        func numbers(id: UInt8) -> [UInt16?] {
            packets.map { p in
                var c = p
                return c.withUnsafeMutableBytes { (try? RTPPacket(parsing: $0))?.transportSequenceNumber(id: id) }
            }
        }
    }

    static let now = Instant(nanoseconds: 2_000_000_000)

    static func media(
        _ kind: MediaKind, payloadType: UInt8, extensions: [SDPHeaderExtension], rtx: UInt8? = nil, rtxSSRC: UInt32? = nil
    ) -> NegotiatedMedia {
        NegotiatedMedia(
            mid: kind == .audio ? "0" : "1", index: kind == .audio ? 0 : 1, kind: kind, direction: .sendonly,
            codec: kind == .audio
                ? SDPCodec(payloadType: payloadType, encodingName: "opus", clockRate: 48_000, channels: 2)
                : SDPCodec(payloadType: payloadType, encodingName: "VP8", clockRate: 90_000),
            codecName: kind == .audio ? .opus : .vp8, rtxPayloadType: rtx, extensions: NegotiatedExtensions(extensions),
            localRTXSSRC: rtxSSRC)
    }

    /// A publisher packet: `extensions` is the raw extension block (nil: no X bit).
    static func packet(seq: UInt16, extensionBlock: [UInt8]?, payload: Int = 60) -> [UInt8] {
        var p: [UInt8] = [extensionBlock == nil ? 0x80 : 0x90, 96, UInt8(seq >> 8), UInt8(seq & 0xFF), 0, 0, 0x10, 0, 0, 0, 0, 7]
        if let e = extensionBlock { p += e }
        p += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &+ Int(seq)) }
        return p
    }

    static func forward(_ bytes: [UInt8], _ fanout: TrackFanout, output: DatagramQueue) {
        var b = bytes
        b.withUnsafeMutableBytes { raw in
            guard let rtp = try? RTPPacket(parsing: raw) else { return }
            fanout.forward(rtp, isKeyframe: false, now: now, output: output)
        }
    }

    static func deliver(_ output: DatagramQueue, to viewers: [Viewer]) {
        output.drain { address, bytes in
            viewers.first { $0.session.address == address }?.receive(bytes)
        }
    }

    @Test("a publisher without the extension (OBS, a relay): the element is added and numbered per viewer; others get it blanked")
    func inserted() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 64 * 1024)
        // The publisher negotiated abs-send-time (2) and mid (4), no transport-cc.
        let publisher = [SDPHeaderExtension(id: 4, uri: SDPExtensionURI.mid), SDPHeaderExtension(id: 2, uri: SDPExtensionURI.absSendTime)]
        fanout.attach(source: Self.media(.video, payloadType: 96, extensions: publisher))
        let numbered = try Viewer(
            index: 0,
            media: [Self.media(.video, payloadType: 96, extensions: [SDPHeaderExtension(id: 5, uri: SDPExtensionURI.transportWideCC)])],
            now: Self.now)
        let plain = try Viewer(
            index: 1, media: [Self.media(.video, payloadType: 96, extensions: [SDPHeaderExtension(id: 2, uri: SDPExtensionURI.absSendTime)])],
            now: Self.now)
        for v in [numbered, plain] { fanout.add(ViewerTrack(session: v.session, kind: .video, media: v.media[0])) }

        // One packet with a one-byte block (mid, abs-send-time), one with none, one with a
        // two-byte block.
        let oneByte: [UInt8] = [0xBE, 0xDE, 0, 2, 0x40, 0x31, 0x22, 9, 8, 7, 0, 0]
        let twoByte: [UInt8] = [0x10, 0x00, 0, 1, 2, 2, 0xAA, 0xBB]
        let sent = [Self.packet(seq: 1, extensionBlock: oneByte), Self.packet(seq: 2, extensionBlock: nil), Self.packet(seq: 3, extensionBlock: twoByte)]
        for p in sent { Self.forward(p, fanout, output: output) }
        fanout.flushPending(output: output)
        Self.deliver(output, to: [numbered, plain])

        #expect(numbered.packets.count == 3 && plain.packets.count == 3)
        let numbers = numbered.numbers(id: 5)
        #expect(numbers.allSatisfy { $0 != nil }, "\(numbers)")
        let first = numbers[0] ?? 0
        #expect(numbers == [first, first &+ 1, first &+ 2])
        #expect(numbered.session.bandwidth?.log?.packetsRecorded == 3)
        #expect(plain.session.bandwidth?.log == nil)
        #expect(plain.numbers(id: 5) == [nil, nil, nil])
        for v in [numbered, plain] {
            for (k, p) in v.packets.enumerated() {
                var c = p
                c.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else {
                        Issue.record("copy \(k) does not parse")
                        return
                    }
                    #expect(Array(rtp.payload) == (0..<60).map { UInt8(truncatingIfNeeded: $0 &+ k + 1) }, "payload intact")
                }
            }
        }
        // abs-send-time still reaches the viewer that has it, under its id.
        var first0 = plain.packets[0]
        first0.withUnsafeMutableBytes { #expect((try? RTPPacket(parsing: $0))?.absSendTime(id: 2) == 0x09_0807) }
        withExtendedLifetime([numbered, plain]) {}
    }

    @Test("a viewer's audio and video share one numbering, the publisher's own numbers are replaced, and repairs are numbered")
    func sharedAndRepairs() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        let twcc = SDPHeaderExtension(id: 3, uri: SDPExtensionURI.transportWideCC)
        let audio = TrackFanout(kind: .audio, streamID: "s", cname: "c", historyStartBytes: 64 * 1024)
        let video = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 64 * 1024)
        audio.attach(source: Self.media(.audio, payloadType: 111, extensions: [twcc]))
        video.attach(source: Self.media(.video, payloadType: 96, extensions: [twcc]))
        let viewerTWCC = SDPHeaderExtension(id: 7, uri: SDPExtensionURI.transportWideCC)
        let v = try Viewer(
            index: 2,
            media: [
                Self.media(.audio, payloadType: 111, extensions: [viewerTWCC]),
                Self.media(.video, payloadType: 96, extensions: [viewerTWCC], rtx: 97, rtxSSRC: video.rtxSSRC),
            ], now: Self.now)
        let audioTrack = ViewerTrack(session: v.session, kind: .audio, media: v.media[0])
        let videoTrack = ViewerTrack(session: v.session, kind: .video, media: v.media[1])
        audio.add(audioTrack)
        video.add(videoTrack)

        // The publisher's element (id 3) holds 0xEEEE: never what the viewer gets.
        let block: [UInt8] = [0xBE, 0xDE, 0, 1, 0x31, 0xEE, 0xEE, 0]
        var audioPacket = Self.packet(seq: 10, extensionBlock: block)
        audioPacket[1] = 111
        Self.forward(audioPacket, audio, output: output)
        Self.forward(Self.packet(seq: 20, extensionBlock: block), video, output: output)
        Self.forward(Self.packet(seq: 21, extensionBlock: block), video, output: output)
        audio.flushPending(output: output)
        video.flushPending(output: output)
        // A NACK for the first video packet: resent as RTX, with the next number.
        Self.deliver(output, to: [v])
        var firstVideo = v.packets[1]
        let seq = firstVideo.withUnsafeMutableBytes { (try? RTPPacket(parsing: $0))?.sequenceNumber } ?? 0
        video.resend(sequenceNumber: seq, to: videoTrack, now: Self.now + .milliseconds(40), output: output)
        Self.deliver(output, to: [v])

        let numbers = v.numbers(id: 7)
        #expect(v.packets.count == 4)
        let first = numbers[0] ?? 0
        #expect(numbers == [first, first &+ 1, first &+ 2, first &+ 3], "\(numbers)")
        #expect(video.rtxPacketsOut == 1)
        withExtendedLifetime([audioTrack, videoTrack]) {}
    }

    @Test("inserting the element: one-byte block, none, two-byte block, and packets it cannot take")
    func insertion() {
        var out = [UInt8](repeating: 0, count: 1500)
        for (block, growth) in [([UInt8]([0xBE, 0xDE, 0, 1, 0x10, 0x41, 0, 0]), 4), (nil, 8), ([0x10, 0x00, 0, 1, 2, 2, 1, 2], 4)] {
            let p = Self.packet(seq: 9, extensionBlock: block, payload: 30)
            let r = p.withUnsafeBytes { src in out.withUnsafeMutableBytes { TransportSequenceExtension.insert(into: $0, from: src, id: 6) } }
            #expect(r?.length == p.count + growth)
            guard let r else { continue }
            var copy = Array(out[0..<r.length])
            copy.withUnsafeMutableBytes { raw in
                guard let rtp = try? RTPPacket(parsing: raw) else {
                    Issue.record("the result does not parse")
                    return
                }
                #expect(rtp.transportSequenceNumber(id: 6) == 0)
                #expect(raw.baseAddress! + r.dataOffset == rtp.extensionElement(id: 6)!.baseAddress!)
                if block != nil { #expect(rtp.extensionElement(id: block![0] == 0xBE ? 1 : 2) != nil, "the old element stays") }
                #expect(Array(rtp.payload) == (0..<30).map { UInt8(truncatingIfNeeded: $0 &+ 9) })
            }
        }
        // Too large for the buffer, not RTP, an id the one-byte form cannot carry.
        let big = Self.packet(seq: 1, extensionBlock: nil, payload: 1490)
        #expect(big.withUnsafeBytes { src in out.withUnsafeMutableBytes { TransportSequenceExtension.insert(into: $0, from: src, id: 6) } } == nil)
        #expect([UInt8](repeating: 0, count: 20).withUnsafeBytes { src in out.withUnsafeMutableBytes { TransportSequenceExtension.insert(into: $0, from: src, id: 6) } } == nil)
        let p = Self.packet(seq: 1, extensionBlock: nil)
        #expect(p.withUnsafeBytes { src in out.withUnsafeMutableBytes { TransportSequenceExtension.insert(into: $0, from: src, id: 15) } } == nil)
        #expect(TransportSequenceExtension.freeID(avoiding: (1...14).map { SDPHeaderExtension(id: UInt8($0), uri: "x\($0)") }) == nil)
        #expect(TransportSequenceExtension.freeID(avoiding: [SDPHeaderExtension(id: 1, uri: "a")]) == 2)
    }

    @Test("the sent-packet log finds numbers across the 16-bit wrap and forgets what the ring overwrote")
    func log() {
        let log = SentPacketLog(firstSequence: 65_530)
        var numbers: [UInt16] = []
        for i in 0..<600 { numbers.append(log.recorder.record(bytes: 100 + i, at: Instant(nanoseconds: UInt64(i) * 1000))) }
        #expect(numbers[5] == 65_535 && numbers[6] == 0)
        #expect(log.lookup(numbers[599])?.pointee.size == 699)
        #expect(log.lookup(numbers[344])?.pointee.size == 444, "the oldest the ring holds")
        #expect(log.lookup(numbers[343]) == nil, "overwritten by the ring")
        #expect(log.lookup(numbers[599] &+ 1) == nil, "never sent")
        let fresh = SentPacketLog(firstSequence: 100)
        _ = fresh.recorder.record(bytes: 1, at: Instant(nanoseconds: 0))
        #expect(fresh.lookup(99) == nil && fresh.lookup(100) != nil, "nothing before the first number")
        // Send times are kept in 32 bits of 1 024 ns: unwrapped against a later time, even
        // across their wrap (every 73 minutes).
        let wrapAt: UInt64 = (1 << 32) << 10
        _ = fresh.recorder.record(bytes: 2, at: Instant(nanoseconds: wrapAt - 5_000_000))
        let sent = fresh.lookup(101)?.pointee.sendMicros(now: Instant(nanoseconds: wrapAt + 20_000_000)) ?? 0
        #expect(abs(sent - Int64((wrapAt - 5_000_000) / 1000)) <= 1)
        #expect(log.packetsRecorded == 600)
    }
}
