import Reactor

/// Probe bursts (`LayerProbe`): a viewer that may carry a higher layer is sent duplicates of
/// this layer's newest packets (as RTX where it negotiated RTX, else as they are), paced from
/// the room's timer, each numbered on its transport like every copy, so its transport-cc
/// feedback measures what the path carried. Sent from `RoomManager.tick`, never from the
/// batch fan-out: probing adds nothing to the per-packet path.
extension TrackFanout {
    /// A burst's packets are taken from this many of the layer's newest: packets the viewer
    /// already has (it has been on the layer for `LayerProbe.stablePeriod`), so they only
    /// add bytes, never a picture.
    static let probeSourcePackets: UInt16 = 16

    /// Lists a viewer whose `probe` has just begun a burst.
    func beginProbe(_ viewer: ViewerTrack) {
        if !viewersProbing.contains(where: { $0 === viewer }) { viewersProbing.append(viewer) }
    }

    /// Sends every probing viewer what its burst's pace allows; a burst that has all gone (or
    /// cannot go on) is closed in the viewer's estimator. Returns the bytes sent.
    func sendDueProbes(now: Instant, output: DatagramQueue) -> Int {
        var total = 0
        var i = 0
        while i < viewersProbing.count {
            let viewer = viewersProbing[i]
            let (bytes, done) = sendProbe(to: viewer, now: now, output: output)
            total += bytes
            if done {
                if let log = viewer.session.bandwidth?.log, let last = log.newestSequence {
                    viewer.session.bandwidth?.estimator.closeProbe(last: last)
                }
                viewersProbing.swapAt(i, viewersProbing.count - 1)
                viewersProbing.removeLast()
            } else {
                i += 1
            }
        }
        return total
    }

    /// When the next probe packets of any viewer are due.
    var nextProbeTime: Instant? {
        var t: Instant?
        for v in viewersProbing { t = Instant.earliest(t, v.probe.nextSendTime) }
        return t
    }

    private func sendProbe(to viewer: ViewerTrack, now: Instant, output: DatagramQueue) -> (Int, Bool) {
        var due = viewer.probe.bytesDue(now: now)
        guard due > 0 else { return (0, viewer.probe.nextSendTime == nil) }
        guard let history, let newest = history.newestSequenceNumber, canRepair(viewer), !viewer.catchingUp else {
            viewer.probe.stopSending(now: now)
            return (0, true)
        }
        let rtx = viewer.rtxPayloadType
        var sent = 0
        var k: UInt16 = 0
        var misses = 0
        while due > 0, misses < Int(Self.probeSourcePackets) {
            let seq = newest &- (k % Self.probeSourcePackets)
            k &+= 1
            guard let stored = history.storedPacket(sequenceNumber: seq),
                sendStored(stored, to: viewer, rtxPayloadType: rtx, now: now, output: output, repair: false)
            else {
                misses += 1
                continue
            }
            let bytes = stored.count + (rtx == nil ? 0 : 2)
            sent += bytes
            due -= bytes
            if viewer.probe.sent(bytes, now: now) { return (sent, true) }
        }
        if misses >= Int(Self.probeSourcePackets) {
            viewer.probe.stopSending(now: now)  // nothing to send it: what went is the burst
            return (sent, true)
        }
        return (sent, false)
    }
}
