import Reactor
import SFU

/// One stream as a viewer sees it.
struct ReceivedStream {
    var tracker = SequenceTracker()
    var jitter: JitterEstimator
    var ssrc: UInt32 = 0
    init(clockRate: UInt32) { jitter = JitterEstimator(clockRate: clockRate) }
}

/// A WHEP viewer: counts every packet from the clear RTP header of the SRTP packet
/// (sequence numbers the server rewrites but keeps continuous), and, when `verified`,
/// also unprotects it and reads the publisher's send stamp for one-way latency.
/// Sends a PLI on join, NACKs for gaps, and a receiver report every second.
final class ViewerSession: LoadPeer {
    let verified: Bool
    let rtcpSSRC: UInt32
    var videoPT: UInt8 = LoadOffer.videoPT
    var audioPT: UInt8 = LoadOffer.audioPT
    var video = ReceivedStream(clockRate: 90_000)
    var audio = ReceivedStream(clockRate: 48_000)
    var firstPacketAt: Instant?
    var keyframeAt: Instant?
    var lastPacketAt = Instant(nanoseconds: 0)
    var nextReport = Instant(nanoseconds: 0)
    var pliSent = false
    // Counting-only keyframe guess: a frame of at least `keyframeThresholdPackets` packets.
    var frameTimestamp: UInt32 = 0
    var framePackets = 0
    // Per-packet settings, copied out of the loop's config once.
    let nack: Bool
    let pliOnJoin: Bool
    let keyframeThresholdPackets: Int
    /// Which of `RunConfig.viewerClients` this viewer plays from.
    let serverIndex: Int

    init(host: LoadLoop, id: Int, room: String, verified: Bool, seed: UInt64, serverIndex: Int = 0) throws(ReactorError) {
        self.verified = verified
        self.serverIndex = serverIndex
        rtcpSSRC = UInt32(truncatingIfNeeded: seed >> 7) | 1
        nack = host.config.nack
        pliOnJoin = host.config.pliOnJoin
        keyframeThresholdPackets = host.config.keyframeThresholdPackets
        try super.init(host: host, id: id, room: room, seed: seed, timestamps: verified)
        if host.counters.firstJoinStartNanos == .max { host.counters.firstJoinStartNanos = joinStart.nanoseconds }
        host.counters.viewersStarted += 1
    }

    override func answered(now: Instant) {
        host.counters.viewersAnswered += 1
        host.counters.joinHTTP.record((now - joinStart).nanoseconds)
        if let v = answer?.video {
            if let pt = v.payloadType { videoPT = pt }
            if let s = v.ssrc { video.ssrc = s }
        }
        if let a = answer?.audio {
            if let pt = a.payloadType { audioPT = pt }
            if let s = a.ssrc { audio.ssrc = s }
        }
    }

    override func iceConnected(now: Instant) {
        host.counters.viewersICEConnected += 1
        host.counters.joinICE.record((now - joinStart).nanoseconds)
    }

    override func secured(now: Instant) {
        host.counters.viewersDTLSConnected += 1
        host.counters.joinDTLS.record((now - joinStart).nanoseconds)
        nextReport = now + .seconds(1)
        if host.config.pliOnJoin && video.ssrc != 0 { sendPLI(now: now) }
        let rids = host.config.simulcastRIDs
        if host.config.spreadLayers, !rids.isEmpty { host.requestLayer(self, rid: rids[id % rids.count]) }
    }

    /// The server answered the WHEP offer with 503 (busy core, full room), as often as
    /// the run retries, or it gave no `Retry-After`.
    var refused = false
    private var retries = 0

    override func signalled(_ r: SignallingResult, now: Instant) {
        if state == .offering, r.error == nil, r.status == 503 {
            if let wait = r.retryAfter, retries < host.config.retryRefused {
                // As a WHEP client may: offer again after the server's wait, plus up to 0.5 s
                // so the refused do not all come back in the same instant.
                retries += 1
                host.counters.refusalsRetried += 1
                let spread = Duration(nanoseconds: (seed &+ UInt64(retries)) % 500 * 1_000_000)
                host.reoffer(self, after: .seconds(UInt64(max(0, min(wait, 60)))) + spread)
                return
            }
            refused = true
        }
        super.signalled(r, now: now)
    }

    override func failed(now: Instant) {
        if refused {
            host.counters.viewersRefused += 1
            // One example is enough: a refusal is expected under admission control.
            if host.counters.viewersRefused > 1 { return }
        } else {
            host.counters.viewersFailed += 1
        }
        host.counters.noteFailure("viewer \(id) (\(room)): \(failureReason ?? "?")")
    }

    override func handleRTP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let h = RTPHeaderView(UnsafeRawBufferPointer(d)) else {
            host.counters.unknownPackets &+= 1
            return
        }
        let isVideo: Bool
        if h.payloadType == videoPT { isVideo = true } else if h.payloadType == audioPT { isVideo = false } else {
            host.counters.unknownPackets &+= 1
            return
        }
        host.counters.packetsReceived &+= 1
        host.counters.byServer[serverIndex].packetsReceived &+= 1
        host.counters.bytesReceived &+= UInt64(d.count)
        let outcome: SequenceTracker.Outcome
        if isVideo {
            video.ssrc = h.ssrc
            outcome = video.tracker.add(h.sequence)
        } else {
            audio.ssrc = h.ssrc
            outcome = audio.tracker.add(h.sequence)
        }
        switch outcome {
        case .duplicate:
            host.counters.duplicates &+= 1
            return
        case .gap(let missing):
            if isVideo && nack && missing <= 64 {
                sendNACK(media: h.ssrc, first: h.sequence &- UInt16(missing), count: missing)
            }
        default: break
        }
        if outcome != .late {
            if isVideo { video.jitter.add(rtpTimestamp: h.timestamp, arrivalNanos: now.nanoseconds) }
            else { audio.jitter.add(rtpTimestamp: h.timestamp, arrivalNanos: now.nanoseconds) }
        }
        lastPacketAt = now
        if firstPacketAt == nil {
            firstPacketAt = now
            host.counters.viewersWithMedia += 1
            host.counters.joinFirstPacket.record((now - joinStart).nanoseconds)
            host.counters.lastFirstPacketNanos = max(host.counters.lastFirstPacketNanos, now.nanoseconds)
        }
        var keyframe = false
        if verified, let srtp {
            let n: Int
            do { n = try srtp.unprotectRTP(d, length: d.count) } catch {
                host.counters.srtpFailures &+= 1
                return
            }
            host.counters.srtpVerified &+= 1
            let end = n - min(h.padding, n)
            if end > h.payloadOffset {
                let payload = UnsafeRawBufferPointer(rebasing: d[h.payloadOffset..<end])
                // Synthetic video carries the stamp after the descriptor; a replayed recording
                // at the end of the payload.
                if let stamp = MediaStamp(reading: payload, at: isVideo ? MediaStamp.videoOffset : MediaStamp.audioOffset)
                    ?? (isVideo ? MediaStamp(reading: payload, at: MediaStamp.videoOffsetWithPictureID) : nil)
                    ?? MediaStamp(reading: payload, at: payload.count - MediaStamp.size) {
                    // Latency ends when the kernel queued the datagram for this viewer, not when
                    // this loop got to it: the load tool's own backlog is not the server's.
                    let arrived = socket.receivedAt.nanoseconds
                    let l = arrived > stamp.sendNanos ? arrived - stamp.sendNanos : 0
                    host.counters.latency.record(l)
                    host.counters.latencyInterval.record(l)
                    if host.steady {
                        host.counters.latencySteady.record(l)
                        host.counters.byServer[serverIndex].latencySteady.record(l)
                        host.counters.latencySteadyProcessed.record(now.nanoseconds > stamp.sendNanos ? now.nanoseconds - stamp.sendNanos : 0)
                    }
                } else {
                    host.counters.stampMissing &+= 1
                }
                if isVideo && keyframeAt == nil { keyframe = SyntheticVideoSource.isKeyframeStart(payload) }
            }
        } else if isVideo && keyframeAt == nil {
            if h.timestamp != frameTimestamp {
                frameTimestamp = h.timestamp
                framePackets = 0
            }
            framePackets += 1
            keyframe = h.marker && framePackets >= keyframeThresholdPackets
        }
        if keyframe && keyframeAt == nil {
            keyframeAt = now
            host.counters.viewersWithKeyframe += 1
            host.counters.joinFirstKeyframe.record((now - joinStart).nanoseconds)
        }
        if isVideo && !pliSent && pliOnJoin && keyframeAt == nil { sendPLI(now: now) }
    }

    override func handleRTCP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {
        // Sender reports and the like: nothing a viewer has to act on here.
    }

    override func serviceMedia(now: Instant) -> Instant? {
        if now >= nextReport {
            sendReport()
            nextReport = now + .seconds(1)
        }
        return nextReport
    }

    private func sendRTCP(_ length: Int) {
        guard length > 0, let srtp, let remote else { return }
        do {
            let n = try srtp.protectRTCP(host.scratch, length: length)
            socket.send(UnsafeRawBufferPointer(rebasing: host.scratch[0..<n]), to: remote)
        } catch {
            host.counters.srtpFailures &+= 1
        }
    }

    func sendPLI(now: Instant) {
        guard video.ssrc != 0 else { return }
        pliSent = true
        host.counters.plisSent &+= 1
        sendRTCP(LoadRTCP.pli(into: host.scratch, sender: rtcpSSRC, media: video.ssrc))
    }

    func sendNACK(media: UInt32, first: UInt16, count: Int) {
        host.counters.nacksSent &+= 1
        host.counters.nackedPackets &+= UInt64(count)
        sendRTCP(LoadRTCP.nack(into: host.scratch, sender: rtcpSSRC, media: media, first: first, count: count))
    }

    func sendReport() {
        var blocks: [LoadRTCP.Block] = []
        for i in 0..<2 {
            var s = i == 0 ? video : audio
            guard s.tracker.started else { continue }
            let fraction = s.tracker.takeIntervalFractionLost()
            blocks.append(LoadRTCP.Block(ssrc: s.ssrc, fractionLost: fraction, cumulativeLost: UInt32(min(s.tracker.lost, 0x7F_FFFF)),
                                           highestSequence: s.tracker.highest, jitter: s.jitter.units))
            if i == 0 { video = s } else { audio = s }
        }
        guard !blocks.isEmpty else { return }
        host.counters.receiverReportsSent &+= 1
        sendRTCP(LoadRTCP.receiverReport(into: host.scratch, sender: rtcpSSRC, blocks: blocks))
    }

    var expected: UInt64 { video.tracker.expected + audio.tracker.expected }
    var receivedCount: UInt64 { video.tracker.received + audio.tracker.received }
}
