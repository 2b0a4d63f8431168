import Reactor

/// Instant start: a viewer that connects is sent the packets since the latest keyframe out of
/// the history, so its first picture does not wait for the publisher's next keyframe and
/// costs no request upstream. The keyframe's packets go at once; the rest are paced at a
/// multiple of the stream's bitrate; the viewer joins the batch fan-out once it has the
/// newest packet. It sees the room's one outbound stream from the keyframe on: the same
/// numbering as every viewer, so no per-viewer rewriting.
extension TrackFanout {
    /// The pace after the keyframe: this multiple of the stream's bitrate, at least
    /// `catchUpMinimumBitsPerSecond` (a 10 s interval at 2 Mbit/s is sent in ~2.5 s).
    static let catchUpRateMultiple: UInt64 = 4
    static let catchUpMinimumBitsPerSecond: UInt64 = 2_000_000
    /// How often a paced start sends its next packets, and the most it may save up.
    static let catchUpInterval: Duration = .milliseconds(5)
    static let catchUpBurst: Duration = .milliseconds(20)
    /// Packets sent to one viewer in one call (a keyframe's are not paced, but bounded here).
    static let catchUpPacketsPerCall = 512
    /// The least time between two rewinds of one viewer's start (`rewindCatchUp`).
    static let catchUpRewindInterval: Duration = .milliseconds(500)
    /// The longest distance between two captures a jump takes as it is (60 s at 90 kHz, more
    /// than any history holds); beyond it the timestamps are taken as not comparable.
    static let maximumForwardTicks: UInt32 = 60 * 90_000

    /// A keyframe's first packet was stored under `seq`: packets of the same timestamp stored
    /// just before it belong to the same picture (H.264 parameter sets), so the keyframe
    /// starts at the first of them.
    func noteKeyframe(at seq: UInt16, timestamp: UInt32, length: Int, in history: PacketHistory) {
        var first = seq
        for _ in 0..<16 {
            guard let previous = history.storedPacket(sequenceNumber: first &- 1),
                  Self.timestamp(of: previous) == timestamp
            else { break }
            first &-= 1
        }
        keyframeCache.keyframeStored(
            first: first, timestamp: timestamp, packetsIn: packetsIn &- 1, bytesIn: bytesIn &- UInt64(length))
    }

    /// Starts a viewer that has just connected (or missed its start: `peerMissedFinished`)
    /// from the latest keyframe. False when there is none to start from (instant start off,
    /// no keyframe yet, too much sent since): the caller asks the publisher for one. With
    /// `keyframe`: a viewer moved to this simulcast layer, from the keyframe just received.
    /// Its keyframe goes at once as far as the core's shared `budget` allows (paced with
    /// the rest at `pace`, when given: `CatchUpCursor.paceBitsPerSecond`); the rest with the
    /// other starts (`RoomManager.sendInstantStarts`).
    func startCatchUp(
        _ viewer: ViewerTrack, keyframe: UInt16? = nil, pace: UInt64? = nil, now: Instant, budget: inout CatchUpBudget,
        output: DatagramQueue
    ) -> Bool {
        guard let history, let start = keyframe ?? keyframeCache.usableStart(in: history, bytesIn: bytesIn),
              history.storedPacket(sequenceNumber: start) != nil, canRepair(viewer)
        else { return false }
        if !viewer.catchingUp { viewersCatchingUp.append(viewer) }
        viewer.catchingUp = true
        viewer.catchUp = CatchUpCursor(
            from: start, next: start, keyframeTimestamp: keyframeCache.timestamp, refilledAt: now, due: now,
            paceBitsPerSecond: pace)
        if keyframe == nil { instantStarts &+= 1 }
        _ = sendCatchUp(viewer, keyframeOnly: true, budget: &budget, now: now, output: output)
        return true
    }

    /// A viewer being started lost what it was sent so far (it had no keys yet): it goes back
    /// to its keyframe, keeping its pace; the first time at once (the client's Finished is
    /// retransmitted when ours was lost, often just after its start began), then not again
    /// within `catchUpRewindInterval` (each retransmission says the same). What it is
    /// sent again is numbered on from what it was sent (`continueNumbering`), not under the
    /// same numbers: it may have decrypted some of the later packets, and a client takes
    /// packets older than the first it decrypted as from before its start, so it would never
    /// ask for those of the keyframe that are lost again.
    func rewindCatchUp(_ viewer: ViewerTrack, now: Instant) {
        guard viewer.catchingUp else { return }
        if let last = viewer.catchUp.rewoundAt, now - last < Self.catchUpRewindInterval { return }
        if viewer.catchUp.next != viewer.catchUp.from, let key = history?.storedPacket(sequenceNumber: viewer.catchUp.from) {
            continueNumbering(viewer, after: viewer.catchUp.next &- 1, at: viewer.catchUp.from, keyframe: key)
        }
        viewer.catchUp.next = viewer.catchUp.from
        viewer.catchUp.inKeyframe = true
        viewer.catchUp.rewoundAt = now
        instantStartRewinds &+= 1
    }

    /// A live viewer lost what it was sent (it had no keys yet): it starts again from the
    /// latest keyframe, numbered on from the newest packet it was sent (as `rewindCatchUp`).
    /// False when there is no keyframe to start from (the caller asks for one).
    func restartCatchUp(_ viewer: ViewerTrack, now: Instant, budget: inout CatchUpBudget, output: DatagramQueue) -> Bool {
        guard let history, let start = keyframeCache.usableStart(in: history, bytesIn: bytesIn),
              let key = history.storedPacket(sequenceNumber: start), canRepair(viewer)
        else { return false }
        flushPending(output: output)  // what the batch holds goes first: the newest packet is sent
        if let newest = history.newestSequenceNumber { continueNumbering(viewer, after: newest, at: start, keyframe: key) }
        return startCatchUp(viewer, now: now, budget: &budget, output: output)
    }

    /// Offsets that number the viewer's stream on from `last` (the last packet it was sent, in
    /// this track's numbering) with the keyframe at `start`: its sequence numbers, timestamps
    /// and picture IDs continue (`StreamOffsets.continuing`). The keyframe's timestamp comes
    /// one frame after the last packet's when the stream goes back (a rewind, a restart), and
    /// with `forward`, a jump to a later keyframe of the same stream, the captures' own
    /// distance: the viewer's timeline stays the publisher's, as its sender reports say.
    func continueNumbering(
        _ v: ViewerTrack, after last: UInt16, at start: UInt16, keyframe key: UnsafeRawBufferPointer, forward: Bool = false
    ) {
        let lastPacket = history?.storedPacket(sequenceNumber: last)
        var ticks = RoomManager.layerSwitchFrameTicks
        if forward, let lastPacket, lastPacket.count >= 12, key.count >= 12 {
            let distance = WireBytes.u32(key, 4) &- WireBytes.u32(lastPacket, 4)
            if distance > 0, distance <= Self.maximumForwardTicks { ticks = distance }
        }
        v.offsets = StreamOffsets.continuing(
            last: lastPacket, lastSequence: last,
            previous: v.offsetsStartingOver(), keyframe: key, start: start,
            codec: VideoCodec(v.codec), frameTicks: ticks)
        v.rewrites = true
        v.firstSequenceOnLayer = start &+ v.offsets.sequence
    }

    /// Sends what is due to every viewer being started, in the order they were started (the
    /// earliest catch up first when `budget` runs short, rather than all of them falling
    /// behind together); with `keyframeOnly`, only what is left of each one's keyframe (the
    /// first turn of `RoomManager.sendInstantStarts`: every first picture before anyone's
    /// later packets). Returns the viewers whose keyframe left the history before they caught
    /// up (they are live now, but need a fresh keyframe: the caller asks for one).
    func sendDueCatchUps(now: Instant, keyframeOnly: Bool = false, budget: inout CatchUpBudget, output: DatagramQueue) -> Int {
        var aborted = 0
        var kept = 0
        for i in viewersCatchingUp.indices {
            let viewer = viewersCatchingUp[i]
            var progress = CatchUpProgress.sending
            if keyframeOnly ? viewer.catchUp.inKeyframe : !(now < viewer.catchUp.due) {
                progress = sendCatchUp(viewer, keyframeOnly: keyframeOnly, budget: &budget, now: now, output: output)
            }
            switch progress {
            case .sending:
                viewersCatchingUp[kept] = viewer
                kept += 1
                continue
            case .aborted:
                aborted += 1
                instantStartsAborted &+= 1
            case .caughtUp:
                break
            }
            viewer.catchingUp = false
        }
        viewersCatchingUp.removeLast(viewersCatchingUp.count - kept)
        return aborted
    }

    /// The track's latest keyframe has just been stored: viewers still being started from an
    /// older one go on from it instead, their numbering, timestamps and picture IDs continued
    /// (`StreamOffsets.continuing`). They skip the rest of the older interval, which they
    /// would have seen late anyway, and are nearer to live; and a start held back by the
    /// budget (a storm of joiners) never waits so long that its keyframe leaves the history,
    /// which would cost a keyframe request upstream. Returns how many jumped.
    @discardableResult
    func jumpCatchUpsToLatestKeyframe() -> Int {
        guard !viewersCatchingUp.isEmpty, let history, let start = keyframeCache.start,
              let key = history.storedPacket(sequenceNumber: start)
        else { return 0 }
        let timestamp = keyframeCache.timestamp
        var jumped = 0
        for v in viewersCatchingUp where v.catchUp.keyframeTimestamp != timestamp {
            // Already sent up to the new keyframe (or past it): it goes on as it is.
            guard SequenceNumber(start).isNewer(than: SequenceNumber(v.catchUp.next)) else { continue }
            // Nothing of this start sent yet, and no offsets: the new keyframe needs none.
            if v.catchUp.next != v.catchUp.from || v.rewrites || v.temporal != nil {
                continueNumbering(v, after: v.catchUp.next &- 1, at: start, keyframe: key, forward: true)
            }
            v.catchUp.from = start
            v.catchUp.next = start
            v.catchUp.keyframeTimestamp = timestamp
            jumped += 1
        }
        instantStartJumps &+= UInt64(jumped)
        return jumped
    }

    /// What a viewer connecting now would be sent (bytes since the keyframe); nil when it
    /// would get a keyframe request instead.
    var instantStartAvailableBytes: Int? {
        guard let history, keyframeCache.usableStart(in: history, bytesIn: bytesIn) != nil else { return nil }
        return keyframeCache.bytesSince(bytesIn: bytesIn)
    }

    /// When the next paced packets of any start are due.
    var nextCatchUpTime: Instant? {
        var t: Instant?
        for v in viewersCatchingUp { t = Instant.earliest(t, v.catchUp.due) }
        return t
    }

    enum CatchUpProgress { case sending, caughtUp, aborted }

    /// Sends the viewer the next packets its pace and the shared `budget` allow (with
    /// `keyframeOnly`, only its keyframe's). `caughtUp`: it has every packet up to the newest
    /// and may join the batch fan-out (between batches, so nothing held is skipped).
    /// `aborted`: its keyframe is no longer in the history.
    private func sendCatchUp(
        _ viewer: ViewerTrack, keyframeOnly: Bool, budget: inout CatchUpBudget, now: Instant, output: DatagramQueue
    ) -> CatchUpProgress {
        guard let history, history.storedPacket(sequenceNumber: viewer.catchUp.from) != nil,
              let newest = history.newestSequenceNumber
        else { return .aborted }
        guard source != nil else { return .caughtUp }  // the publisher left: nothing more to start from
        guard canRepair(viewer) else {
            if !keyframeOnly { viewer.catchUp.due = now + Self.catchUpInterval }  // not sendable now: try again
            return .sending
        }
        var c = viewer.catchUp
        let rate = max(currentBitrate(now: now) * Self.catchUpRateMultiple, Self.catchUpMinimumBitsPerSecond)
        let bytesPerSecond = min(rate, c.paceBitsPerSecond ?? rate) / 8
        let pacesKeyframe = c.paceBitsPerSecond != nil
        let elapsed = UInt64(max((now - c.refilledAt).nanoseconds, 0))
        let burst = Int(bytesPerSecond * UInt64(Self.catchUpBurst.nanoseconds) / 1_000_000_000)
        c.budget = min(c.budget + Int(min(bytesPerSecond * elapsed / 1_000_000_000, UInt64(burst))), burst)
        c.refilledAt = now
        var progress = CatchUpProgress.sending
        var steps = 0
        while steps < Self.catchUpPacketsPerCall {
            if SequenceNumber(c.next).isNewer(than: SequenceNumber(newest)) {
                progress = .caughtUp
                break
            }
            steps += 1
            // Never stored (lost upstream, not yet repaired): the viewer NACKs the gap.
            guard let stored = history.storedPacket(sequenceNumber: c.next) else {
                c.next &+= 1
                continue
            }
            let inKeyframe = Self.timestamp(of: stored) == c.keyframeTimestamp
            c.inKeyframe = inKeyframe
            guard (inKeyframe && !pacesKeyframe) || (!keyframeOnly && c.budget > 0) else { break }
            guard budget.allows(stored.count) else { break }
            // Held back by the viewer's temporal cap: not its to send (no budget spent).
            if let filter = viewer.temporal,
                filter.admit(sequenceNumber: c.next, info: TemporalInfo(packet: stored, codec: temporalCodec)) == nil
            {
                c.next &+= 1
                continue
            }
            guard sendStored(stored, to: viewer, rtxPayloadType: nil, now: now, output: output) else { break }
            budget.spend(stored.count, keyframe: inKeyframe)
            if !inKeyframe || pacesKeyframe { c.budget -= stored.count }
            c.next &+= 1
            c.packetsSent &+= 1
            c.bytesSent &+= UInt64(stored.count)
            viewer.packetsSent &+= 1
            viewer.bytesSent &+= UInt64(stored.count)
            instantStartPackets &+= 1
            instantStartBytes &+= UInt64(stored.count)
        }
        if !keyframeOnly { c.due = now + Self.catchUpInterval }
        viewer.catchUp = c
        return progress
    }

    /// The RTP timestamp of a stored (plaintext, well-formed) packet.
    @inline(__always)
    static func timestamp(of packet: UnsafeRawBufferPointer) -> UInt32 {
        packet.count >= 12 ? WireBytes.u32(packet, 4) : 0
    }
}
