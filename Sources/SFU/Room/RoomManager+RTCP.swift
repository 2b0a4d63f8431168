import Reactor

/// RTCP from peers: viewers' keyframe requests, NACKs and reports; publishers' sender
/// reports (forwarded, mapped, to every viewer) and BYE.
extension RoomManager {
    func handleRTCP(
        _ datagram: UnsafeMutableRawBufferPointer, session s: PeerSession, now: Instant
    ) {
        guard let srtp = s.srtp, s.state == .connected else {
            counters.droppedUnexpectedRTP &+= 1
            return
        }
        let length: Int
        do {
            length = try srtp.unprotectRTCP(datagram, length: datagram.count)
        } catch {
            countSRTPError(error, session: s)
            return
        }
        s.sentSRTCP = true
        guard let room = rooms[s.roomName] else { return }
        guard let compound = try? RTCPCompound(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<length]))
        else {
            counters.droppedMalformed &+= 1
            return
        }
        var sawBye = false
        var wantsKeyframe = false
        for packet in compound {
            switch packet {
            case .pli, .fir:
                if s.role == .viewer {
                    s.pliReceived &+= 1
                    // One being started from the keyframe in the history gets it from there.
                    wantsKeyframe = !(s.videoTrack?.catchingUp ?? false)
                }
            case .nack(let nack):
                s.nackReceived &+= 1
                if s.role == .viewer { answerNack(nack, viewer: s, room: room, now: now) }
            case .receiverReport(let rr):
                if s.role == .viewer {
                    for i in 0..<rr.reportCount { readViewerReport(rr.reportBlock(at: i), viewer: s, room: room, now: now) }
                }
            case .senderReport(let sr):
                if s.role == .publisher {
                    forwardSenderReport(sr, publisher: s, room: room, now: now)
                } else {
                    for i in 0..<sr.reportCount { readViewerReport(sr.reportBlock(at: i), viewer: s, room: room, now: now) }
                }
            case .twcc(let feedback):
                if s.role == .viewer {
                    s.bandwidth?.transportFeedback(feedback, rtt: Self.viewerRTT(s), now: now)
                    layerProbeMeasured(s, room: room, now: now)
                    downswitchOnFeedback(s, room: room, now: now)
                }
            case .remb(let remb):
                if s.role == .viewer {
                    s.bandwidth?.estimator.remb(bitrate: remb.bitrate, now: now)
                    downswitchOnFeedback(s, room: room, now: now)
                }
            case .bye:
                sawBye = true
            default:
                break
            }
        }
        if wantsKeyframe {
            counters.pliFromViewers &+= 1
            requestKeyframe(room: room, layer: s.videoTrack?.layer ?? 0, now: now)
        }
        if sawBye, s.role == .publisher { end(s, reason: .bye, now: now) }
    }

    /// A viewer's NACK: each lost packet is resent from its track's history (RTX or plain),
    /// within the viewer's repeat and bandwidth limits.
    func answerNack(
        _ nack: RTCPNack, viewer s: PeerSession, room: Room, now: Instant
    ) {
        let media = nack.mediaSSRC
        guard let track = s.viewerTracks.first(where: { room.fanout($0.kind).ssrc == media }) else {
            counters.nackUnknownSSRC &+= 1
            return
        }
        counters.nackPacketsFromViewers &+= 1
        // Held back for a move down (its path is full): repairs of the layer it leaves would
        // only wait in the same queue.
        guard !track.heldForMove else { return }
        let fanout = room.fanout(of: track)
        let rewrites = track.rewrites
        let first = SequenceNumber(track.firstSequenceOnLayer)
        let offset = track.offsets.sequence
        nack.forEachLostSequence { seq in
            // A viewer that moved between layers names packets in its own numbering; those
            // from before the move were another layer's.
            if rewrites, first.isNewer(than: SequenceNumber(seq)) { return }
            let own = rewrites ? seq &- offset : seq
            // Under a temporal cap its numbers leave out what was held back.
            var mapped: UInt16? = own
            if let filter = track.temporal { mapped = filter.inputSequence(forOutput: own) }
            guard let input = mapped else {
                counters.nackTemporalUnmapped &+= 1
                return
            }
            fanout.resend(sequenceNumber: input, to: track, now: now, output: output)
        }
        noteDeadline(track.nack.nextFollowUpTime)
    }

    /// A viewer's report block about one of our outbound streams: loss and RTT figures, and
    /// the RTT paces that viewer's NACK repeat suppression.
    func readViewerReport(_ block: RTCPReportBlock, viewer s: PeerSession, room: Room, now: Instant) {
        for t in s.viewerTracks where room.fanout(t.kind).ssrc == block.ssrc {
            t.reports.receiverReport(block, now: now)
            t.nack.roundTripTime = t.reports.roundTripTime
            s.bandwidth?.estimator.receiverReport(
                fractionLost: block.fractionLost, bytesSent: s.viewerTracks.reduce(0) { $0 &+ $1.bytesSent &+ $1.rtxBytesSent },
                rtt: t.reports.roundTripTime, now: now)
        }
    }

    /// A viewer's round-trip time from its receiver reports (its video track's when known).
    static func viewerRTT(_ s: PeerSession) -> Duration? {
        s.viewerTracks.first { $0.kind == .video && $0.reports.roundTripTime != nil }?.reports.roundTripTime
            ?? s.viewerTracks.first { $0.reports.roundTripTime != nil }?.reports.roundTripTime
    }

    /// A publisher's SR: remembered for our RR's LSR/DLSR and, mapped to the outbound stream,
    /// sent on to every viewer of the track so they can sync audio and video.
    func forwardSenderReport(
        _ sr: RTCPSenderReport, publisher p: PeerSession, room: Room, now: Instant
    ) {
        let ssrc = sr.ssrc
        guard let stream = p.inbound.first(where: { $0.ssrc == ssrc && !$0.isRTX }) else { return }
        stream.receptionStats.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, now: now)
        let fanout = room.fanout(stream.kind, layer: stream.layer)
        guard fanout.currentSourceSSRC == ssrc else { return }
        fanout.senderReports.publisherReport(
            ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp), now: now)
        fanout.recorder?.senderReport(
            ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp))
        for viewer in fanout.viewers { sendSenderReport(fanout, to: viewer, now: now) }
        if !room.shards.isEmpty {
            sendReportToShards(
                room, fanout: fanout, ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp))
        }
    }

    /// Our sender report (mapped from the publisher's) and SDES to one viewer of a track.
    func sendSenderReport(_ fanout: TrackFanout, to viewer: ViewerTrack, now: Instant) {
        let ssrc = fanout.ssrc
        let cname = fanout.cname
        var ntp: UInt64?
        let sent = RTCPSender.send(to: viewer.session, on: output, capacity: 200) { w in
            ntp = fanout.senderReports.write(
                into: &w, ssrc: ssrc, packetCount: viewer.packetsSent, octetCount: viewer.bytesSent,
                timestampOffset: viewer.rewrites ? viewer.offsets.timestamp : 0, now: now)
            w.addSourceDescription(ssrc: ssrc, cname: cname)
            return ntp != nil
        }
        if sent, let ntp {
            viewer.reports.senderReportSent(ntpTimestamp: ntp, now: now)
            counters.senderReportsToViewers &+= 1
        }
    }
}
