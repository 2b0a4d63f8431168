import Reactor

/// The RTCP this server sends its publishers, each through `RTCPSender`: keyframe requests
/// (throttled), NACKs, transport-wide feedback, receiver reports and REMB; and the repair
/// follow-ups to viewers.
extension RoomManager {
    /// Asks the publisher for a keyframe of a video layer (simulcast; 0 without), at most
    /// once per throttle interval per layer.
    func requestKeyframe(room: Room, layer: Int = 0, now: Instant) {
        let track = room.fanout(.video, layer: layer)
        if let held = Self.keyframeRequestHeld(after: room.lastKeyframeRequest, layer: layer, now: now) {
            track.keyframeThrottle.hold(until: held)
            noteDeadline(held)
            return
        }
        guard track.keyframeThrottle.request(now: now) else {
            noteDeadline(track.keyframeThrottle.nextRetryTime)  // held back: sent when due
            return
        }
        sendPLI(room: room, layer: track.layer, now: now)
        noteDeadline(track.keyframeThrottle.nextRetryTime)
    }

    /// libwebrtc's sender takes one keyframe request per 300 ms for all of its simulcast
    /// streams (`EncoderRtcpFeedback`) and drops the rest: a request for another layer sent
    /// sooner after the last is held back until this long after it (a viewer aimed at h then
    /// at once at q otherwise waited for q's unanswered-request retry, a second).
    static let keyframeRequestSpacing: Duration = .milliseconds(350)

    /// When a keyframe request for `layer` may go upstream, if not now, after the last one
    /// sent (`Room.lastKeyframeRequest`).
    static func keyframeRequestHeld(after last: (at: Instant, layer: Int)?, layer: Int, now: Instant) -> Instant? {
        guard let last, last.layer != layer, now - last.at < keyframeRequestSpacing else { return nil }
        return last.at + keyframeRequestSpacing
    }

    /// From `tick`: the layers' held-back and unanswered keyframe requests that are due, one
    /// layer's at a time (`keyframeRequestSpacing`).
    func retryKeyframeRequests(_ room: Room, now: Instant) {
        for f in room.videoLayers where f.keyframeThrottle.nextRetryTime.map({ !(now < $0) }) ?? false {
            if let held = Self.keyframeRequestHeld(after: room.lastKeyframeRequest, layer: f.layer, now: now) {
                f.keyframeThrottle.hold(until: held)
            } else if f.keyframeThrottle.retryDue(now: now) {
                sendPLI(room: room, layer: f.layer, now: now)
            }
        }
    }

    func sendPLI(room: Room, layer: Int = 0, now: Instant) {
        room.lastKeyframeRequest = (now, layer)
        guard let p = room.publisher else {
            if room.shardSource != nil {
                sendShardKeyframeRequest(room: room, layer: layer)  // a shard: to the room's owner core
            } else {
                sendRelayKeyframeRequest(room: room)  // an edge's room: upstream through the relay
            }
            return
        }
        // Before its first packet the stream is known only from the offer's a=ssrc (what the
        // keyframe request at connect, for viewers and recordings, goes to).
        let stream = p.inbound.first(where: { $0.kind == .video && !$0.isRTX && $0.layer == layer })
        guard let media = stream?.media ?? p.tracks.first(where: { TrackKind($0.kind) == .video }),
            let mediaSSRC = stream?.ssrc ?? media.remoteSSRC
        else { return }
        let sender = room.video.ssrc
        // FIR (RFC 5104) only where the publisher negotiated it and not PLI.
        let useFIR = !media.feedback.contains(.pli) && media.feedback.contains(.fir)
        let firSequence = p.firSequence &+ 1
        let sent = RTCPSender.send(to: p, on: output, capacity: 64) { w in
            if useFIR {
                w.addFullIntraRequest(senderSSRC: sender, mediaSSRC: mediaSSRC, sequenceNumber: firSequence)
            } else {
                w.addPictureLossIndication(senderSSRC: sender, mediaSSRC: mediaSSRC)
            }
            return true
        }
        guard sent else { return }
        if useFIR { p.firSequence = firSequence }
        counters.pliSent &+= 1
    }

    /// NACKs upstream the publisher packets that are due (new gaps, retries).
    func sendNack(_ p: PeerSession, stream: InboundStream, room: Room, now: Instant) {
        guard p.state == .connected else { return }
        let sender = room.fanout(stream.kind).ssrc
        let media = stream.ssrc
        let sent = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 100) { buf -> Int in
            let n = stream.nackGenerator.collect(now: now, into: buf)
            guard n > 0 else { return 0 }
            let lost = UnsafeBufferPointer(rebasing: buf[0..<n])
            let queued = RTCPSender.send(to: p, on: output, capacity: 600) { w in
                w.addNack(senderSSRC: sender, mediaSSRC: media, lost: lost)
                return true
            }
            return queued ? n : 0
        }
        guard sent > 0 else { return }
        p.nacksSent &+= 1
        counters.upstreamNacksSent &+= 1
        counters.upstreamNackedPackets &+= UInt64(sent)
    }

    /// Sends the publisher the transport-wide feedback that is pending.
    func sendTransportFeedback(_ p: PeerSession, room: Room, now: Instant) {
        guard p.transportCC != nil else { return }
        let media = (p.inbound.first { !$0.isRTX && $0.kind == .video } ?? p.inbound.first)?.ssrc ?? 0
        let sender = room.video.ssrc
        // A long window (after a pause) may need more than one packet; bounded per call.
        for _ in 0..<4 {
            let sent = RTCPSender.send(to: p, on: output, capacity: 1200) { w in
                p.transportCC?.build(into: &w, senderSSRC: sender, mediaSSRC: media, now: now) == true
            }
            guard sent else { break }
            counters.transportFeedbacksSent &+= 1
        }
    }

    /// Receiver reports for the publisher's media streams (loss, jitter, LSR/DLSR for its RTT).
    func sendReceiverReports(_ p: PeerSession, room: Room, now: Instant) {
        guard p.state == .connected else { return }
        var blocks: [RTCPReportBlock] = []  // once a second per publisher, not per packet
        for st in p.inbound where !st.isRTX {
            if let b = st.receptionStats.reportBlock(ssrc: st.ssrc, now: now) { blocks.append(b) }
        }
        guard !blocks.isEmpty else { return }
        let sender = room.video.ssrc
        let queued = RTCPSender.send(to: p, on: output, capacity: 8 + 24 * 31 + 64) { w in
            w.addReceiverReport(ssrc: sender, reports: blocks.prefix(31))
            return true
        }
        if queued { counters.receiverReportsSent &+= 1 }
    }

    /// The bitrate the publisher may send (REMB), so a browser ramps up.
    func sendREMB(_ p: PeerSession, room: Room) {
                let ssrcs = p.inbound.filter { !$0.isRTX }.map(\.ssrc)
        let bitrate = configuration.publisherMaxBitrate
        let sender = room.video.ssrc
        RTCPSender.send(to: p, on: output, capacity: 96) { w in
            w.addRemb(senderSSRC: sender, bitrate: bitrate, ssrcs: ssrcs)
            return true
        }
    }

    /// The follow-up copies of earlier repairs that are due (`NackResponder`).
    func sendRepairFollowUps(_ room: Room, now: Instant) {
        for f in room.fanouts { f.sendDueFollowUps(now: now, output: output) }
    }
}
