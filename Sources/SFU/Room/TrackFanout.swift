import Reactor

/// The room's outbound stream of one kind. Every viewer receives it under one stable SSRC;
/// a publisher packet is rewritten once here (SSRC, sequence, timestamp), then copied per
/// viewer into a pooled send slot, adapted to that viewer's payload type and extension ids,
/// and encrypted in place with the viewer's SRTP context. Nothing here allocates per packet.
final class TrackFanout {
    let kind: TrackKind
    /// Outbound SSRCs: stable for the room's life, announced in every viewer's answer.
    let ssrc: UInt32
    let rtxSSRC: UInt32
    let streamID: String
    let trackID: String
    let cname: String
    /// What the current publisher sends on this track (nil without one).
    private(set) var source: NegotiatedMedia?
    private var rewriter: StreamRewriter
    private(set) var viewers: [ViewerTrack] = []
    var keyframeThrottle = KeyframeRequestThrottle()

    // Figures (plain counters; folded at scrape time).
    var packetsIn: UInt64 = 0
    var bytesIn: UInt64 = 0
    var packetsOut: UInt64 = 0
    var bytesOut: UInt64 = 0
    var keyframes: UInt64 = 0
    var droppedNoCodecMatch: UInt64 = 0
    var protectErrors: UInt64 = 0
    var sendQueueFull: UInt64 = 0
    /// Bytes in the current 1 s window and the last full window's bitrate.
    private var windowBytes: UInt64 = 0
    private var windowStart = Instant(nanoseconds: 0)
    private(set) var bitrate: UInt64 = 0

    init(kind: TrackKind, streamID: String, cname: String) {
        self.kind = kind
        self.ssrc = RandomToken.ssrc()
        self.rtxSSRC = RandomToken.ssrc()
        self.streamID = streamID
        self.trackID = "\(kind)-\(RandomToken.hex(bytes: 4))"
        self.cname = cname
        self.rewriter = StreamRewriter(clockRate: kind == .audio ? 48_000 : 90_000)
    }

    /// A publisher starts (or restarts) sending this track.
    func attach(source media: NegotiatedMedia) {
        source = media
        if rewriter.clockRate != media.codec.clockRate, media.codec.clockRate > 0 {
            rewriter = StreamRewriter(clockRate: media.codec.clockRate)
        }
        for v in viewers { v.bind(publisherExtensions: media.extensions.all) }
    }

    /// The publisher left: viewers stay, waiting for the next one.
    func detachSource() { source = nil }

    func add(_ viewer: ViewerTrack) {
        if let source { viewer.bind(publisherExtensions: source.extensions.all) }
        viewers.append(viewer)
    }

    func remove(session: PeerSession) {
        viewers.removeAll { $0.session === session }
    }

    /// Forwards one decrypted publisher packet to every connected viewer.
    /// - Parameters:
    ///   - rtp: the plaintext RTP packet (exactly its bytes); rewritten in place.
    ///   - isKeyframe: whether it starts a keyframe (video), for the keyframe throttle.
    func forward(_ rtp: RTPPacket, isKeyframe: Bool, now: Instant, socket: UDPSocket) {
        let packet = rtp.buffer
        let length = packet.count
        packetsIn &+= 1
        bytesIn &+= UInt64(length)
        account(bytes: length, now: now)
        if isKeyframe {
            keyframes &+= 1
            keyframeThrottle.keyframeReceived()
        }
        let out = rewriter.rewrite(ssrc: rtp.ssrc, sequenceNumber: rtp.sequenceNumber, timestamp: rtp.timestamp, now: now)
        rtp.sequenceNumber = out.sequenceNumber
        rtp.timestamp = out.timestamp
        rtp.ssrc = ssrc
        guard let source else { return }
        let readOnly = UnsafeRawBufferPointer(packet)

        for viewer in viewers {
            let session = viewer.session
            guard session.state == .connected, let address = session.address, let srtp = session.srtp else {
                continue
            }
            guard viewer.codec == source.codecName else {
                droppedNoCodecMatch &+= 1
                continue
            }
            let map = viewer.extensionMap
            let pt = viewer.payloadType
            var failed = false
            let queued = socket.send(to: address, capacity: length + 16) { slot in
                slot.copyMemory(from: readOnly)
                slot[1] = (slot[1] & 0x80) | pt  // payload type, marker kept
                if !map.isIdentity,
                    let copy = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: slot[0..<length]))
                {
                    copy.rewriteExtensionIDs { map.map($0) }
                }
                do {
                    return try srtp.protectRTP(slot, length: length)
                } catch {
                    failed = true
                    return 0
                }
            }
            if failed {
                protectErrors &+= 1
            } else if queued {
                viewer.packetsSent &+= 1
                viewer.bytesSent &+= UInt64(length)
                packetsOut &+= 1
                bytesOut &+= UInt64(length)
            } else {
                sendQueueFull &+= 1
            }
        }
    }

    /// The outbound RTP timestamp for a publisher timestamp (SR rewriting).
    func outboundTimestamp(_ ts: UInt32) -> UInt32 { rewriter.outboundTimestamp(ts) }

    private func account(bytes: Int, now: Instant) {
        if now - windowStart >= .seconds(1) {
            let elapsed = max((now - windowStart).nanoseconds, 1)
            bitrate = windowStart.nanoseconds == 0 ? 0 : windowBytes * 8 * 1_000_000_000 / elapsed
            windowStart = now
            windowBytes = 0
        }
        windowBytes &+= UInt64(bytes)
    }

    /// The bitrate, decayed to zero once packets stop.
    func currentBitrate(now: Instant) -> UInt64 { now - windowStart > .seconds(2) ? 0 : bitrate }
}
