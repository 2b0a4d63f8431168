import Reactor
import Testing

@testable import SFU

/// `TrackFanout.flushPending` adapts a held packet's header once per viewer class (extension
/// map, payload type) and copies it for the class's later viewers: interleaved viewers of
/// different classes must each still get their own header on every packet.
@Suite("Fan-out header reuse across viewer classes", .serialized)
struct FanoutHeaderReuseTests {
    /// Decrypts what is sent to one viewer with that viewer's keys.
    final class Receiver {
        let srtp: SRTPContext
        var packets: [[UInt8]] = []
        var failures = 0
        init(keys: SRTPKeys) throws { srtp = try SRTPContext(keys: keys) }
        func received(_ bytes: UnsafeRawBufferPointer) {
            var datagram = Array(bytes)
            let n = datagram.withUnsafeMutableBytes { try? srtp.unprotectRTP($0, length: $0.count) }
            guard let n else {
                failures += 1
                return
            }
            packets.append(Array(datagram[0..<n]))
        }
    }

    static let publisherExtensions = [
        SDPHeaderExtension(id: 4, uri: SDPExtensionURI.mid),
        SDPHeaderExtension(id: 2, uri: SDPExtensionURI.absSendTime),
        SDPHeaderExtension(id: 3, uri: SDPExtensionURI.transportWideCC),
    ]

    static func media(payloadType: UInt8, extensions: [SDPHeaderExtension]) -> NegotiatedMedia {
        NegotiatedMedia(
            mid: "0", index: 0, kind: .video, direction: .sendonly,
            codec: SDPCodec(payloadType: payloadType, encodingName: "VP8", clockRate: 90_000), codecName: .vp8,
            extensions: NegotiatedExtensions(extensions))
    }

    /// A publisher packet with mid(4)="0", abs-send-time(2) = `absSendTime`, twcc(3).
    static func publisherPacket(sequenceNumber: UInt16, absSendTime: UInt8) -> [UInt8] {
        var p: [UInt8] = [0x90, 96, UInt8(sequenceNumber >> 8), UInt8(sequenceNumber & 0xFF), 0, 0, 0, 1, 0, 0, 0, 9]
        p += [0xBE, 0xDE, 0, 3]
        p += [0x40, UInt8(ascii: "0")]
        p += [0x22, 1, 2, absSendTime]
        p += [0x31, 7, 8]
        p += [0, 0, 0]
        p += [UInt8](repeating: 0xAB, count: 100)
        return p
    }

    @Test("interleaved viewers of three extension numberings and two payload types each get their own ids and payload type on every packet of a batch")
    func interleavedClasses() throws {
        // No sockets: the fan-out queues into a `DatagramQueue`, drained after each batch.
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        let now = Instant(nanoseconds: 1_000_000_000)
        // (payload type, abs-send-time id, twcc id), in fan-out order: classes interleave.
        let viewerSpecs: [(pt: UInt8, abs: UInt8, twcc: UInt8?)] = [
            (96, 2, nil), (96, 5, 6), (120, 2, nil), (96, 2, nil), (96, 5, 6), (96, 9, nil), (120, 2, nil),
        ]
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        fanout.attach(source: Self.media(payloadType: 96, extensions: Self.publisherExtensions))
        var receivers: [Receiver] = []
        var sessions: [PeerSession] = []
        for (i, spec) in viewerSpecs.enumerated() {
            var exts = [SDPHeaderExtension(id: 1, uri: SDPExtensionURI.mid), SDPHeaderExtension(id: spec.abs, uri: SDPExtensionURI.absSendTime)]
            if let t = spec.twcc { exts.append(SDPHeaderExtension(id: t, uri: SDPExtensionURI.transportWideCC)) }
            let media = Self.media(payloadType: spec.pt, extensions: exts)
            let key = (0..<28).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
            let keys = SRTPKeys(profile: .aeadAes128Gcm, role: .server, clientWriteKey: key, serverWriteKey: key)
            let receiver = try Receiver(keys: SRTPKeys(profile: .aeadAes128Gcm, role: .client, clientWriteKey: key, serverWriteKey: key))
            let identity = try DTLSIdentity.generate()
            let session = PeerSession(
                id: "v\(i)", role: .viewer, roomName: "r",
                ice: IceLiteAgent(localUfrag: "u\(i)", localPassword: "p", remoteUfrag: "r\(i)", remotePassword: nil),
                dtls: try DTLSTransport(identity: identity, role: .server, remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
                tracks: [media], now: now)
            try session.installKeys(keys)
            session.state = .connected
            session.address = SocketAddress(ip: "10.0.0.\(i + 1)", port: 5000)
            fanout.add(ViewerTrack(session: session, kind: .video, media: media))
            receivers.append(receiver)
            sessions.append(session)
        }

        // One batch of three packets, then a second batch of two.
        var sent: [UInt8] = []
        for batch in [0..<3, 3..<5] {
            for seq in batch {
                var bytes = Self.publisherPacket(sequenceNumber: UInt16(seq), absSendTime: UInt8(40 + seq))
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    fanout.forward(rtp, isKeyframe: false, now: now, output: output)
                }
                sent.append(UInt8(40 + seq))
            }
            fanout.flushPending(output: output)
            output.drain { address, bytes in
                guard let i = sessions.firstIndex(where: { $0.address == address }) else {
                    Issue.record("a datagram to \(address), which is no viewer")
                    return
                }
                receivers[i].received(bytes)
            }
        }

        var numbers: [Int: [UInt16?]] = [:]
        for (i, spec) in viewerSpecs.enumerated() {
            let r = receivers[i]
            #expect(r.failures == 0)
            #expect(r.packets.count == 5, "viewer \(i)")
            for (n, bytes) in r.packets.enumerated() {
                var copy = bytes
                copy.withUnsafeMutableBytes { raw in
                    guard let p = try? RTPPacket(parsing: raw) else {
                        Issue.record("viewer \(i) packet \(n) does not parse")
                        return
                    }
                    #expect(p.payloadType == spec.pt, "viewer \(i)")
                    #expect(p.absSendTime(id: spec.abs) == UInt32(0x0102_00) | UInt32(sent[n]), "viewer \(i) packet \(n)")
                    #expect(p.extensionElement(id: 4) == nil && p.extensionElement(id: 1) == nil, "mid removed")
                    if let t = spec.twcc {
                        // The viewer's own transport-wide numbers, never the publisher's (0x0708),
                        // even where the header was copied from an earlier viewer of its class.
                        numbers[i, default: []].append(p.transportSequenceNumber(id: t))
                    }
                    if spec.abs != 2 { #expect(p.extensionElement(id: 2) == nil, "viewer \(i): the publisher's id is gone") }
                    #expect(Array(p.payload) == [UInt8](repeating: 0xAB, count: 100))
                }
            }
        }
        for (i, n) in numbers {
            let first = n.first.flatMap { $0 } ?? 0
            // Consecutive: renumbered per copy (the publisher's element holds 0x0708 in all).
            #expect(n == (0..<5).map { first &+ UInt16($0) }, "viewer \(i): consecutive numbers of its own")
        }
        #expect(numbers.count == 2)
        #expect(fanout.packetsOut == UInt64(5 * viewerSpecs.count))
        withExtendedLifetime(sessions) {}
    }
}
