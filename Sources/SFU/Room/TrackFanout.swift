import Reactor

/// The room's outbound stream of one kind. Every viewer receives it under one stable SSRC;
/// a publisher packet is rewritten once here (SSRC, sequence, timestamp) and kept in the
/// history; when the receive batch ends, the batch is copied viewer by viewer into pooled
/// send slots, adapted to each viewer's payload type and extension ids, and encrypted in
/// place with that viewer's SRTP context. Nothing here allocates per packet.
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
    @exclusivity(unchecked) private(set) var viewers: [ViewerTrack] = []
    /// Viewers with repair follow-ups queued (see `sendDueFollowUps`, in TrackFanout+Repair).
    var viewersWithFollowUps: [ViewerTrack] = []
    /// Viewers being sent the packets since the latest keyframe (`startCatchUp`).
    var viewersCatchingUp: [ViewerTrack] = []
    /// Viewers being sent a probe burst (`LayerProbe`, `sendDueProbes`).
    var viewersProbing: [ViewerTrack] = []
    /// Where the latest keyframe is in the history (video; instant start).
    var keyframeCache: KeyframeCache
    var keyframeThrottle = KeyframeRequestThrottle()
    /// The current publication's recording of this track (`RECORD_ENABLED`), fed every
    /// rewritten packet, repairs included.
    var recorder: TrackRecorder?
    /// The last seconds of outbound packets, answering viewers' NACKs; created with the first
    /// publisher (rooms without one cost no history memory).
    private(set) var history: PacketHistory?
    /// The publisher's sender reports, mapped to the outbound stream for viewers (A/V sync).
    var senderReports: SenderReportRewriter

    // Figures (plain counters; folded at scrape time).
    var packetsIn: UInt64 = 0
    var bytesIn: UInt64 = 0
    var packetsOut: UInt64 = 0
    var bytesOut: UInt64 = 0
    var keyframes: UInt64 = 0
    var droppedNoCodecMatch: UInt64 = 0
    /// Packets held for the batch's fan-out when their publisher left within that batch.
    var droppedNoSource: UInt64 = 0
    var protectErrors: UInt64 = 0
    var sendQueueFull: UInt64 = 0
    /// Packets viewers NACKed, and those resent (RTX or plain).
    var nackRequests: UInt64 = 0
    var nacksAnswered: UInt64 = 0
    var rtxPacketsOut: UInt64 = 0
    var rtxBytesOut: UInt64 = 0
    /// Instant starts: viewers started from the history, those whose keyframe left the
    /// history before they caught up (sent a fresh keyframe request instead), and what the
    /// starts sent.
    var instantStarts: UInt64 = 0
    var instantStartsAborted: UInt64 = 0
    var instantStartPackets: UInt64 = 0
    var instantStartBytes: UInt64 = 0
    var instantStartRewinds: UInt64 = 0
    /// Starts moved on to a newer keyframe before they caught up (`jumpCatchUpsToLatestKeyframe`).
    var instantStartJumps: UInt64 = 0
    /// Bytes in the current 1 s window and the last full window's bitrate.
    private var windowBytes: UInt64 = 0
    private var windowStart = Instant(nanoseconds: 0)
    private var windowPackets: UInt64 = 0
    /// Times the history was reallocated larger for a higher packet rate, or smaller after
    /// the rate fell.
    private(set) var historyGrowths: UInt64 = 0
    private(set) var historyShrinks: UInt64 = 0
    /// Packets and bytes per second, smoothed over the last seconds (size the history).
    private var smoothedPacketRate: UInt64 = 0
    private var smoothedByteRate: UInt64 = 0
    private(set) var bitrate: UInt64 = 0
    /// Packets of the current receive batch, not yet fanned out (they point into the
    /// history's arena, or at the one packet too large for it). Allocated once.
    private let pending = UnsafeMutablePointer<UnsafeRawBufferPointer>.allocate(capacity: TrackFanout.pendingCapacity)
    private var pendingCount = 0
    /// The history's `written` when the first held packet was stored.
    private var pendingStart: UInt64 = 0
    /// At most this many packets are held; a larger batch is fanned out in parts, and so is
    /// one whose packets would make the history's arena come round to the first held one.
    /// Nothing else replaces the history while packets are held: it is resized only after a
    /// flush, and a leaving publisher's packets are flushed first (`RoomManager.end`).
    static let pendingCapacity = 64
    static let maximumPacketBytes = 1500
    static let minimumHistoryBytes = 16 * 1024
    /// Each held packet's header (payload type, extension ids) as adapted for the last viewer
    /// class that received it: viewers with the same extension map and payload type get
    /// identical headers, so after the first of them the rewrite is a copy of these bytes.
    /// `headerKeys[k]` is the class key (`mapClass << 8 | payload type`) or -1.
    private let adaptedHeaders = UnsafeMutableRawPointer.allocate(
        byteCount: TrackFanout.pendingCapacity * TrackFanout.adaptedHeaderCapacity, alignment: 16)
    private let headerKeys = UnsafeMutablePointer<Int>.allocate(capacity: TrackFanout.pendingCapacity)
    private let headerLengths = UnsafeMutablePointer<Int>.allocate(capacity: TrackFanout.pendingCapacity)
    /// Longer headers (rare: many or large extensions) are rewritten per copy.
    static let adaptedHeaderCapacity = 128
    /// The distinct extension maps of this track's viewers; a viewer's `mapClass` indexes it.
    private var mapClasses: [ExtensionIDMap] = []
    /// Transport-wide sequence numbering of viewer copies (`TransportSequenceExtension`):
    /// where each held packet carries the element (0: it does not), the source's
    /// extensions plus the one added to its packets when it sends none, and the batch's time.
    private let sequenceOffsets = UnsafeMutablePointer<Int>.allocate(capacity: TrackFanout.pendingCapacity)
    var numbering = TransportSequenceNumbering()
    /// Temporal layers (VP8, VP9 sources): each held packet's layer and frame marks, read once for
    /// every viewer with a temporal cap (`TemporalFilter`), and the bytes each temporal layer
    /// sent in the current window and its last full window's bitrate.
    private let pendingTemporal = UnsafeMutablePointer<TemporalInfo>.allocate(capacity: TrackFanout.pendingCapacity)
    /// Padding planned for each held video packet (`RunPadding`), the same for every viewer.
    private let pendingPadding = UnsafeMutablePointer<UInt8>.allocate(capacity: TrackFanout.pendingCapacity)
    private(set) var temporalCodec: VideoCodec?
    private var temporalWindowBytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Bits/s per temporal layer over the last window (all in layer 0 without temporal layers).
    private(set) var temporalBitrates: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Copies not sent because the viewer's temporal cap held them back.
    var temporalHeld: UInt64 = 0

    /// The history's first arena, before the track's rate is measured.
    private let historyStartBytes: Int

    /// Simulcast: which of the publisher's layers this is (0 without simulcast).
    let layer: Int
    /// The layer's RID while a simulcast publisher sends it.
    var rid: String? {
        guard let rids = source?.simulcastRIDs, layer < rids.count else { return nil }
        return rids[layer]
    }

    /// A room track; `layer` > 0 with `base`, the room's track whose outbound SSRCs and track
    /// id this simulcast layer shares (a viewer sees one stream whatever layer it gets).
    init(
        kind: TrackKind, streamID: String, cname: String, historyStartBytes: Int, instantStartMaxBytes: Int = 0,
        layer: Int = 0, base: TrackFanout? = nil
    ) {
        self.kind = kind
        self.layer = layer
        self.keyframeCache = KeyframeCache(maxBytes: kind == .video ? instantStartMaxBytes : 0)
        self.historyStartBytes = max(historyStartBytes, Self.minimumHistoryBytes)
        self.ssrc = base?.ssrc ?? RandomToken.ssrc()
        self.rtxSSRC = base?.rtxSSRC ?? RandomToken.ssrc()
        self.streamID = streamID
        self.trackID = base?.trackID ?? "\(kind)-\(RandomToken.hex(bytes: 4))"
        self.cname = cname
        self.rewriter = StreamRewriter(clockRate: kind == .audio ? 48_000 : 90_000)
        self.senderReports = SenderReportRewriter(clockRate: kind == .audio ? 48_000 : 90_000)
    }

    deinit {
        pending.deallocate()
        adaptedHeaders.deallocate()
        headerKeys.deallocate()
        headerLengths.deallocate()
        sequenceOffsets.deallocate()
        pendingTemporal.deallocate()
        pendingPadding.deallocate()
    }

    /// A publisher starts (or restarts) sending this track.
    func attach(source media: NegotiatedMedia) {
        source = media
        temporalCodec = VideoCodec(media.codecName).flatMap { TemporalInfo.readsLayers(of: $0) ? $0 : nil }
        // Its stream needs its own keyframe: viewers part-way through the last one go live.
        keyframeCache.reset()
        for v in viewersCatchingUp { v.catchingUp = false }
        viewersCatchingUp.removeAll()
        if rewriter.clockRate != media.codec.clockRate, media.codec.clockRate > 0 {
            rewriter = StreamRewriter(clockRate: media.codec.clockRate)
        }
        // A new publisher has its own clock: wait for its first SR.
        senderReports = SenderReportRewriter(clockRate: rewriter.clockRate)
        // Small to start with (memory per room); grown to the measured packet rate.
        if history == nil {
            history = PacketHistory(slotCount: 256, slotSize: Self.maximumPacketBytes, byteCapacity: historyStartBytes)
        }
        mapClasses.removeAll()
        numbering = TransportSequenceNumbering(source: media.extensions)
        for v in viewers {
            v.bind(publisherExtensions: numbering.forwardedExtensions)
            classify(v)
        }
    }

    /// The publisher left: viewers stay, waiting for the next one.
    func detachSource() { source = nil }

    func add(_ viewer: ViewerTrack) {
        if source != nil { viewer.bind(publisherExtensions: numbering.forwardedExtensions) }
        classify(viewer)
        viewers.append(viewer)
    }

    /// Gives the viewer the class of its extension map (equal maps, one class), so the
    /// fan-out can reuse one adapted header per class; -1 (never shared) past 64 classes.
    private func classify(_ viewer: ViewerTrack) {
        if let i = mapClasses.firstIndex(of: viewer.extensionMap) {
            viewer.mapClass = i
        } else if mapClasses.count < 64 {
            viewer.mapClass = mapClasses.count
            mapClasses.append(viewer.extensionMap)
        } else {
            viewer.mapClass = -1
        }
    }

    func remove(session: PeerSession) {
        viewers.removeAll { $0.session === session }
        // Its tracks must not outlive it here either (`ViewerTrack.session` is unowned).
        viewersWithFollowUps.removeAll { $0.session === session }
        viewersCatchingUp.removeAll { $0.session === session }
        viewersProbing.removeAll { $0.session === session }
    }

    /// Takes one decrypted publisher packet: rewrites it to the outbound stream, keeps it in
    /// the history and holds it for `flushPending`, which the owner calls when the receive
    /// batch ends. Fanning a batch out viewer-major puts each viewer's packets of a frame next
    /// to each other in the send queue, so they leave as one GSO super-datagram.
    /// - Parameters:
    ///   - rtp: the plaintext RTP packet (exactly its bytes); rewritten in place.
    ///   - isKeyframe: whether it starts a keyframe (video), for the keyframe throttle.
    /// - Returns: true when this track now holds packets and was not holding any before: the
    ///   owner lists it for `flushPending` at the end of the batch.
    @discardableResult
    func forward(_ rtp: RTPPacket, isKeyframe: Bool, now: Instant, output: DatagramQueue) -> Bool {
        let packet = rtp.buffer
        let length = packet.count
        let listed = pendingCount > 0
        packetsIn &+= 1
        bytesIn &+= UInt64(length)
        account(bytes: length, now: now, output: output)
        if isKeyframe {
            keyframes &+= 1
            keyframeThrottle.keyframeReceived()
        }
        let out = rewriter.rewrite(ssrc: rtp.ssrc, sequenceNumber: rtp.sequenceNumber, timestamp: rtp.timestamp, now: now)
        rtp.sequenceNumber = out.sequenceNumber
        rtp.timestamp = out.timestamp
        rtp.ssrc = ssrc
        guard source != nil else { return false }
        recorder?.handle(rtp, now: now)
        let (readOnly, sequenceOffset) = numbering.prepare(UnsafeRawBufferPointer(packet), now: now)
        let temporal = TemporalInfo(packet: readOnly, codec: temporalCodec)
        countTemporal(temporal, bytes: length)
        if let history {
            if pendingCount == Self.pendingCapacity
                || (pendingCount > 0 && history.written &- pendingStart > UInt64(history.byteCapacity - 2 * Self.maximumPacketBytes)) {
                flushPending(output: output)
            }
            if pendingCount == 0 { pendingStart = history.written }
            if history.store(readOnly, sequenceNumber: out.sequenceNumber, now: now) {
                if isKeyframe, kind == .video {
                    noteKeyframe(at: out.sequenceNumber, timestamp: out.timestamp, length: length, in: history)
                }
                // The history keeps it until the batch ends, so the receive buffer may be
                // reused meanwhile (io_uring re-arms it at once).
                pending[pendingCount] = history.justStored(sequenceNumber: out.sequenceNumber)
                sequenceOffsets[pendingCount] = sequenceOffset
                pendingTemporal[pendingCount] = temporal
                pendingCount += 1
                return !listed
            }
        }
        // Too large for the history: out now, after what is already held.
        flushPending(output: output)
        pending[0] = readOnly
        sequenceOffsets[0] = sequenceOffset
        pendingTemporal[0] = temporal
        pendingCount = 1
        flushPending(output: output)
        return false
    }

    /// Sends the held packets to every connected viewer, viewer by viewer: copied into a
    /// pooled send slot, adapted to the viewer's payload type and extension ids, encrypted
    /// in place with its SRTP context. Nothing here allocates, retains or releases per copy:
    /// the viewer, its session and its SRTP context are reached unowned (the list and the
    /// sessions outlive the call), and the per-copy fields skip dynamic exclusivity checks.
    func flushPending(output: DatagramQueue) {
        let count = pendingCount
        guard count > 0 else { return }
        pendingCount = 0
        guard let sourceCodec = source?.codecName else {
            droppedNoSource &+= UInt64(count)  // the publisher left within the batch
            return
        }
        let pending = self.pending
        let headers = adaptedHeaders
        let headerKeys = self.headerKeys
        let headerLengths = self.headerLengths
        let sequenceOffsets = self.sequenceOffsets
        let pendingTemporal = self.pendingTemporal
        let padding = self.pendingPadding
        let padded = kind == .video && RunPadding.plan(pending, count: count, into: padding)
        let sendTime = numbering.batchTime
        for k in 0..<count { headerKeys[k] = -1 }
        let list = viewers  // one retain per batch; keeps every viewer alive for the loop
        var copies: UInt64 = 0
        var copyBytes: UInt64 = 0
        var errors: UInt64 = 0
        var full: UInt64 = 0
        var noCodec: UInt64 = 0
        var held: UInt64 = 0
        for i in list.indices {
            // Unowned: `list` holds the viewer; a session removes its tracks from every
            // fan-out before it ends (`RoomManager.end`).
            unowned(unsafe) let viewer = list[i]
            unowned(unsafe) let session = viewer.session
            guard session.state == .connected, !viewer.catchingUp, !viewer.heldForMove, let address = session.address,
                  let srtp = session.rtpProtector
            else {
                continue
            }
            guard viewer.codec == sourceCodec else {
                noCodec &+= UInt64(count)
                continue
            }
            let pt = viewer.payloadType
            let identity = viewer.extensionMap.isIdentity
            let rewrites = viewer.rewrites
            // A temporal cap: its frames above the cap are held back, the rest renumbered.
            unowned(unsafe) let filter = viewer.temporal
            let offsets =
                rewrites ? viewer.offsets : filter == nil ? StreamOffsets() : StreamOffsets(codec: VideoCodec(sourceCodec))
            let key = viewer.mapClass >= 0 ? viewer.mapClass << 8 | Int(pt) : -1
            let numbers = viewer.stampsTransportSequence ? session.transportSequence : nil
            var sent: UInt64 = 0
            var sentBytes: UInt64 = 0
            for k in 0..<count {
                let packet = pending[k]
                let length = packet.count
                var copyOffsets = offsets
                var adjusts = rewrites
                if let filter {
                    guard let d = filter.admit(sequenceNumber: WireBytes.u16(packet, 2), info: pendingTemporal[k]) else {
                        held &+= 1
                        continue
                    }
                    copyOffsets.sequence &-= d.sequence
                    copyOffsets.pictureID &-= d.pictureID
                    adjusts = true
                }
                var failed = false
                let pad = padded ? Int(padding[k]) : 0
                let queued = output.send(to: address, capacity: length + pad + 16) { slot in
                    slot.copyMemory(from: packet)
                    if identity {
                        slot[1] = (slot[1] & 0x80) | pt  // payload type, marker kept
                    } else if key >= 0, headerKeys[k] == key {
                        // Same class as an earlier viewer: its adapted header as it was.
                        slot.baseAddress!.copyMemory(
                            from: headers + k * Self.adaptedHeaderCapacity, byteCount: headerLengths[k])
                    } else {
                        slot[1] = (slot[1] & 0x80) | pt
                        let h = Self.rewriteExtensionIDs(slot, length: length, viewer: viewer)
                        if key >= 0, h > 0, h <= Self.adaptedHeaderCapacity {
                            (headers + k * Self.adaptedHeaderCapacity).copyMemory(from: slot.baseAddress!, byteCount: h)
                            headerLengths[k] = h
                            headerKeys[k] = key
                        }
                    }
                    if adjusts { copyOffsets.apply(to: slot, length: length) }
                    // After the shared header: each viewer's own number.
                    if let numbers {
                        TransportSequenceNumbering.stamp(slot, at: sequenceOffsets[k], numbers, bytes: length + pad, time: sendTime)
                    }
                    if pad > 0 { RunPadding.apply(slot, length: length, pad: pad) }
                    let n = srtp.protectRTP(slot, length: length + pad)
                    failed = n == 0
                    return n
                }
                if failed {
                    errors &+= 1
                } else if queued {
                    sent &+= 1
                    sentBytes &+= UInt64(length + pad)
                } else {
                    full &+= 1
                }
            }
            viewer.packetsSent &+= sent
            viewer.bytesSent &+= sentBytes
            copies &+= sent
            copyBytes &+= sentBytes
        }
        packetsOut &+= copies
        bytesOut &+= copyBytes
        protectErrors &+= errors
        sendQueueFull &+= full
        droppedNoCodecMatch &+= noCodec
        temporalHeld &+= held
    }

    /// Renumbers the header extensions of the packet in `slot[0..<length]` to the viewer's
    /// ids (reading the viewer's map in place: no copy of it per packet). Returns the RTP
    /// header's length (extensions included), 0 when the packet does not parse.
    @inline(__always)
    @discardableResult
    static func rewriteExtensionIDs(_ slot: UnsafeMutableRawBufferPointer, length: Int, viewer: ViewerTrack) -> Int {
        guard let copy = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: slot[0..<length])) else { return 0 }
        copy.rewriteExtensionIDs { viewer.extensionMap.map($0) }
        return copy.headerLength
    }

    /// The outbound RTP timestamp for a publisher timestamp (SR rewriting).
    func outboundTimestamp(_ ts: UInt32) -> UInt32 { rewriter.outboundTimestamp(ts) }

    /// The publisher SSRC the outbound stream currently follows (nil before the first packet).
    var currentSourceSSRC: UInt32? { rewriter.started ? rewriter.sourceSSRC : nil }

    private func account(bytes: Int, now: Instant, output: DatagramQueue) {
        if now - windowStart >= .seconds(1) {
            let elapsed = max((now - windowStart).nanoseconds, 1)
            bitrate = windowStart.nanoseconds == 0 ? 0 : windowBytes * 8 * 1_000_000_000 / elapsed
            if windowStart.nanoseconds != 0 {
                // Smoothed over ~4 s, so a one-second spike (a burst of retransmissions while
                // viewers join) does not double the history for good.
                let rate = windowPackets * 1_000_000_000 / elapsed
                let byteRate = windowBytes * 1_000_000_000 / elapsed
                smoothedPacketRate = smoothedPacketRate == 0 ? rate : (smoothedPacketRate * 3 + rate) / 4
                smoothedByteRate = smoothedByteRate == 0 ? byteRate : (smoothedByteRate * 3 + byteRate) / 4
                resizeHistory(packetsPerSecond: smoothedPacketRate, bytesPerSecond: smoothedByteRate, output: output)
            }
            let w = temporalWindowBytes
            let k: UInt64 = windowStart.nanoseconds == 0 ? 0 : 8 * 1_000_000_000
            temporalBitrates = (w.0 * k / elapsed, w.1 * k / elapsed, w.2 * k / elapsed, w.3 * k / elapsed)
            temporalWindowBytes = (0, 0, 0, 0)
            windowStart = now
            windowBytes = 0
            windowPackets = 0
        }
        windowBytes &+= UInt64(bytes)
        windowPackets &+= 1
    }

    /// Adds a packet's bytes to its temporal layer's window.
    @inline(__always)
    private func countTemporal(_ info: TemporalInfo, bytes: Int) {
        switch info.temporalLayer {
        case 0: temporalWindowBytes.0 &+= UInt64(bytes)
        case 1: temporalWindowBytes.1 &+= UInt64(bytes)
        case 2: temporalWindowBytes.2 &+= UInt64(bytes)
        default: temporalWindowBytes.3 &+= UInt64(bytes)
        }
    }

    /// Bits/s of the frames of temporal layers 0…t, by t, over the last window, up to the
    /// highest layer that sent anything (one entry without temporal layers); decayed to
    /// nothing once packets stop. What a temporal step down saves (`TemporalLayerChoice`).
    func cumulativeTemporalBitrates(now: Instant) -> [UInt64] {
        guard now - windowStart <= .seconds(2) else { return [] }
        let r = temporalBitrates
        guard let top = [r.0, r.1, r.2, r.3].lastIndex(where: { $0 > 0 }) else { return [] }
        return (0...top).map(temporalBitrate(through:))
    }

    /// What a viewer of this layer under temporal cap `cap` is sent (bits/s; nil: no cap):
    /// with cap 0, the least it can be sent. Allocates nothing (each viewer's feedback asks).
    func bitrate(temporalCap cap: Int?, now: Instant) -> UInt64 {
        let all = currentBitrate(now: now)
        guard let cap, temporalCodec != nil, all > 0 else { return all }
        let capped = temporalBitrate(through: cap)
        return capped > 0 ? min(capped, all) : all
    }

    /// Bits/s of the frames of temporal layers 0…`t` over the last window.
    private func temporalBitrate(through t: Int) -> UInt64 {
        let r = temporalBitrates
        return r.0 &+ (t >= 1 ? r.1 : 0) &+ (t >= 2 ? r.2 : 0) &+ (t >= 3 ? r.3 : 0)
    }

    /// Sizes the history to hold ~2.5 s at the smoothed packet and byte rates, or for
    /// instant start the keyframe interval (`KeyframeCache.wantedHistory`) when longer: each of
    /// its table and arena grows at once when too small, and shrinks when a quarter would do
    /// (a few reallocations per stream, at most once a second, never per packet).
    private func resizeHistory(packetsPerSecond rate: UInt64, bytesPerSecond byteRate: UInt64, output: DatagramQueue) {
        guard let h = history else { return }
        let interval = keyframeCache.wantedHistory(packetsIn: packetsIn, bytesIn: bytesIn)
        let rateSlots = Int(min(rate, 100_000)) * 5 / 2
        let wantedSlots = min(max(rateSlots, interval.packets + rateSlots / 2, 64), interval.packets > 0 ? 32768 : 8192)
        var slots = 64
        while slots < wantedSlots { slots *= 2 }
        // The arena: 2.5 s of bytes (or the interval and 1.25 s) plus a quarter of headroom,
        // in 16 KiB steps; an interval in progress doubles it (a few copies per interval).
        let rateBytes = Int(min(byteRate, 100_000_000)) * 5 / 2
        let intervalBytes = interval.bytes > 0 ? interval.bytes + rateBytes / 2 : 0
        let wantedBytes = min(max(rateBytes, intervalBytes, Self.minimumHistoryBytes), 64 << 20)
        var bytes = (wantedBytes * 5 / 4 + 0x3FFF) & ~0x3FFF
        if intervalBytes > 0, wantedBytes > h.byteCapacity { bytes = max(bytes, min(2 * h.byteCapacity, 64 << 20)) }
        let newSlots = slots > h.slotCount || slots * 4 <= h.slotCount ? slots : h.slotCount
        let newBytes = wantedBytes > h.byteCapacity || bytes * 4 <= h.byteCapacity ? bytes : h.byteCapacity
        guard newSlots != h.slotCount || newBytes != h.byteCapacity else { return }
        flushPending(output: output)  // held packets live in the old history's arena
        let resized = PacketHistory(slotCount: newSlots, slotSize: Self.maximumPacketBytes, byteCapacity: newBytes)
        resized.copyPackets(from: h)  // NACKs for packets sent before still answered
        history = resized
        if newSlots > h.slotCount || newBytes > h.byteCapacity { historyGrowths &+= 1 } else { historyShrinks &+= 1 }
    }

    /// Mean loss fraction (0…1) and mean RTT (ms) the viewers' receiver reports give, nil
    /// without reports.
    func viewerQuality() -> (loss: Double, rttMillis: Double?)? {
        var loss = 0.0
        var lossCount = 0
        var rtt = 0.0
        var rttCount = 0
        for v in viewers where v.reports.reportsReceived > 0 {
            loss += v.reports.lossFraction
            lossCount += 1
            if let r = v.reports.roundTripTime {
                rtt += Double(r.nanoseconds) / 1e6
                rttCount += 1
            }
        }
        guard lossCount > 0 else { return nil }
        return (loss / Double(lossCount), rttCount > 0 ? rtt / Double(rttCount) : nil)
    }

    /// The bitrate, decayed to zero once packets stop.
    func currentBitrate(now: Instant) -> UInt64 { now - windowStart > .seconds(2) ? 0 : bitrate }
}
