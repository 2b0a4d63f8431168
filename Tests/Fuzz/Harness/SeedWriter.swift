import Glibc
import Reactor

@testable import SFU

/// Writes starting inputs for every target with the project's own builders (FUZZ_TARGET=seeds,
/// FUZZ_SEED_DIR=<folder>): packets as the server and its clients write them, real DTLS
/// flights, and op streams for the structured targets. Tests/Fuzz/make-corpus.sh merges them
/// with the fixtures into the committed corpus.
enum SeedWriter {
    static func writeAll(to folder: String) {
        var seeds: [(String, [UInt8])] = []
        func add(_ target: String, _ bytes: [UInt8]) { seeds.append((target, bytes)) }

        // STUN: checks as a browser sends them, answers as the server sends them.
        for attributes in [0, 1, 3, 0x21, 0x81, 0x08] as [UInt8] {
            add("stun", stunRequest(user: "srvU:cliU", key: Array("serverpassword0123456789".utf8), attributes: attributes))
        }
        add("stun", build(512) { out in
            var b = StunMessageBuilder(into: out, type: .bindingSuccess, transactionID: StunTransactionID(hi: 3, lo: 4))
            b.addXorMappedAddress(SocketAddress(ip: "2001:db8::1", port: 5000)!)
            b.addMessageIntegrity(key: Array("pw".utf8))
            b.addFingerprint()
            return (try? b.finish()) ?? 0
        })

        // RTP: VP8, H264 and Opus packets with both extension forms, CSRCs and padding.
        let vp8Key: [UInt8] = [0x90, 0x80, 0x12, 0x34, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]
        let h264IDR: [UInt8] = [0x7C, 0x85, 0x88, 0x80, 0x40, 0x00]
        for (i, (pt, payload)) in [(96, vp8Key), (102, h264IDR), (111, [0xFC, 0xFF, 0xFE] as [UInt8])].enumerated() {
            for form in [nil, RTPHeaderExtensionForm.oneByte, .twoByte] {
                add("rtp", rtpPacket(pt: UInt8(pt), payload: payload, form: form, csrcs: i == 1 ? [7, 8] : [], padding: i == 2 ? 4 : 0))
            }
        }
        for s in seeds where s.0 == "rtp" { add("rtx", s.1) }
        add("rtx", rtpPacket(pt: 97, payload: [0x03, 0xE8] + vp8Key, form: nil, csrcs: [], padding: 0))

        // RTCP: what the server and browsers send.
        for kind in 0..<9 { add("rtcp", rtcpPacket(kind)) }
        add("rtcp", rtcpPacket(0) + rtcpPacket(2) + rtcpPacket(3))

        // ICE agent: a nominating check, a plain one, a wrong user, a raw request, a late one.
        add("ice", [0x10, 0x03, 0, 1, 0, 0, 0, 2, 0] + [0x11, 0x02, 0, 1, 0, 0, 0, 3, 0] + [0x1C, 0x01, 0, 1, 0, 0, 0, 4, 0])
        add("ice", [0x10, 0x41, 0, 1, 0, 0, 0, 2, 0, 0x12, 0x09, 0, 1, 0, 0, 0, 2, 4, 0x80, 0x2A, 0, 0])
        add("ice", [0x00, 108] + stunRequest(user: "srvU:cliU", key: Array("serverpassword0123456789".utf8), attributes: 1).prefix(108))

        // DTLS: a real handshake's datagrams, and records sealed with its keys.
        for flight in handshakeDatagrams() { add("dtls", [0x80, 0] + flight) }
        TransportTargets.setUpDTLS()
        if var client = TransportTargets.layers?.client {
            for type: UInt8 in [21, 23] {
                if let record = client.seal(type: type, plaintext: [1, 0]) { add("dtls", [0x01, 24] + record) }
            }
        }

        // Room: set-up byte, then ops (flags: kind | source << 3 | time step << 5, then a body).
        let vp8Body: [UInt8] = [UInt8(vp8Key.count - 12)] + Array(vp8Key[12...])
        var media: [UInt8] = [0x03]  // connect both
        for i in 0..<8 {
            // publisher RTP (fixed header, SSRC 0, VP8), 10 ms apart; then a batch end.
            media += [0x41, 0x01] + vp8Body + [0x03, UInt8(i), 0, 0, 0x0B, 0xB8, 0x00]
        }
        media += [0x07]
        add("room", media)
        add("room", media + [0x0A, 0x01, 0x03, 0xE8, 0x05] + [0, 1, 2, 3, 4] + [0x4A, 0x03] + [0x4A, 0x02] + Array(repeating: 0, count: 20))
        add("room", media + [0xA5, 0xC5, 0xE5, 0x12, 0x04] + [0, 0, 0, 0, 0, 0, 0, 0] + [0x06, 0x05])
        add("room", [0x01, 0x0B, 0x03, 0, 0, 0, 0, 0, 0, 0x0C, 0x00, 0, 0, 0, 0, 0, 0, 0x08, 24] + Array(repeating: 0x17, count: 24))
        add("room", [0x00, 0x03, 0x01, 0, 1, 0, 0, 0, 2, 0x04, 0x16, 4, 0, 1, 1, 2, 3, 0xE5, 0xE5, 0xE5, 0xE5])

        // Room with the simulcast offer (set-up 0x20): each layer's VP8 frames named by RID
        // (selector 0x05 | layer << 5), keyframes at frames 0 and 3; then the viewer pinned to
        // the lowest layer (a move at its next keyframe), a tick, and back to automatic.
        let replay = RoomReplay()
        let vp8 = UInt8(replay.publisherPayloadTypes.firstIndex(of: 96) ?? 0)
        func layerFrame(_ layer: UInt8, _ k: UInt8, key: Bool) -> [UInt8] {
            let payload: [UInt8] = [0x90, 0x80, 0x80, k, key ? 0x10 : 0x11, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]
            return [0x41, 0x05 | layer << 5, UInt8(payload.count)] + payload + [0x00, k, 0, 0, k &* 0x0B, 0xB8, vp8]
        }
        var simulcastMedia: [UInt8] = [0x23]
        for k: UInt8 in 0..<4 {
            for layer: UInt8 in 0..<3 { simulcastMedia += layerFrame(layer, k, key: k % 3 == 0) }
            simulcastMedia += [0x07]
        }
        add("room", simulcastMedia)
        var moves = simulcastMedia + [0x06, 0x16]  // pin the viewer to "q"
        for k: UInt8 in 4..<8 {
            for layer: UInt8 in 0..<3 { moves += layerFrame(layer, k, key: k == 6) }
            moves += [0x07]
        }
        moves += [0xA5, 0x06, 0x07]  // a second passes (tick), then automatic
        add("room", moves)
        // A RID that was not offered, and an RTX repair named by repaired RID.
        add("room", [0x23, 0x41, 0x05 | 3 << 5, 4, 0x90, 0x80, 0x80, 1, 0, 9, 0, 0, 0, 0, vp8, 0x41, 0x0D, 4, 0, 0x09, 1, 2, 0, 10, 0, 0, 0, 0, vp8 + 1, 0x07])

        // StreamOffsets: flags (codec, RTX, length mode, last given), offsets, length change,
        // the last packet's number, the last packet, the packet.
        let header: [UInt8] = [0x80, 0x60, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0, 0, 0, 7]
        let vp8Long: [UInt8] = [0x90, 0xC0, 0xFF, 0xFE, 0x7F, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]  // 15-bit ID, TL0
        let vp8Short: [UInt8] = [0x90, 0xC0, 0x7E, 0xFF, 0x10]  // 7-bit ID, TL0
        let vp9: [UInt8] = [0xA8, 0xFF, 0xFF, 0x20, 0xFF]  // I, L, 15-bit ID, layer byte, TL0
        let withExtension: [UInt8] = [0x90, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 7, 0xBE, 0xDE, 0, 1, 0x40, 0x31, 0, 0]
        for (flags, body) in [
            (0x21 as UInt8, header + vp8Long), (0x21, header + vp8Short), (0x22, header + vp9), (0x25, header + [0xFF, 0xFF] + vp8Long),
            (0x09, header + vp8Long), (0x11, header + vp8Short), (0x23, withExtension + [0x7C, 0x85]), (0x01, Array(header[0..<11])),
        ] {
            add("offsets", [flags, 0xFF, 0xFF, 0x80, 0, 0, 1, 0x7F, 0xF0, 0xFE, 3, 0xFF, 0xFE, UInt8(body.count)] + body + body)
        }

        // Temporal caps: a target, a first number, then L1T3 frames (TID 0, 2, 1, 2; Y on the
        // first two above 0) in order, one late, one repeated, the cap raised and lowered.
        var temporal: [UInt8] = [0, 0xFF, 0xF0]
        for (i, tid) in [0, 2, 1, 2, 0, 2, 1, 2].enumerated() {
            let y: UInt8 = tid > 0 && i % 4 != 3 ? 0x20 : 0
            let frame = header + [0x90, 0xE0, 0x80, UInt8(i), UInt8(i / 4), UInt8(tid) << 6 | y, i == 0 ? 0x10 : 0x11, 0x9D]
            let flags: UInt8 = i == 3 ? 0x04 | 2 : i == 6 ? 0x04 : 0
            temporal += [flags, UInt8(frame.count)] + frame
        }
        temporal += [0x10, 3, 12] + header  // three back (late), a bare header
        temporal += [0x08, 0, 12] + header  // the same number again
        add("temporal", temporal)

        // VP9 (set-up bit 7): steps as above, each packet a header, a VP9 payload descriptor
        // and a keyframe's or an inter frame's first bytes.
        func vp9Chunk(_ descriptor: [UInt8], key: Bool = false) -> [UInt8] {
            let packet = header + descriptor + [key ? 0x82 : 0x86, 0x49, 0x83]
            return [UInt8(packet.count)] + packet
        }
        // L1T3 in non-flexible mode as libwebrtc sends it: two packets a frame (I, P but on the
        // keyframe, L, B on the first, E on the last), 15-bit picture IDs across their wrap,
        // TID with U (not on every fourth frame), TL0PICIDX; the keyframe's first packet with
        // the scalability structure (one 640x480 layer, the group of four pictures). Capped at
        // 0, raised to 2 at frame 2 (up at frame 4's U), lowered to 1 at frame 9; then frame
        // 9's first packet late, again, and frame 12 after two numbers skipped.
        var vp9Descriptors: [[UInt8]] = []
        var pictureID: UInt16 = 0x7FFE
        var tl0: UInt8 = 0xFF
        for frame in 0..<13 {
            let tid: UInt8 = [0, 2, 1, 2][frame % 4]
            if tid == 0 { tl0 &+= 1 }
            let layer = tid << 5 | (frame % 4 == 3 ? 0 : 0x10)
            for i in 0..<2 {
                let b0: UInt8 = 0xA0 | (frame == 0 ? 0 : 0x40) | (i == 0 ? 0x08 : 0x04)
                var d: [UInt8] = [b0, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xFF), layer, tl0]
                if frame == 0 && i == 0 {
                    d[0] |= 0x02
                    d += [0x18, 0x02, 0x80, 0x01, 0xE0, 4]
                    for (t, diff) in [(UInt8(0), UInt8(4)), (2, 1), (1, 2), (2, 1)] { d += [t << 5 | 0x10 | 0x04, diff] }
                }
                vp9Descriptors.append(d)
            }
            pictureID = (pictureID &+ 1) & 0x7FFF
        }
        var l1t3: [UInt8] = [0x80, 0xFF, 0xF0]
        for (n, d) in vp9Descriptors.prefix(24).enumerated() {
            let flags: UInt8 = n == 4 ? 0x04 | 2 : n == 18 ? 0x04 | 1 : 0
            l1t3 += [flags] + vp9Chunk(d, key: n == 0)
        }
        l1t3 += [0x10, 5] + vp9Chunk(vp9Descriptors[18])  // five back
        l1t3 += [0x08, 0] + vp9Chunk(vp9Descriptors[18])
        l1t3 += [0x08, 8] + vp9Chunk(vp9Descriptors[24])
        add("temporal", l1t3)

        // Flexible mode (F; P_DIFF bytes, N chaining two), 7-bit picture IDs, two spatial
        // layers (the second's B starts no picture), TIDs 0, 1 and 5 and 6 (read as 3), U on
        // some; capped at 1, then every layer, then 0.
        var flexible: [UInt8] = [0x81, 0x01, 0x00]
        flexible += [0] + vp9Chunk([0xBE, 0x00, 0x10, 0x30, 0x01, 0x40, 0x00, 0xB4, 0x02, 0x80, 0x01, 0x68], key: true)
        flexible += [0] + vp9Chunk([0xBC, 0x00, 0x13])
        for (k, tid) in ([1, 0, 1, 5, 0, 6, 1] as [UInt8]).enumerated() {
            let flags: UInt8 = k == 2 ? 0x04 | 3 : k == 5 ? 0x04 : 0
            let diffs: [UInt8] = k % 2 == 0 ? [0x02] : [0x03, 0x04]
            flexible += [flags] + vp9Chunk([0xFC, UInt8(k + 1), tid << 5 | (k % 3 == 0 ? 0x10 : 0)] + diffs)
            flexible += [0] + vp9Chunk([0xFC, UInt8(k + 1), tid << 5 | 0x03] + diffs)
        }
        add("temporal", flexible)

        // Descriptors cut short or malformed (each reads as no layer) after a keyframe, the
        // number moving on, forward, back and far off: a bare header, half a header, I without
        // its ID, a 15-bit ID cut, L without its byte, non-flexible L without TL0PICIDX, V
        // without the structure, G without its count, a group's references cut, four chained
        // P_DIFFs (three at most), a P_DIFF chain cut; then a good one behind a CSRC and a
        // header extension.
        var malformed: [UInt8] = [0x80, 0x12, 0x34]
        malformed += [0] + vp9Chunk(vp9Descriptors[0], key: true)
        malformed += [0x00, 12] + header
        malformed += [0x00, 5] + header[0..<5]
        let steps: [[UInt8]] = [[0x04], [0x0C, 2], [0x10, 1], [0x18, 0x92, 0x34], [0x00]]
        let cut: [[UInt8]] = [
            [0x80], [0x88, 0x85], [0xA8, 0x05], [0xA8, 0x05, 0x40], [0xAA, 0x05, 0x40, 0x00],
            [0xAA, 0x05, 0x40, 0x00, 0x08], [0xAA, 0x05, 0x40, 0x00, 0x08, 0x02, 0x0C],
            [0xF8, 0x05, 0x40, 0x03, 0x03, 0x03, 0x03], [0xF8, 0x05, 0x40, 0x03],
        ]
        for (k, d) in cut.enumerated() {
            let packet = header + d  // the packet ends there
            malformed += steps[k % steps.count] + [UInt8(packet.count)]
            malformed += packet
        }
        let withCSRC: [UInt8] = [0x91, 0x60, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 9, 0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0]
        let good = withCSRC + vp9Descriptors[2] + [0x86, 0x49, 0x83]
        malformed += [0x00, UInt8(good.count)] + good
        add("temporal", malformed)

        // Answers in the viewer role: choices × the fixture offers are added by make-corpus.sh.
        // Router and static paths (method byte, path).
        for (m, path) in [
            (0, "/web/"), (0, "/web/js/app.js"), (1, "/web/index.html"), (0, "/web/%2e%2e/%2e%2e/etc/passwd"),
            (0, "/web/escape/passwd"), (0, "/web/js/out.txt"), (0, "/web/.secret"), (2, "/api/whip/publish/room%201"),
            (3, "/api/session/r/0123abcd"), (4, "/api/session/r/x"), (5, "/api/rooms"), (0, "/metrics"),
            (2, "/api/admin/rooms/a%2Fb/close"), (0, "/web/js/%00x"), (0, "/web//js//app.js"),
        ] as [(UInt8, String)] {
            add("router", [m] + Array(path.utf8))
        }

        // Tokens: static ones, and JWTs the harness signs (header NUL payload).
        for (mode, text) in [
            (0x01, "global-token"), (0x06, "room-token"), (0x03, "admin-token"), (0x02, "global-token"),
            (0x09, #"{"alg":"HS256","typ":"JWT"}"# + "\0" + #"{"sub":"a","room":"open","exp":4102444800}"#),
            (0x0B, #"{"alg":"HS256"}"# + "\0" + #"{"role":"admin","nbf":1}"#),
            (0x1A, #"{"alg":"HS384","typ":"JWT"}"# + "\0" + #"{"room":"other","admin":"true"}"#),
            (0x2E, #"{"alg":"HS512","crit":["exp"]}"# + "\0" + #"{"room":["guarded"],"exp":1}"#),
            (0x49, #"{"alg":"none"}"# + "\0" + #"{}"#),
        ] as [(UInt8, String)] {
            add("jwt", [mode] + Array(text.utf8))
        }

        // Trickle fragments and HTTP requests.
        add("trickle", Array("a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host\r\na=end-of-candidates\r\n".utf8))
        add("http", Array("POST /api/whip/publish/room HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n".utf8))
        add("http", Array("PATCH /api/session/r/id HTTP/1.1\r\nIf-Match: \"e\"\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n".utf8))

        mkdir(folder, 0o755)
        var counts: [String: Int] = [:]
        for (target, bytes) in seeds {
            let n = counts[target, default: 0]
            counts[target] = n + 1
            mkdir(folder + "/" + target, 0o755)
            let path = "\(folder)/\(target)/gen-\(n)"
            guard let f = fopen(path, "w") else { fatalError("cannot write \(path)") }
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
        }
        print(counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
    }

    static func build(_ capacity: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: capacity)
        let n = out.withUnsafeMutableBytes(body)
        return Array(out[0..<n])
    }

    static func stunRequest(user: String, key: [UInt8], attributes: UInt8) -> [UInt8] {
        build(512) { out in
            var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: StunTransactionID(hi: 1, lo: 2))
            b.addUsername(user)
            b.addPriority(0x6E00_1EFF)
            if attributes & 1 != 0 { b.addUseCandidate() }
            if attributes & 2 != 0 { b.addIceControlling(1) }
            if attributes & 8 != 0 { b.addAttribute(type: 0x7F00, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
            if attributes & 0x20 == 0 { b.addMessageIntegrity(key: key) }
            if attributes & 0x80 == 0 { b.addFingerprint() }
            return (try? b.finish()) ?? 0
        }
    }

    static func rtpPacket(pt: UInt8, payload: [UInt8], form: RTPHeaderExtensionForm?, csrcs: [UInt32], padding: Int) -> [UInt8] {
        build(1500) { out in
            var b = RTPPacketBuilder(
                into: out, payloadType: pt, marker: true, sequenceNumber: 1000, timestamp: 90000, ssrc: 0x0B0B_0001,
                csrcs: csrcs, extensionForm: form)
            if form != nil {
                b.addExtension(id: 3, bytes: [0x12, 0x34])
                b.addExtension(id: 4, bytes: Array("0".utf8))
            }
            return payload.withUnsafeBytes { (try? b.finish(payload: $0, padding: padding)) ?? 0 }
        }
    }

    static func rtcpPacket(_ kind: Int) -> [UInt8] {
        build(1200) { out in
            var w = RTCPWriter(into: out)
            let block = RTCPReportBlock(
                ssrc: 0x0B0B_0001, fractionLost: 12, cumulativeLost: 40, extendedHighestSequence: 70000, jitter: 30,
                lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 655)
            switch kind {
            case 0: w.addSenderReport(ssrc: 1, ntpTimestamp: 0xE000_0000_8000_0000, rtpTimestamp: 90000, packetCount: 10, octetCount: 1000, reports: [block])
            case 1: w.addReceiverReport(ssrc: 2, reports: [block, block])
            case 2: w.addSourceDescription(ssrc: 1, cname: "KBFcYLpZor2+8RH1")
            case 3: w.addNack(senderSSRC: 2, mediaSSRC: 0x0B0B_0001, lost: [1000, 1002, 1017, 1040] as [UInt16])
            case 4: w.addPictureLossIndication(senderSSRC: 2, mediaSSRC: 0x0B0B_0001)
            case 5: w.addFullIntraRequest(senderSSRC: 2, mediaSSRC: 0x0B0B_0001, sequenceNumber: 3)
            case 6: w.addRemb(senderSSRC: 2, bitrate: 2_500_000, ssrcs: [0x0B0B_0001] as [UInt32])
            case 7:
                let t = Instant(nanoseconds: 5_000_000_000)
                let arrivals: [Instant?] = [t, nil, t + .milliseconds(3), t + .milliseconds(200), nil, nil, nil, nil, t + .seconds(9)]
                w.addTransportFeedback(senderSSRC: 2, mediaSSRC: 1, baseSequence: 65530, feedbackCount: 1, arrivals: arrivals)
            default: w.addBye(ssrcs: [1, 2] as [UInt32])
            }
            return (try? w.finish()) ?? 0
        }
    }

    /// The datagrams of one real handshake, both directions.
    static func handshakeDatagrams() -> [[UInt8]] {
        let id = try! DTLSIdentity.generate()
        let fp = (id.localFingerprint.algorithm, id.localFingerprint.value)
        let client = try! DTLSTransport(identity: id, role: .client, remoteFingerprint: fp)
        let server = try! DTLSTransport(identity: id, role: .server, remoteFingerprint: fp)
        var now = Instant(nanoseconds: 1_000_000_000)
        client.startHandshake(now: now)
        var all: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        for _ in 0..<10 {
            now = now + .milliseconds(1)
            for (from, to) in [(client, server), (server, client)] {
                while let n = buffer.withUnsafeMutableBytes({ from.pollDatagram(into: $0) }) {
                    all.append(Array(buffer[0..<n]))
                    buffer.withUnsafeBytes { to.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
                }
            }
        }
        return all
    }
}
