import CShim
import Reactor

/// What is due with time. The room layer reads no clock and keeps no timer: `tick` does
/// what is due at `now`, and `nextTimeout` says when to call it again. The owner calls `tick`
/// at `nextTimeout` (and may call it earlier: it only does what is due); inputs that make
/// something due sooner (a new gap to NACK, a DTLS retransmission, a keyframe request held
/// back) lower `nextTimeout` and tell `deadlineLowered`.
extension RoomManager {
    /// Slow work (consent expiry, REMB and receiver reports, the publisher grace period,
    /// forgetting old DELETEs) runs once a second.
    static let slowTickInterval: Duration = .seconds(1)

    /// When `tick` must run next; nil when this core has nothing that time would change.
    public var nextTimeout: Instant? { wakeAt }

    /// Drives DTLS retransmits, set-up timeouts, NACK retries, transport-wide feedback, repair
    /// follow-ups, recordings' frame waits and keyframe requests held back by the throttle, and
    /// once a second consent expiry, REMB and receiver reports to publishers and the publisher
    /// grace period; then computes `nextTimeout`.
    public func tick(now: Instant) {
        defer { wakeAt = computeNextTimeout() }
        lifecycle.checkFirstMedia(now: now)
        // Publisher feedback that is due: transport-wide feedback, NACK retries; and the
        // follow-up copies of repairs to viewers.
        sendInstantStarts(now: now)
        for room in rooms.values {
            sendRepairFollowUps(room, now: now)
            sendLayerProbes(room, now: now)
            if let relay = room.relay {
                driveRelay(relay, room: room, now: now)
                continue
            }
            if room.shardSource != nil {
                retryKeyframeRequests(room, now: now)
                continue
            }
            guard let p = room.publisher, p.state == .connected else { continue }
            advanceRecordings(room, now: now)
            retryKeyframeRequests(room, now: now)
            if p.transportCC?.isDue(now: now) == true { sendTransportFeedback(p, room: room, now: now) }
            for st in p.inbound where !st.isRTX && st.nackGenerator.isDue(now: now) {
                sendNack(p, stream: st, room: room, now: now)
            }
        }
        for s in sessions.pending {
            if now - s.createdAt >= configuration.setupTimeout {
                counters.setupTimeouts &+= 1
                end(s, reason: .setupTimeout, now: now)
                continue
            }
            if let t = s.dtls.nextTimeout, t <= now, let address = s.address {
                s.dtls.handleTimeout(now: now)
                flushDTLS(s, to: address, now: now)
            }
        }
        if !sessions.probing.isEmpty {
            sessions.pruneProbing()
            for s in sessions.probing where s.ice.nextProbeTime.map({ !(now < $0) }) ?? false {
                sendProbe(s, now: now)
            }
        }
        guard now - lastSlowTick >= Self.slowTickInterval else { return }
        lastSlowTick = now
        if setupsSinceTrim > 0, sessions.pending.isEmpty, now - lastTrim >= .seconds(10) {
            // A burst of joins is over: its handshake transients (certificates, handshake
            // buffers, key exchange) were freed, but glibc keeps the pages. Give them back;
            // at most every 10 s, as a trim walks (and locks) every arena.
            setupsSinceTrim = 0
            lastTrim = now
            _ = lsfu_malloc_trim()
        }
        sessions.expireRecentlyEnded(now: now)
        for s in Array(sessions.byID.values) where s.state == .connected && s.ice.consentExpired(now: now) {
            counters.consentExpiries &+= 1
            end(s, reason: .consentExpired, now: now)
        }
        for room in Array(rooms.values) {
            // Each viewer's resend budget follows the stream's bitrate.
            for f in room.fanouts {
                let rate = f.currentBitrate(now: now)
                for v in f.viewers { v.nack.updateStreamBitrate(rate) }
            }
            if let p = room.publisher {
                automaticLayers(room, now: now)
                sendREMB(p, room: room)
                sendReceiverReports(p, room: room, now: now)
            } else if room.relay?.isConnected == true {
                // An edge's room with its origin's media: it has a source.
            } else if room.shardSource != nil {
                // A shard: its owner ends it (`ShardControl.close`) when the room closes there.
                automaticLayers(room, now: now)
            } else if configuration.publisherGrace.nanoseconds > 0,
                let since = room.publisherLeftAt ?? Optional(room.createdAt),
                now - since >= configuration.publisherGrace
            {
                for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
                closeShards(room)
            }
            removeIfEmpty(room)
        }
    }

    /// Something is due at `t`: `nextTimeout` moves forward to it if it is earlier.
    func noteDeadline(_ t: Instant?) {
        guard let t else { return }
        if let w = wakeAt, !(t < w) { return }
        wakeAt = t
        deadlineLowered?(t)
    }

    /// The earliest of everything that is due with time, from every session and room.
    private func computeNextTimeout() -> Instant? {
        guard sessions.count > 0 || !rooms.isEmpty else { return nil }
        var t: Instant? = lastSlowTick + Self.slowTickInterval
        for s in sessions.pending {
            t = Instant.earliest(t, s.createdAt + configuration.setupTimeout)
            t = Instant.earliest(t, s.dtls.nextTimeout)
        }
        for s in sessions.probing { t = Instant.earliest(t, s.ice.nextProbeTime) }
        for room in rooms.values {
            for f in room.fanouts {
                t = Instant.earliest(t, f.nextFollowUpTime)
                t = Instant.earliest(t, f.nextCatchUpTime)
                t = Instant.earliest(t, f.nextProbeTime)
            }
            if let relay = room.relay { t = Instant.earliest(t, relayDeadline(relay, room: room)) }
            if room.shardSource != nil {
                for f in room.videoLayers { t = Instant.earliest(t, f.keyframeThrottle.nextRetryTime) }
            }
            guard let p = room.publisher, p.state == .connected else { continue }
            t = Instant.earliest(t, room.video.recorder?.deadline)
            t = Instant.earliest(t, room.audio.recorder?.deadline)
            for f in room.videoLayers { t = Instant.earliest(t, f.keyframeThrottle.nextRetryTime) }
            t = Instant.earliest(t, p.transportCC?.nextDueTime)
            for st in p.inbound where !st.isRTX { t = Instant.earliest(t, st.nackGenerator.nextDueTime) }
        }
        return t
    }
}
