import Reactor

/// The figures of every room for `/api/rooms` and `/metrics`.
extension RoomManager {
    /// Cumulative uplink loss of a publisher's media streams (0…1).
    static func uplinkLoss(_ p: PeerSession) -> Double {
        var lost: Int64 = 0
        var expected: Int64 = 0
        for st in p.inbound where !st.isRTX {
            let l = max(st.receptionStats.cumulativeLost, 0)
            lost += l
            expected += Int64(st.receptionStats.packetsReceived) + l
        }
        return expected > 0 ? Double(lost) / Double(expected) : 0
    }

    /// The RTT to a publisher, measured by its NACK round trips (`NackGenerator`): the video
    /// stream's, which NACKs most; else any stream's; nil before the first sample.
    static func publisherRTT(_ p: PeerSession) -> Duration? {
        let measured = p.inbound.filter { !$0.isRTX && $0.nackGenerator.roundTripTime != nil }
        return (measured.first { $0.kind == .video } ?? measured.first)?.nackGenerator.roundTripTime
    }

    /// A Sendable picture of every room on this core, for `/api/rooms` and `/metrics`.
    public func snapshot(now: Instant) -> [RoomSnapshot] {
        rooms.values.map { room in
            RoomSnapshot(
                name: room.name, core: coreIndex, shardOf: room.shardSource?.owner,
                viewersPerCore: [coreIndex: room.viewerCount],
                publisher: room.publisher.map { p in
                    RoomSnapshot.Publisher(
                        state: p.state.rawValue, packets: p.packetsIn, bytes: p.bytesIn, srtpErrors: p.srtpErrors,
                        lossFraction: Self.uplinkLoss(p), nacksSent: p.nacksSent,
                        repairedPackets: p.inbound.reduce(0) { $0 &+ $1.repaired },
                        rttMillis: Self.publisherRTT(p).map { Double($0.nanoseconds) / 1e6 })
                },
                tracks: room.fanouts.compactMap { f in
                    guard let source = f.source else { return nil }
                    let quality = f.viewerQuality()
                    var track = RoomSnapshot.Track(
                        kind: f.kind.description, codec: source.codecName.encodingName, ssrc: f.ssrc,
                        bitrate: f.currentBitrate(now: now), packetsIn: f.packetsIn, bytesIn: f.bytesIn,
                        packetsOut: f.packetsOut, bytesOut: f.bytesOut, keyframes: f.keyframes,
                        keyframeRequests: f.keyframeThrottle.requestsSent, nacksReceived: f.nackRequests,
                        nacksAnswered: f.nacksAnswered, rtxPackets: f.rtxPacketsOut, rtxBytes: f.rtxBytesOut,
                        instantStarts: f.instantStarts, instantStartBytes: f.instantStartAvailableBytes,
                        rid: f.rid, viewers: f.viewers.count,
                        viewerLoss: quality?.loss, viewerRTTMillis: quality?.rttMillis)
                    track.temporalBitrates = f.cumulativeTemporalBitrates(now: now)
                    track.temporalHeld = f.temporalHeld
                    track.temporalCaps = f.temporalCodec != nil
                    return track
                },
                viewers: room.viewerCount,
                connectedViewers: room.viewersByID.values.filter { $0.state == .connected }.count,
                packetsIn: room.shardSource != nil ? 0 : room.audio.packetsIn &+ room.video.packetsIn,
                bytesIn: room.shardSource != nil ? 0 : room.audio.bytesIn &+ room.video.bytesIn,
                packetsOut: room.audio.packetsOut &+ room.video.packetsOut,
                bytesOut: room.audio.bytesOut &+ room.video.bytesOut,
                viewerDetails: room.viewersByID.values.map {
                    Self.viewerFigures($0, rids: room.video.source?.simulcastRIDs ?? [])
                },
                relay: room.relay.map { r in
                    RoomSnapshot.Relay(
                        origin: r.origin, state: r.isConnected ? "connected" : "connecting", packets: r.packetsIn,
                        bytes: r.bytesIn, keyframeRequests: r.keyframeRequestsSent, nacks: r.nacksSent,
                        reconnects: r.reconnects)
                },
                relayViewers: room.viewersByID.values.compactMap(\.relayFor).sorted())
        }
    }

    /// One viewer's figures over its tracks; loss and RTT from its video track when it has one.
    /// `rids`: the room's simulcast layers (empty without).
    static func viewerFigures(_ v: PeerSession, rids: [String]) -> RoomSnapshot.Viewer {
        var f = RoomSnapshot.Viewer(
            state: v.state.rawValue, packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0,
            nacksAnswered: 0, rtxBytes: 0, plis: v.pliReceived)
        if let e = v.bandwidth?.estimator {
            f.bandwidthEstimate = e.estimate
            f.bandwidthSignal = e.signal?.rawValue
            f.bandwidthFeedbackIgnored = e.ignoredFeedback
        }
        for t in v.viewerTracks.sorted(by: { $0.kind == .audio && $1.kind != .audio }) {
            f.packetsSent &+= t.packetsSent
            f.bytesSent &+= t.bytesSent
            f.nacks &+= t.nack.requested
            f.nacksAnswered &+= t.nack.resent
            f.rtxBytes &+= t.rtxBytesSent
            f.nackMissing &+= t.nack.missing
            f.nackRepeats &+= t.nack.suppressedRepeats
            f.nackOverBudget &+= t.nack.suppressedBudget &+ t.nack.suppressedFlood
            f.repairFollowUps &+= t.nack.followUpsSent
            if t.kind == .video, t.layer < rids.count {
                f.layer = rids[t.layer]
                f.targetLayer = t.targetLayer.flatMap { $0 < rids.count ? rids[$0] : nil }
                f.pinned = t.pinnedLayer != nil
                f.probes = t.probe.probes
                f.probeBytes = t.probe.bytesSent
                f.probesUp = t.probe.succeeded
                f.layerMoves = t.layerMoves
                f.moveStepTicks = t.lastMoveStep?.ticks
                f.moveReportStepTicks = t.lastMoveStep?.reportTicks
            }
            if t.kind == .video {
                f.catchingUp = t.catchingUp
                f.temporalCap = t.temporalCap
                f.temporalTarget = t.temporal.flatMap { $0.target < TemporalFilter.topLayer ? Int($0.target) : nil }
                f.temporalPinned = t.pinnedTemporal != nil
                f.temporalHeld = t.temporal?.packetsHeld ?? 0
            }
            if t.reports.reportsReceived > 0 {
                f.loss = t.reports.lossFraction  // video (sorted last) wins
                if let r = t.reports.roundTripTime { f.rttMillis = Double(r.nanoseconds) / 1e6 }
            }
        }
        return f
    }
}
