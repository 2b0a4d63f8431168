import Glibc
import Reactor
import SFU

/// `livesfu-load --self-test`: checks of the pure parts (media source, stamps, statistics,
/// RTCP, SDP answer reading, garbage input), runnable without a server in well under a
/// second. The SFUTests target cannot import this executable's code; these run where it runs.
enum SelfTest {
    static func run() -> Bool {
        var failures: [String] = []
        func check(_ ok: Bool, _ what: String) { if !ok { failures.append(what) } }

        // Histogram: quantiles within a bucket's precision, max exact.
        var h = LatencyHistogram()
        for v in 1...10_000 { h.record(UInt64(v) * 1000) }
        let p50 = Double(h.value(atQuantile: 0.5)), p99 = Double(h.value(atQuantile: 0.99))
        check(abs(p50 - 5_000_000) / 5_000_000 < 0.04, "histogram p50 \(p50)")
        check(abs(p99 - 9_900_000) / 9_900_000 < 0.04, "histogram p99 \(p99)")
        check(h.maxValue == 10_000_000 && h.value(atQuantile: 1) == 10_000_000, "histogram max")
        var h2 = LatencyHistogram()
        h2.record(0)
        h2.merge(h)
        check(h2.count == 10_001 && h2.minValue == 0, "histogram merge")
        check(LatencyHistogram().value(atQuantile: 0.99) == 0, "empty histogram")

        // Per viewer server (--viewer-server): loops' figures merge server by server, and a
        // board's empty start takes the loops' size.
        var loopA = LoadCounters(), loopB = LoadCounters()
        loopA.byServer = [.init(), .init()]
        loopB.byServer = [.init(), .init()]
        loopA.byServer[1].packetsReceived = 5
        loopB.byServer[1].packetsReceived = 7
        loopB.byServer[0].latencySteady.record(1000)
        var board = LoadCounters()
        board.merge(loopA)
        board.merge(loopB)
        check(board.byServer.count == 2 && board.byServer[1].packetsReceived == 12, "per-server packets merge")
        check(board.byServer[0].latencySteady.count == 1 && board.byServer[1].latencySteady.count == 0, "per-server latency merge")
        // A node's CPU time from its threads' schedstat: this process has used some.
        check((ClusterWindow.cpuSeconds(pid: getpid()) ?? 0) > 0, "schedstat CPU time of this process")
        check(ClusterWindow.cpuSeconds(pid: -1) == nil, "schedstat of no process")

        // Sequence tracker: wrap, gap, late repair, duplicate.
        var t = SequenceTracker()
        check(t.add(65534) == .first, "seq first")
        check(t.add(65535) == .inOrder, "seq in order")
        check(t.add(2) == .gap(missing: 2), "seq gap across wrap")
        check(t.add(0) == .late, "seq late")
        check(t.add(0) == .duplicate, "seq duplicate")
        check(t.expected == 5 && t.received == 4 && t.lost == 1, "seq counts \(t.expected) \(t.received)")

        // Sequence tracker against a model: random loss, reordering within 8 packets and
        // duplicates, across the 16-bit wrap; counts must match exactly.
        var rs: UInt64 = 0xC0FFEE
        func rand(_ n: UInt64) -> UInt64 {
            rs = rs &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (rs >> 33) % n
        }
        for round in 0..<20 {
            let start = UInt16(truncatingIfNeeded: 65_000 &+ UInt64(round) &* 977)
            var sent: [UInt16] = []
            for k in 0..<3000 { sent.append(start &+ UInt16(truncatingIfNeeded: k)) }
            // Keep the first and last so expected is the whole run.
            var delivered = [sent[0]]
            var lostModel = 0
            for k in 1..<(sent.count - 1) {
                if rand(100) < 3 { lostModel += 1 } else { delivered.append(sent[k]) }
            }
            delivered.append(sent[sent.count - 1])
            // Local reordering (never moving the first or last packet) and duplicates.
            for k in stride(from: 1, to: delivered.count - 9, by: 1) where rand(100) < 5 {
                delivered.swapAt(k, k + Int(rand(8)))
            }
            var withDups: [UInt16] = []
            var dupModel = 0
            for x in delivered {
                withDups.append(x)
                if rand(100) < 2 { withDups.append(x); dupModel += 1 }
            }
            var tr = SequenceTracker()
            for x in withDups { tr.add(x) }
            check(tr.expected == 3000 && tr.lost == UInt64(lostModel) && tr.duplicates == UInt64(dupModel),
                  "sequence model round \(round): expected \(tr.expected) lost \(tr.lost)/\(lostModel) dup \(tr.duplicates)/\(dupModel)")
        }

        // Jitter: perfectly paced packets have none; alternating delays converge to it.
        var j = JitterEstimator(clockRate: 90_000)
        for i in 0..<100 { j.add(rtpTimestamp: UInt32(i * 3000), arrivalNanos: UInt64(i) * 33_333_333) }
        check(j.milliseconds < 0.05, "jitter of paced stream \(j.milliseconds)")
        var j2 = JitterEstimator(clockRate: 90_000)
        for i in 0..<500 {
            j2.add(rtpTimestamp: UInt32(i * 3000), arrivalNanos: UInt64(i) * 33_333_333 + (i % 2 == 0 ? 0 : 4_000_000))
        }
        check(abs(j2.milliseconds - 4) < 0.3, "jitter of ±4 ms stream \(j2.milliseconds)")

        // Video source: bitrate, packet sizes, marker, keyframe bits and stamps.
        let cfg = SyntheticVideoSource.Config(bitrate: 2_000_000, fps: 30, keyframeInterval: 2, keyframeRatio: 8)
        let v = SyntheticVideoSource(config: cfg, ssrc: 42, payloadType: 96, seed: 7)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buf.deallocate() }
        var total = 0, keys = 0, counter: UInt32 = 0
        for f in 0..<60 {
            let frame = v.beginFrame()
            if frame.isKeyframe { keys += 1 }
            for i in 0..<frame.packetCount {
                let n = v.writePacket(i, sendNanos: 123_456_789, into: buf)
                check(n > 0 && n <= 1200, "packet size \(n)")
                total += n - 12
                let view = UnsafeRawBufferPointer(rebasing: buf[0..<n])
                guard let hdr = RTPHeaderView(view) else { check(false, "header parse"); continue }
                check(hdr.marker == (i == frame.packetCount - 1), "marker on last packet only")
                let payload = UnsafeRawBufferPointer(rebasing: view[hdr.payloadOffset...])
                if i == 0 { check(SyntheticVideoSource.isKeyframeStart(payload) == frame.isKeyframe, "keyframe bit, frame \(f)") }
                else { check(!SyntheticVideoSource.isKeyframeStart(payload), "continuation is no keyframe start") }
                let s = MediaStamp(reading: payload, at: MediaStamp.videoOffset)
                check(s?.sendNanos == 123_456_789 && s?.counter == counter, "video stamp")
                // A pacer restamps at departure; the counter stays.
                check(MediaStamp.restamp(packet: buf, length: n, sendNanos: 987), "restamp finds the stamp")
                let r = MediaStamp(reading: UnsafeRawBufferPointer(rebasing: buf[hdr.payloadOffset..<n]), at: MediaStamp.videoOffset)
                check(r?.sendNanos == 987 && r?.counter == counter, "restamped video stamp")
                counter += 1
            }
        }
        check(keys == 1, "one keyframe in a 2 s keyframe period (got \(keys))")
        let bits = Double(total * 8) / 2.0  // 60 frames = 2 s
        check(abs(bits - 2_000_000) / 2_000_000 < 0.15, "video bitrate \(bits)")

        let a = SyntheticAudioSource(ssrc: 9, payloadType: 111)
        let an = a.writePacket(sendNanos: 5, into: buf)
        check(an == 112, "audio packet size \(an)")
        check(MediaStamp(reading: UnsafeRawBufferPointer(rebasing: buf[12..<an]), at: MediaStamp.audioOffset)?.sendNanos == 5,
              "audio stamp")

        // RTCP: NACK encoding and the feedback scanner.
        let nackLen = LoadRTCP.nack(into: buf, sender: 1, media: 2, first: 100, count: 20)
        check(nackLen == 20, "NACK of 20 packets takes two FCI entries (\(nackLen))")
        check(buf[12] == 0 && buf[13] == 100 && buf[14] == 0xFF && buf[15] == 0xFF, "first NACK entry")
        let pliLen = LoadRTCP.pli(into: UnsafeMutableRawBufferPointer(rebasing: buf[nackLen...]), sender: 1, media: 2)
        let fb = LoadRTCP.scanFeedback(UnsafeRawBufferPointer(rebasing: buf[0..<(nackLen + pliLen)]))
        check(fb.nacks == 1 && fb.keyframeRequests == 1, "feedback scan \(fb)")
        var nacked: [UInt16] = []
        LoadRTCP.forEachNackedSequence(UnsafeRawBufferPointer(rebasing: buf[0..<(nackLen + pliLen)])) { media, seq in
            if media == 2 { nacked.append(seq) }
        }
        check(nacked == Array(100..<120), "NACK round trip lists the 20 packets (\(nacked.count))")

        // SDP answer (Pion-like: setup:active, candidate with generation, ssrc lines).
        let answer = """
            v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\na=group:BUNDLE 0 1\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=setup:active\r\na=mid:0\r\na=ice-ufrag:uf\r\n\
            a=ice-pwd:pw\r\na=rtpmap:96 VP8/90000\r\na=ssrc:1234 cname:x\r\n\
            a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=rtpmap:111 opus/48000/2\r\n\
            a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n
            """
        if let info = try? AnswerInfo(parsing: answer) {
            check(info.setup == "active" && info.iceUfrag == "uf" && info.icePassword == "pw", "answer ICE/setup")
            check(info.candidate == SocketAddress(ip: "127.0.0.1", port: 40000), "answer candidate")
            check(info.video?.ssrc == 1234 && info.video?.payloadType == 96, "answer video")
            check(info.audio?.payloadType == 111 && info.audio?.midExtensionID == 4, "answer audio")
        } else {
            check(false, "answer parses")
        }
        check((try? AnswerInfo(parsing: "v=0\r\n")) == nil, "empty answer rejected")

        // Garbage never traps.
        var rng: UInt64 = 0x1234_5678
        for _ in 0..<20_000 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1
            let n = Int(rng >> 54)
            for i in 0..<n {
                rng = rng &* 6_364_136_223_846_793_005 &+ 1
                buf[i] = UInt8(truncatingIfNeeded: rng >> 33)
            }
            let g = UnsafeRawBufferPointer(rebasing: buf[0..<n])
            _ = RTPHeaderView(g)
            _ = MediaStamp(reading: g, at: Int(rng % 32))
            _ = SyntheticVideoSource.isKeyframeStart(g)
            _ = LoadRTCP.scanFeedback(g)
            LoadRTCP.forEachKeyframeRequest(g) { _ in }
            _ = try? AnswerInfo(parsing: String(decoding: g, as: UTF8.self))
        }
        check(ProcessSampler.parseStatCPUTicks("1 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0") == 300,
              "stat with ')' in the name")

        clientStack(check)
        answersFromSFU(check)
        simulcast(check)

        for f in failures { print("self-test: FAIL \(f)") }
        print(failures.isEmpty ? "self-test: PASS" : "self-test: FAIL (\(failures.count))")
        return failures.isEmpty
    }

    /// The client stack against the project's own server-side pieces, in memory: our ICE
    /// checks against the ICE-lite agent (what livesfu answers with), then DTLS with us as
    /// the client (livesfu answers `setup:passive`), then a synthetic video packet through
    /// SRTP from one side to the other with its stamp intact.
    static func clientStack(_ check: (Bool, String) -> Void) {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buf.deallocate(); reply.deallocate() }
        let client = SocketAddress(ip: "127.0.0.1", port: 50000)!
        let server = SocketAddress(ip: "127.0.0.1", port: 40000)!
        var now = Instant(nanoseconds: 1_000_000_000)
        let lite = IceLiteAgent(localUfrag: "srvU", localPassword: "serverpassword0123456789",
                                remoteUfrag: "cliU", remotePassword: "clientpassword0123456789")
        let ice = LoadICE.agent(localUfrag: "cliU", localPassword: "clientpassword0123456789", remoteUfrag: "srvU",
                              remotePassword: "serverpassword0123456789", remote: server, seed: 99)
        guard let (n, to) = ice.poll(now: now, out: buf), to == server else { return check(false, "ICE: no first check") }
        let r = lite.handle(stun: UnsafeRawBufferPointer(rebasing: buf[0..<n]), from: client, now: now, reply: reply)
        check(r.rejection == nil && r.replyLength > 0, "ICE-lite accepts our check (\(String(describing: r.rejection)))")
        check(lite.selectedAddress == client, "ICE-lite selects our address (USE-CANDIDATE)")
        _ = ice.handle(stun: UnsafeRawBufferPointer(rebasing: reply[0..<r.replyLength]), from: server, now: now, reply: buf)
        check(ice.state == .connected, "our ICE connects on the ICE-lite answer")

        // DTLS: us the client, the server's transport the server.
        guard let idA = try? DTLSIdentity.generate(), let idB = try? DTLSIdentity.generate() else {
            return check(false, "DTLS identities")
        }
        func fp(_ id: DTLSIdentity) -> (String, String) {
            let p = id.fingerprint.split(separator: " ")
            return (String(p[0]), String(p[1]))
        }
        guard let us = try? DTLSTransport(identity: idA, role: .client, remoteFingerprint: fp(idB)),
              let them = try? DTLSTransport(identity: idB, role: .server, remoteFingerprint: fp(idA))
        else { return check(false, "DTLS transports") }
        us.startHandshake(now: now)
        var usKeys: SRTPKeys? = nil, themKeys: SRTPKeys? = nil
        for _ in 0..<20 where usKeys == nil || themKeys == nil {
            while let k = us.pollDatagram(into: buf) { them.handle(datagram: UnsafeRawBufferPointer(rebasing: buf[0..<k]), now: now) }
            while let k = them.pollDatagram(into: buf) { us.handle(datagram: UnsafeRawBufferPointer(rebasing: buf[0..<k]), now: now) }
            while let e = us.pollEvent() { if case .connected(let k) = e { usKeys = k } }
            while let e = them.pollEvent() { if case .connected(let k) = e { themKeys = k } }
            now = now + .milliseconds(10)
        }
        guard let uk = usKeys, let tk = themKeys else { return check(false, "DTLS handshake completes") }
        guard let usSRTP = try? SRTPContext(keys: uk), let themSRTP = try? SRTPContext(keys: tk) else {
            return check(false, "SRTP contexts")
        }
        // A publisher packet from us, unprotected by the server side.
        let v = SyntheticVideoSource(config: .init(), ssrc: 5, payloadType: 96, seed: 3)
        v.beginFrame()
        let len = v.writePacket(0, sendNanos: 777, into: buf)
        guard let p = try? usSRTP.protectRTP(buf, length: len),
              let u = try? themSRTP.unprotectRTP(buf, length: p)
        else { return check(false, "SRTP round trip") }
        let h = RTPHeaderView(UnsafeRawBufferPointer(rebasing: buf[0..<u]))
        let payload = UnsafeRawBufferPointer(rebasing: buf[(h?.payloadOffset ?? 12)..<u])
        check(u == len && MediaStamp(reading: payload, at: MediaStamp.videoOffset)?.sendNanos == 777,
              "stamp survives SRTP")
        check(SyntheticVideoSource.isKeyframeStart(payload), "first frame is a keyframe after SRTP")
    }

    /// `--simulcast`: the layers' bitrates and picture sizes, their packets as the server
    /// reads them (RID and MID elements, keyframes, picture IDs one per frame, the stamp
    /// behind the longer descriptor), the offer as the server's answer builder takes it, and
    /// keyframe requests read per SSRC.
    static func simulcast(_ check: (Bool, String) -> Void) {
        let cfg = SyntheticVideoSource.Config(bitrate: 2_000_000, fps: 30, keyframeInterval: 2, keyframeRatio: 8)
        check(cfg.layer(0).bitrate == 2_000_000 && cfg.layer(1).bitrate == 500_000 && cfg.layer(2).bitrate == 125_000,
              "layer bitrates full, 1/4, 1/16")
        check(cfg.layer(1).width == 640 && cfg.layer(1).height == 360, "layer 1 is half the size")
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buf.deallocate() }
        let v = SyntheticVideoSource(config: cfg.layer(1), ssrc: 77, payloadType: 96, midExtensionID: 4, seed: 5, rid: "r1")
        v.ridExtensionID = LoadOffer.ridExtensionID
        var total = 0, counter: UInt32 = 0
        var lastPictureID: UInt16? = nil
        for f in 0..<60 {
            let frame = v.beginFrame()
            for i in 0..<frame.packetCount {
                let n = v.writePacket(i, sendNanos: 4242, into: buf)
                check(n > 0 && n <= 1200, "layer packet size \(n)")
                total += n - v.headerLength
                guard let rtp = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n])) else {
                    check(false, "the server parses a layer packet")
                    continue
                }
                let rid = rtp.extensionElement(id: LoadOffer.ridExtensionID).map { Array($0) } ?? []
                check(rid == Array("r1".utf8), "RID element \(rid)")
                check(rtp.extensionElement(id: 4).map { Array($0) } == [0x30], "MID element beside the RID")
                let payload = UnsafeRawBufferPointer(rtp.payload)
                check(payload.count >= 4 && payload[0] & 0x80 != 0 && payload[1] & 0x80 != 0, "descriptor with a picture ID")
                let pid = UInt16(payload[2] & 0x7F) << 8 | UInt16(payload[3])
                if i == 0 {
                    if let l = lastPictureID { check(pid == (l &+ 1) & 0x7FFF, "picture ID one more per frame") }
                    lastPictureID = pid
                    check(KeyframeDetector.isKeyframe(codec: .vp8, payload: payload) == frame.isKeyframe,
                          "the server's keyframe detection, frame \(f)")
                    check(SyntheticVideoSource.isKeyframeStart(payload) == frame.isKeyframe, "keyframe start, frame \(f)")
                    if frame.isKeyframe {
                        check(Int(payload[10]) | Int(payload[11]) << 8 == 640, "keyframe header width of layer 1")
                    }
                } else {
                    check(pid == lastPictureID, "one picture ID on every packet of a frame")
                }
                let stamp = MediaStamp(reading: payload, at: MediaStamp.videoOffsetWithPictureID)
                check(stamp?.sendNanos == 4242 && stamp?.counter == counter, "layer stamp behind the picture ID")
                check(MediaStamp.restamp(packet: buf, length: n, sendNanos: 99), "restamp finds the layer stamp")
                counter += 1
            }
        }
        let bits = Double(total * 8) / 2.0
        check(abs(bits - 500_000) / 500_000 < 0.15, "layer 1 bitrate \(bits)")

        // The offer, answered by the SFU's AnswerBuilder with every layer received.
        let cand = SocketAddress(ip: "127.0.0.1", port: 41000)!
        guard let id = try? DTLSIdentity.generate() else { return check(false, "identity") }
        let params = AnswerParameters(iceUfrag: "srvU", icePassword: "serverpassword0123456789",
                                      fingerprint: id.localFingerprint.value, candidates: [cand], sessionID: 7)
        var pub = LoadOffer(role: .publisher, iceUfrag: "cliU", icePassword: "clientpassword0123456789",
                            fingerprint: id.fingerprint, candidate: SocketAddress(ip: "127.0.0.1", port: 50000)!)
        pub.videoSSRC = 1111
        pub.audioSSRC = 2222
        pub.simulcastRIDs = ["r0", "r1", "r2"]
        do {
            let offer = try SDPParser.parse(pub.sdp)
            guard let video = offer.media.first(where: { $0.kind == .video }) else { return check(false, "offer video") }
            check(try SDPSimulcast.offered(in: video)?.rids == ["r0", "r1", "r2"], "the server reads the offered layers")
            check(video.ssrcs.isEmpty, "layers' SSRCs unsignalled")
            let a = try AnswerBuilder.buildAnswer(offerText: pub.sdp, parameters: params, role: .publisher)
            let info = try AnswerInfo(parsing: a.sdp)
            check(info.video?.simulcast == "recv r0;r1;r2", "answer receives the layers (\(info.video?.simulcast ?? "none"))")
            check(info.video?.ridExtensionID == LoadOffer.ridExtensionID, "answer keeps the RID extension")
            check(a.sdp.contains(SDPExtensionURI.repairedRTPStreamID), "answer keeps the repaired-RID extension")
        } catch {
            check(false, "simulcast offer answered by the SFU's AnswerBuilder: \(error)")
        }

        // Keyframe requests by SSRC: a PLI, then a FIR with two entries.
        var n = LoadRTCP.pli(into: buf, sender: 1, media: 0xAAAA)
        let fir: [UInt8] = [0x84, 206, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xBB, 0xBB, 1, 0, 0, 0, 0, 0, 0xCC, 0xCC, 2, 0, 0, 0]
        for b in fir {
            buf[n] = b
            n += 1
        }
        var named: [UInt32] = []
        LoadRTCP.forEachKeyframeRequest(UnsafeRawBufferPointer(rebasing: buf[0..<n])) { named.append($0) }
        check(named == [0xAAAA, 0xBBBB, 0xCCCC], "keyframe requests by SSRC \(named)")
    }

    /// Our offers answered by the project's own SDP answer builder (what livesfu sends back),
    /// read by `AnswerInfo`: credentials, candidate, DTLS role, payload types, SSRCs.
    static func answersFromSFU(_ check: (Bool, String) -> Void) {
        let cand = SocketAddress(ip: "127.0.0.1", port: 41000)!
        guard let id = try? DTLSIdentity.generate() else { return check(false, "identity") }
        let params = AnswerParameters(iceUfrag: "srvU", icePassword: "serverpassword0123456789",
                                      fingerprint: id.localFingerprint.value, candidates: [cand], sessionID: 7)
        var pub = LoadOffer(role: .publisher, iceUfrag: "cliU", icePassword: "clientpassword0123456789",
                            fingerprint: id.fingerprint, candidate: SocketAddress(ip: "127.0.0.1", port: 50000)!)
        pub.videoSSRC = 1111
        pub.audioSSRC = 2222
        do {
            let a = try AnswerBuilder.buildAnswer(offerText: pub.sdp, parameters: params, role: .publisher)
            let info = try AnswerInfo(parsing: a.sdp)
            check(info.iceUfrag == "srvU" && info.candidate == cand, "publisher answer: ICE and candidate")
            check(info.setup != "active", "publisher answer: the server is the DTLS server (\(info.setup))")
            check(info.video?.payloadType == LoadOffer.videoPT && info.audio?.payloadType == LoadOffer.audioPT,
                  "publisher answer: payload types")
        } catch {
            check(false, "publisher offer answered by the SFU's AnswerBuilder: \(error)")
        }
        let viewer = LoadOffer(role: .viewer, iceUfrag: "cliV", icePassword: "clientpassword0123456789",
                               fingerprint: id.fingerprint, candidate: SocketAddress(ip: "127.0.0.1", port: 50001)!)
        let tracks = [
            OutboundTrackSpec(kind: .video, streamID: "s", trackID: "v", ssrc: 3333, cname: "c"),
            OutboundTrackSpec(kind: .audio, streamID: "s", trackID: "a", ssrc: 4444, cname: "c"),
        ]
        do {
            let a = try AnswerBuilder.buildAnswer(offerText: viewer.sdp, parameters: params, role: .viewer(tracks: tracks))
            let info = try AnswerInfo(parsing: a.sdp)
            check(info.video?.ssrc == 3333 && info.audio?.ssrc == 4444, "viewer answer: the room's SSRCs")
            check(info.video?.payloadType == LoadOffer.videoPT, "viewer answer: VP8 payload type")
        } catch {
            check(false, "viewer offer answered by the SFU's AnswerBuilder: \(error)")
        }
    }
}
