import Reactor

/// Publisher RTP: decrypted, RTX repairs unwrapped, congestion and loss bookkeeping, then
/// into its track's fan-out (and recording).
extension RoomManager {
    func handleRTP(
        _ datagram: UnsafeMutableRawBufferPointer, session s: PeerSession, now: Instant
    ) {
        guard s.role == .publisher, let srtp = s.srtp, s.state == .connected else {
            counters.droppedUnexpectedRTP &+= 1
            return
        }
        let length: Int
        do {
            length = try srtp.unprotectRTP(datagram, length: datagram.count)
        } catch {
            countSRTPError(error, session: s)
            return
        }
        let packet = UnsafeMutableRawBufferPointer(rebasing: datagram[0..<length])
        guard var view = try? RTPPacket(parsing: packet) else {
            counters.droppedMalformed &+= 1
            return
        }
        s.packetsIn &+= 1
        s.bytesIn &+= UInt64(length)
        // Every packet of the transport counts for congestion control, RTX and probes included.
        if s.transportCC != nil, let tseq = view.transportSequenceNumber(id: s.transportCCExtensionID) {
            s.transportCC?.record(sequenceNumber: tseq, arrival: now)
            if s.transportCC?.isDue(now: now) == true, let room = rooms[s.roomName] {
                sendTransportFeedback(s, room: room, now: now)
            }
        }
        guard var stream = s.inboundStream(for: view) else {
            counters.droppedUnknownSSRC &+= 1
            srtp.forgetInboundStream(ssrc: view.ssrc)  // no libsrtp state for an SSRC we refused
            return
        }
        guard let room = rooms[s.roomName] else { return }
        var repaired = false
        if stream.isRTX {
            // A repair (RFC 4588): back to the original packet, then on like any other.
            guard let primary = s.inbound.first(where: { !$0.isRTX && $0.kind == stream.kind && $0.layer == stream.layer })
            else {
                counters.droppedPublisherRTX &+= 1
                return
            }
            let n: Int
            do {
                n = try RTXPacketizer.unwrap(view, ssrc: primary.ssrc, payloadType: primary.media.payloadType)
            } catch {
                counters.publisherRTXProbes &+= 1  // padding-only bandwidth probe
                return
            }
            guard let original = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<n]))
            else {
                counters.droppedMalformed &+= 1
                return
            }
            // Only a packet we are missing is forwarded: browsers also send RTX copies of
            // packets already received, as bandwidth probes.
            guard primary.nackGenerator.repairArrived(sequenceNumber: original.sequenceNumber, now: now) else {
                counters.publisherRTXProbes &+= 1
                return
            }
            view = original
            stream = primary
            repaired = true
            primary.repaired &+= 1
            counters.publisherRTXRepaired &+= 1
        }
        stream.receptionStats.record(
            sequenceNumber: view.sequenceNumber, timestamp: view.timestamp, arrival: now, updateJitter: !repaired)
        if !repaired, stream.media.feedback.contains(.nack),
            stream.nackGenerator.received(sequenceNumber: view.sequenceNumber, now: now)
                || stream.nackGenerator.isDue(now: now)
        {
            sendNack(s, stream: stream, room: room, now: now)
        }
        var isKeyframe = false
        if stream.kind == .video, let codec = VideoCodec(stream.media.codecName) {
            isKeyframe = KeyframeDetector.isKeyframe(codec: codec, payload: UnsafeRawBufferPointer(view.payload))
        }
        let fanout = room.fanout(stream.kind, layer: stream.layer)
        if fanout.forward(view, isKeyframe: isKeyframe, now: now, output: output) {
            tracksToFlush.append(fanout)
        }
        if !room.shards.isEmpty {
            sendToShards(room, UnsafeRawBufferPointer(view.buffer), kind: stream.kind, layer: stream.layer, keyframe: isKeyframe)
        }
        if isKeyframe, room.videoLayers.count > 1 || !fanout.viewersCatchingUp.isEmpty { keyframedLayers.append((room, fanout)) }
        if let r = fanout.recorder {
            if r.takeKeyframeRequest() { requestKeyframe(room: room, layer: fanout.layer, now: now) }
            noteDeadline(r.deadline)
        }
        noteDeadline(stream.nackGenerator.nextDueTime)
        noteDeadline(s.transportCC?.nextDueTime)
    }

    func countSRTPError(_ error: SRTPError, session s: PeerSession) {
        if case .tooManyStreams = error {
            counters.droppedTooManySSRCs &+= 1
        } else {
            s.srtpErrors &+= 1
            counters.droppedSRTPErrors &+= 1
        }
    }
}
