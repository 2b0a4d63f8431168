import SFU

/// The stateless targets: one parser (and what the server does with its result) per input.
enum ParserTargets {
    static func stun(_ input: UnsafeRawBufferPointer) {
        guard let m = try? StunMessage(parsing: input) else { return }
        check(m.bytes.count <= input.count, "STUN message longer than its input")
        if let user = m.usernameBytes { check(user.count <= input.count, "USERNAME past the input") }
        _ = m.username
        _ = m.errorReason
        m.forEachAttribute { _, value in check(value.count <= input.count, "attribute past the input") }
        m.forEachUnknownComprehensionRequired { _ in }
        _ = try? m.validateFingerprint()
        _ = try? m.validateMessageIntegrity(key: [UInt8](repeating: 1, count: 22))
        _ = IceLiteAgent.localUfragBytes(in: m)
    }

    static func rtp(_ input: UnsafeRawBufferPointer) {
        withCopy(of: input) { copy in
            guard let p = try? RTPPacket(parsing: copy) else { return }
            check(p.headerLength + p.paddingLength <= copy.count, "RTP header and padding exceed the packet")
            check(p.payload.count == copy.count - p.headerLength - p.paddingLength, "RTP payload length")
            for i in 0..<p.csrcCount { _ = p.csrc(at: i) }
            p.forEachExtension { _, value in check(value.count <= copy.count, "extension past the packet") }
            for id: UInt8 in [1, 2, 3, 14] {
                _ = p.extensionElement(id: id)
                _ = p.absSendTime(id: id)
                _ = p.transportSequenceNumber(id: id)
                _ = p.midString(id: id)
            }
            p.rewriteExtensionIDs { $0 &+ 1 }
            for codec in [VideoCodec.vp8, .h264, .vp9, .av1] {
                _ = KeyframeDetector.isKeyframe(codec: codec, payload: UnsafeRawBufferPointer(p.payload))
            }
        }
    }

    /// Every typed view of every packet of a compound, every field read; the SSRC setters the
    /// fan-out uses are applied to a writable copy and read back.
    static func rtcp(_ input: UnsafeRawBufferPointer) {
        guard let compound = try? RTCPCompound(parsing: input) else { return }
        var packets = 0
        var total = 0
        for packet in compound {
            packets += 1
            total += packet.header.bytes.count
            readEveryField(packet)
        }
        check(packets == compound.packetCount, "compound iterates \(packets) of \(compound.packetCount) packets")
        check(total <= input.count, "RTCP packets longer than the compound")
        withCopy(of: input) { copy in
            guard let writable = try? RTCPCompound(parsing: copy) else {
                fatalError("invariant violated: a copy of a parsed compound does not parse")
            }
            for packet in writable {
                switch packet {
                case .senderReport(let sr):
                    for i in 0..<sr.reportCount {
                        sr.setReportBlockSSRC(0xA1B2_C3D4, at: i)
                        check(sr.reportBlock(at: i).ssrc == 0xA1B2_C3D4, "SR block SSRC not rewritten")
                    }
                case .receiverReport(let rr):
                    for i in 0..<rr.reportCount {
                        rr.setReportBlockSSRC(0xA1B2_C3D4, at: i)
                        check(rr.reportBlock(at: i).ssrc == 0xA1B2_C3D4, "RR block SSRC not rewritten")
                    }
                case .nack(let nack):
                    nack.mediaSSRC = 0x0102_0304
                    check(nack.mediaSSRC == 0x0102_0304, "NACK media SSRC not rewritten")
                case .bye(let bye):
                    for i in 0..<bye.ssrcCount { bye.setSSRC(7, at: i) }
                case .fir(let fir):
                    for i in 0..<fir.entryCount { fir.setEntrySSRC(9, at: i) }
                case .remb(let remb):
                    for i in 0..<remb.ssrcCount { remb.setSSRC(11, at: i) }
                default:
                    break
                }
            }
        }
    }

    static func readEveryField(_ packet: RTCPPacket) {
        let size = packet.header.bytes.count
        _ = packet.header.packetType
        _ = packet.header.count
        switch packet {
        case .senderReport(let sr):
            _ = (sr.ssrc, sr.ntpTimestamp, sr.rtpTimestamp, sr.packetCount, sr.octetCount)
            check(28 + 24 * sr.reportCount <= size, "SR report blocks past the packet")
            for i in 0..<sr.reportCount { readBlock(sr.reportBlock(at: i)) }
        case .receiverReport(let rr):
            _ = rr.ssrc
            check(8 + 24 * rr.reportCount <= size, "RR report blocks past the packet")
            for i in 0..<rr.reportCount { readBlock(rr.reportBlock(at: i)) }
        case .sdes(let sdes):
            var ssrcs: [UInt32] = []
            var items = 0
            sdes.forEachItem { ssrc, _, value in
                check(value.count <= size, "SDES item longer than the packet")
                items += 1
                if ssrcs.count < 32 { ssrcs.append(ssrc) }
            }
            check(items <= size / 2, "more SDES items than the packet can hold")
            for s in ssrcs { _ = sdes.cname(of: s) }
        case .bye(let bye):
            check(4 + 4 * bye.ssrcCount <= size, "BYE SSRCs past the packet")
            for i in 0..<bye.ssrcCount { _ = bye.ssrc(at: i) }
        case .nack(let nack):
            _ = (nack.senderSSRC, nack.mediaSSRC)
            check(12 + 4 * nack.pairCount == size, "NACK pairs do not fill the packet")
            for i in 0..<nack.pairCount { _ = nack.pair(at: i) }
            var lost = 0
            nack.forEachLostSequence { _ in lost += 1 }
            check(lost >= nack.pairCount && lost <= 17 * nack.pairCount, "NACK lost count \(lost)")
        case .pli(let pli):
            _ = (pli.senderSSRC, pli.mediaSSRC)
        case .fir(let fir):
            _ = fir.senderSSRC
            check(12 + 8 * fir.entryCount <= size, "FIR entries past the packet")
            for i in 0..<fir.entryCount { _ = fir.entry(at: i) }
        case .remb(let remb):
            _ = (remb.senderSSRC, remb.bitrate)
            check(20 + 4 * remb.ssrcCount <= size, "REMB SSRCs past the packet")
            for i in 0..<remb.ssrcCount { _ = remb.ssrc(at: i) }
        case .twcc(let twcc):
            _ = (twcc.senderSSRC, twcc.mediaSSRC, twcc.referenceTime, twcc.feedbackCount)
            var index = 0
            let base = twcc.baseSequence
            twcc.forEachPacket { seq, _ in
                check(seq == base &+ UInt16(truncatingIfNeeded: index), "TWCC sequence out of order")
                index += 1
            }
            check(index <= twcc.statusCount, "TWCC reports \(index) of \(twcc.statusCount) packets")
        case .other:
            break
        }
    }

    static func readBlock(_ b: RTCPReportBlock) {
        _ = (b.ssrc, b.fractionLost, b.cumulativeLost, b.extendedHighestSequence, b.jitter)
        _ = (b.lastSenderReport, b.delaySinceLastSenderReport)
    }

    /// RTX unwrap of the raw input, and wrap → unwrap must give back the original packet
    /// (padding dropped) with its SSRC, payload type and sequence number.
    static func rtx(_ input: UnsafeRawBufferPointer) {
        withCopy(of: input) { copy in
            guard let p = try? RTPPacket(parsing: copy) else { return }
            if let n = try? RTXPacketizer.unwrap(p, ssrc: 0x1111_2222, payloadType: 96) {
                check(n <= copy.count, "unwrapped RTX longer than its input")
                check(n >= 12, "unwrapped RTX shorter than an RTP header")
                let original = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: copy[0..<n]))
                check(original?.ssrc == 0x1111_2222 && original?.payloadType == 96, "unwrapped header")
            }
        }
        withCopy(of: input) { copy in
            guard let p = try? RTPPacket(parsing: copy) else { return }
            let (ssrc, pt, seq, header) = (p.ssrc, p.payloadType, p.sequenceNumber, p.headerLength)
            let media = Array(UnsafeRawBufferPointer(p.payload))
            var out = [UInt8](repeating: 0, count: copy.count + 2)
            out.withUnsafeMutableBytes { out in
                guard
                    let n = try? RTXPacketizer.wrap(
                        UnsafeRawBufferPointer(copy), into: out, ssrc: 0x5555_6666, sequenceNumber: 7, payloadType: 97)
                else { fatalError("invariant violated: a parsed packet does not wrap") }
                check(n == header + 2 + media.count, "RTX length \(n)")
                let wrapped = UnsafeMutableRawBufferPointer(rebasing: out[0..<n])
                guard let view = try? RTPPacket(parsing: wrapped) else {
                    fatalError("invariant violated: an RTX packet does not parse")
                }
                check(view.ssrc == 0x5555_6666 && view.payloadType == 97 && view.sequenceNumber == 7, "RTX header")
                guard let m = try? RTXPacketizer.unwrap(view, ssrc: ssrc, payloadType: pt) else {
                    fatalError("invariant violated: a wrapped packet does not unwrap")
                }
                check(m == header + media.count, "unwrapped length \(m)")
                let back = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: out[0..<m]))
                check(back?.ssrc == ssrc && back?.payloadType == pt && back?.sequenceNumber == seq, "round trip header")
                check(back.map { Array(UnsafeRawBufferPointer($0.payload)) } == media, "round trip payload")
            }
        }
    }

    static func sdp(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let offer = try? SDPParser.parse(text) else { return }
        // Whatever parses must re-parse to the same model.
        check((try? SDPParser.parse(SDPWriter.write(offer))) == offer, "SDP round trip differs")
        guard let answer = try? AnswerBuilder.buildAnswer(offer: offer, parameters: parameters, role: .publisher)
        else { return }
        checkAnswer(answer, offer: offer)
    }

    /// Answers in the viewer role: the room's tracks (with or without a publisher's codec,
    /// with or without RTX, as the first byte chooses) against the offer in the rest.
    static func answerViewer(_ input: UnsafeRawBufferPointer) {
        var cursor = FuzzInput(input)
        let choice = cursor.byte()
        let text = String(decoding: cursor.rest(), as: UTF8.self)
        guard let offer = try? SDPParser.parse(text) else { return }
        let videoCodecs: [SDPCodec?] = [
            nil,
            SDPCodec(payloadType: 96, encodingName: "VP8", clockRate: 90000, feedback: [.nack, .nackPLI]),
            SDPCodec(
                payloadType: 102, encodingName: "H264", clockRate: 90000,
                parameters: [.init("profile-level-id", "42e01f"), .init("packetization-mode", "1")]),
            SDPCodec(payloadType: 98, encodingName: "VP9", clockRate: 90000),
        ]
        let audio = OutboundTrackSpec(
            kind: .audio, streamID: "room", trackID: "audio", ssrc: 0xAA00_0001, cname: "fuzz",
            codec: choice & 1 == 0 ? nil : SDPCodec(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2))
        let video = OutboundTrackSpec(
            kind: .video, streamID: "room", trackID: "video", ssrc: 0xBB00_0001,
            rtxSSRC: choice & 2 == 0 ? nil : 0xBB00_0002, cname: "fuzz", codec: videoCodecs[Int(choice >> 2) & 3])
        var tracks = [audio, video]
        if choice & 0x10 != 0 { tracks.removeFirst() }
        if choice & 0x20 != 0 { tracks.append(video) }
        guard let answer = try? AnswerBuilder.buildAnswer(offer: offer, parameters: parameters, role: .viewer(tracks: tracks))
        else { return }
        checkAnswer(answer, offer: offer)
        let announced = Set(tracks.flatMap { [$0.ssrc] + ($0.rtxSSRC.map { [$0] } ?? []) })
        for m in answer.session.media {
            check(m.direction != .recvonly && m.direction != .sendrecv, "viewer answer receives on \(m.mid ?? "?")")
            for s in m.ssrcs { check(announced.contains(s.ssrc), "viewer answer announces unknown SSRC \(s.ssrc)") }
        }
    }

    /// An answer has one m-line per offered one, re-parses to its own model, and accepts
    /// only m-lines that were offered.
    static func checkAnswer(_ answer: SDPAnswer, offer: SessionDescription) {
        check(answer.session.media.count == offer.media.count, "answer m-line count")
        let reparsed = try? SDPParser.parse(answer.sdp)
        check(reparsed == answer.session, "answer does not re-parse to its model")
        check(answer.media.count + answer.rejected.count <= offer.media.count, "accepted + rejected > offered")
    }

    /// A well-formed SHA-256 fingerprint: the answer must re-parse, and the parser refuses
    /// fingerprints of fewer than 16 bytes.
    static let parameters = AnswerParameters(
        iceUfrag: "abcd", icePassword: "0123456789012345678901",
        fingerprint: (0..<32).map { _ in "AB" }.joined(separator: ":"), candidates: [], sessionID: 1)

    static func trickle(_ input: UnsafeRawBufferPointer) {
        guard let fragment = try? TrickleFragment.parse(String(decoding: input, as: UTF8.self)) else { return }
        _ = fragment.credentials
        _ = try? TrickleFragment.parse(fragment.text)
    }

    static func withCopy(of input: UnsafeRawBufferPointer, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 8)
        defer { copy.deallocate() }
        if input.count > 0 { copy.copyMemory(from: input) }
        body(copy)
    }
}
