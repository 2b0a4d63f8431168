import Reactor

/// Repairs: a viewer's NACKs answered from the history (as RTX where it negotiated RTX), the
/// follow-up copies its `NackResponder` queues, and `sendStored`, the one path by which a
/// stored packet goes to one viewer (repairs, instant starts, probes), rewritten as the batch
/// fan-out rewrites live copies.
extension TrackFanout {
    /// Answers one sequence number of a viewer's NACK from the history: as RTX on the room's
    /// RTX SSRC when the viewer negotiated it, else as a plain resend. The viewer's
    /// `NackResponder` drops repeats within an RTT, caps the resend bandwidth, and queues a
    /// follow-up copy (`sendFollowUps`).
    func resend(sequenceNumber seq: UInt16, to viewer: ViewerTrack, now: Instant, output: DatagramQueue) {
        nackRequests &+= 1
        guard viewer.nack.admit(now: now) else { return }
        guard let history, let stored = history.packet(sequenceNumber: seq, now: now) else {
            viewer.nack.recordMissing()
            return
        }
        guard canRepair(viewer) else { return }
        let length = Self.repairLength(stored, to: viewer)
        guard viewer.nack.decide(sequenceNumber: seq, bytes: length, now: now) == .resend else { return }
        guard sendRepair(stored, to: viewer, now: now, output: output) else {
            viewer.nack.refund(bytes: length)
            return
        }
        nacksAnswered &+= 1
        viewer.nack.scheduleFollowUp(sequenceNumber: seq, now: now)
        if viewer.nack.hasFollowUps, !viewer.awaitsFollowUps {
            viewer.awaitsFollowUps = true
            viewersWithFollowUps.append(viewer)
        }
    }

    /// Sends the repair follow-ups that are due (see `NackResponder`), visiting only the viewers that have some
    /// queued (a tick does not walk every viewer of every room).
    func sendDueFollowUps(now: Instant, output: DatagramQueue) {
        var i = 0
        while i < viewersWithFollowUps.count {
            let viewer = viewersWithFollowUps[i]
            sendFollowUps(to: viewer, now: now, output: output)
            if viewer.nack.hasFollowUps {
                i += 1
            } else {
                viewer.awaitsFollowUps = false
                viewersWithFollowUps.swapAt(i, viewersWithFollowUps.count - 1)
                viewersWithFollowUps.removeLast()
            }
        }
    }

    /// When the earliest follow-up copy to any viewer is due.
    var nextFollowUpTime: Instant? {
        var t: Instant?
        for v in viewersWithFollowUps { t = Instant.earliest(t, v.nack.nextFollowUpTime) }
        return t
    }

    func sendFollowUps(to viewer: ViewerTrack, now: Instant, output: DatagramQueue) {
        while let seq = viewer.nack.takeDueFollowUp(now: now) {
            guard let history, let stored = history.packet(sequenceNumber: seq, now: now), canRepair(viewer) else {
                viewer.nack.followUpNotSent()
                continue
            }
            let length = Self.repairLength(stored, to: viewer)
            guard viewer.nack.decideFollowUp(sequenceNumber: seq, bytes: length, now: now) == .resend else { continue }
            if !sendRepair(stored, to: viewer, now: now, output: output) { viewer.nack.followUpNotSent(refundingBytes: length) }
        }
    }

    /// Bytes a repair of `stored` takes on the wire to this viewer (RTX adds the original
    /// sequence number), before SRTP.
    private static func repairLength(_ stored: UnsafeRawBufferPointer, to viewer: ViewerTrack) -> Int {
        stored.count + (viewer.rtxPayloadType == nil ? 0 : 2)
    }

    func canRepair(_ viewer: ViewerTrack) -> Bool {
        let session = viewer.session
        guard session.state == .connected, session.address != nil, session.rtpProtector != nil, let source else {
            return false
        }
        return viewer.codec == source.codecName
    }

    /// Sends one stored packet to a viewer as RTX (when negotiated) or as it is. True when queued.
    private func sendRepair(
        _ stored: UnsafeRawBufferPointer, to viewer: ViewerTrack, now: Instant, output: DatagramQueue
    ) -> Bool {
        sendStored(stored, to: viewer, rtxPayloadType: viewer.rtxPayloadType, now: now, output: output)
    }

    /// Sends one stored packet to a viewer: RTX-wrapped with `rtxPayloadType`, or as it is
    /// (a plain repair, an instant start's copy) when nil. True when queued.
    func sendStored(
        _ stored: UnsafeRawBufferPointer, to viewer: ViewerTrack, rtxPayloadType rtxPT: UInt8?, now: Instant,
        output: DatagramQueue, repair: Bool = true
    ) -> Bool {
        let session = viewer.session
        guard let address = session.address, let srtp = session.rtpProtector else { return false }
        let length = stored.count + (rtxPT == nil ? 0 : 2)
        let pt = viewer.payloadType
        let rtxSSRC = self.rtxSSRC
        let rtxSeq = viewer.nack.nextRTXSequence
        // The header (extensions included) is copied as stored: the element is where it was.
        let numbers = viewer.stampsTransportSequence ? session.transportSequence : nil
        let sequenceOffset = numbers == nil ? 0 : numbering.offset(in: stored)
        // A temporal cap: a packet it holds back is not sent (a repair, a start's copy or a
        // probe's duplicate alike); one it sends gets its numbers as in the fan-out.
        var offsets = viewer.offsets
        var adjusts = viewer.rewrites
        if let filter = viewer.temporal, stored.count >= 12 {
            let info = TemporalInfo(packet: stored, codec: temporalCodec)
            guard let d = filter.admit(sequenceNumber: WireBytes.u16(stored, 2), info: info) else {
                temporalHeld &+= 1
                return false
            }
            if !adjusts { offsets = StreamOffsets(codec: VideoCodec(viewer.codec)) }
            offsets.sequence &-= d.sequence
            offsets.pictureID &-= d.pictureID
            adjusts = true
        }
        var failed = false
        let queued = output.send(to: address, capacity: length + 16) { slot in
            var n = stored.count
            if let rtxPT {
                guard let wrapped = try? RTXPacketizer.wrap(
                    stored, into: slot, ssrc: rtxSSRC, sequenceNumber: rtxSeq, payloadType: rtxPT)
                else {
                    failed = true
                    return 0
                }
                n = wrapped
            } else {
                slot.copyMemory(from: stored)
                slot[1] = (slot[1] & 0x80) | pt
            }
            if adjusts { offsets.apply(to: slot, length: n, rtx: rtxPT != nil) }
            if let numbers { TransportSequenceNumbering.stamp(slot, at: sequenceOffset, numbers, bytes: n, time: now) }
            let protected = Self.adaptAndProtect(slot, length: n, viewer: viewer, srtp: srtp)
            failed = protected == 0
            return protected
        }
        guard queued, !failed else {
            if failed { protectErrors &+= 1 } else { sendQueueFull &+= 1 }
            return false
        }
        if rtxPT != nil {
            _ = viewer.nack.takeRTXSequence()
        }
        if rtxPT != nil, repair {  // a probe's copies are counted as probes
            viewer.rtxPacketsSent &+= 1
            viewer.rtxBytesSent &+= UInt64(length)
            rtxPacketsOut &+= 1
            rtxBytesOut &+= UInt64(length)
        }
        return true
    }

    /// The last per-viewer steps of a repair copy already in its send slot: the viewer's
    /// extension ids, then SRTP in place. Returns the protected length, 0 when protect failed.
    private static func adaptAndProtect(
        _ slot: UnsafeMutableRawBufferPointer, length: Int, viewer: ViewerTrack, srtp: SRTPProtector
    ) -> Int {
        if !viewer.extensionMap.isIdentity { rewriteExtensionIDs(slot, length: length, viewer: viewer) }
        return srtp.protectRTP(slot, length: length)
    }
}
