import Reactor
import SFU

/// A WHIP publisher sending the synthetic VP8 and Opus-like streams, paced by its timer;
/// PLI/FIR from the server make the next frame a keyframe. With `--simulcast` it sends one
/// synthetic stream per layer (`RunConfig.simulcastRIDs`), each on its own unsignalled SSRC
/// with the RID extension, its own keyframes and a NACK history, through one pacer.
final class PublisherSession: LoadPeer {
    /// The video streams: one, or a simulcast publisher's layers, best first.
    let videoSources: [any VideoSource]
    var videoSource: any VideoSource { videoSources[0] }
    let audioSource: SyntheticAudioSource
    var nextFrame = Instant(nanoseconds: 0)
    var nextAudio = Instant(nanoseconds: 0)
    var sending = false
    /// The last `historySize` video packets of each layer in the clear, by sequence number,
    /// to answer the server's NACKs (an encoder's RTX, without the RTX stream: resent as
    /// they were).
    static let historySize = 512
    static let historySlot = 1232
    private let history: UnsafeMutableRawBufferPointer
    private var historySequence: [Int32]
    private var historyLength: [Int]
    /// Paced video (`--pacing`): a frame's packets wait here, in the clear, and leave at
    /// `pacingBytesPerSecond`, as a WebRTC sender's pacer spreads an encoder's frame bursts.
    /// Up to `pacingBurst` of sending may go at once (`--pacing-burst-ms`: libwebrtc's pacer
    /// sends up to 40 ms of its rate in one burst, so a delta frame leaves whole and only a
    /// large keyframe is spread).
    static let pacedSlots = 1024
    private let pacingBytesPerSecond: Double
    private let pacingBurst: Duration
    private let paced: UnsafeMutableRawBufferPointer
    private var pacedLength = [Int](repeating: 0, count: PublisherSession.pacedSlots)
    private var pacedLayer = [UInt8](repeating: 0, count: PublisherSession.pacedSlots)
    private var pacedHead = 0
    private var pacedCount = 0
    private var nextPacedSend = Instant(nanoseconds: 0)

    init(host: LoadLoop, id: Int, room: String, seed: UInt64) throws(ReactorError) {
        let ssrc = UInt32(truncatingIfNeeded: seed &* 31) | 1
        if let path = host.config.ivfPath {
            do {
                videoSources = [try IVFVideoSource(path: path, fps: host.config.video.fps, ssrc: ssrc,
                                                 payloadType: LoadOffer.videoPT, seed: seed)]
            } catch {
                throw ReactorError.invalidArgument("--ivf: \(error)")
            }
        } else if host.config.simulcastRIDs.isEmpty {
            videoSources = [SyntheticVideoSource(config: host.config.video, ssrc: ssrc, payloadType: LoadOffer.videoPT, seed: seed)]
        } else {
            videoSources = host.config.simulcastRIDs.enumerated().map { i, rid in
                SyntheticVideoSource(config: host.config.video.layer(i), ssrc: ssrc &+ UInt32(i) &* 0x1000_0001,
                                     payloadType: LoadOffer.videoPT, seed: seed &+ UInt64(i) &* 1_000_003, rid: rid)
            }
        }
        audioSource = SyntheticAudioSource(ssrc: UInt32(truncatingIfNeeded: seed &* 37) | 2,
                                           payloadType: LoadOffer.audioPT, seed: seed &+ 1)
        let slots = Self.historySize * videoSources.count
        historySequence = [Int32](repeating: -1, count: slots)
        historyLength = [Int](repeating: 0, count: slots)
        let h = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * Self.historySlot, alignment: 16)
        history = h
        // One pacer for every layer, as a browser's: at the factor times their sum.
        let totalBitrate = host.config.simulcastRIDs.isEmpty
            ? host.config.video.bitrate
            : host.config.simulcastRIDs.indices.reduce(0) { $0 + host.config.video.layer($1).bitrate }
        pacingBytesPerSecond = host.config.pacingFactor * Double(totalBitrate) / 8
        pacingBurst = .milliseconds(host.config.pacingBurstMillis)
        let pacedBytes = pacingBytesPerSecond > 0 ? Self.pacedSlots * Self.historySlot : 0
        let q = UnsafeMutableRawBufferPointer.allocate(byteCount: max(pacedBytes, 1), alignment: 16)
        paced = q
        do { try super.init(host: host, id: id, room: room, seed: seed) } catch {
            h.deallocate()
            q.deallocate()
            throw error
        }
    }

    deinit {
        history.deallocate()
        paced.deallocate()
    }

    private func remember(_ packet: UnsafeMutableRawBufferPointer, length: Int, layer: Int) {
        guard length >= 4, length <= Self.historySlot else { return }
        let seq = Int(packet[2]) << 8 | Int(packet[3])
        let slot = layer * Self.historySize + seq % Self.historySize
        (history.baseAddress! + slot * Self.historySlot).copyMemory(from: packet.baseAddress!, byteCount: length)
        historySequence[slot] = Int32(seq)
        historyLength[slot] = length
    }

    private func resend(_ seq: UInt16, layer: Int) {
        guard let srtp, let remote else { return }
        let slot = layer * Self.historySize + Int(seq) % Self.historySize
        guard historySequence[slot] == Int32(seq) else { return }
        let n = historyLength[slot]
        let src = history.baseAddress! + slot * Self.historySlot
        var bytes = 0
        socket.send(to: remote, capacity: 1500) { buf in
            buf.baseAddress!.copyMemory(from: src, byteCount: n)
            guard let p = try? srtp.protectRTP(buf, length: n) else { return 0 }
            bytes = p
            return p
        }
        if bytes > 0 { host.counters.publisherRetransmissions &+= 1 }
    }

    override var offer: LoadOffer {
        var o = LoadOffer(role: .publisher, iceUfrag: localUfrag, icePassword: localPassword,
                            fingerprint: host.identity.fingerprint, candidate: socket.localAddress)
        o.videoSSRC = videoSource.ssrc
        o.audioSSRC = audioSource.ssrc
        o.simulcastRIDs = host.config.simulcastRIDs
        return o
    }

    override func answered(now: Instant) {
        if let v = answer?.video {
            for source in videoSources {
                if let pt = v.payloadType { source.payloadType = pt }
                source.midExtensionID = v.midExtensionID
                (source as? SyntheticVideoSource)?.ridExtensionID = v.ridExtensionID
            }
        }
        if !host.config.simulcastRIDs.isEmpty, answer?.video?.simulcast == nil || answer?.video?.ridExtensionID == 0 {
            fail("the answer accepts no simulcast (no a=simulcast or no RID extension)", now: now)
        }
        if let a = answer?.audio {
            if let pt = a.payloadType { audioSource.payloadType = pt }
            audioSource.midExtensionID = a.midExtensionID
        }
    }

    override func secured(now: Instant) {
        host.counters.publishersConnected += 1
        sending = true
        nextFrame = now
        nextAudio = now
    }

    override func failed(now: Instant) {
        host.counters.publishersFailed += 1
        host.counters.noteFailure("publisher \(room): \(failureReason ?? "?")")
    }

    func stopSending() { sending = false }

    override func serviceMedia(now: Instant) -> Instant? {
        guard sending else { return nil }
        // After a stall longer than 200 ms, skip ahead instead of bursting to catch up.
        if now - nextFrame > .milliseconds(200) { nextFrame = now }
        if now - nextAudio > .milliseconds(200) { nextAudio = now }
        while nextFrame <= now {
            sendFrame(now: now)
            nextFrame = nextFrame + Duration(nanoseconds: videoSource.frameIntervalNanos)
        }
        var next = nextFrame
        if pacedCount > 0 {
            sendPaced(now: now)
            if pacedCount > 0 {
                next = min(next, Instant(nanoseconds: nextPacedSend.nanoseconds - min(nextPacedSend.nanoseconds, pacingBurst.nanoseconds)))
            }
        }
        if host.config.audio {
            while nextAudio <= now {
                sendAudio()
                nextAudio = nextAudio + Duration(nanoseconds: SyntheticAudioSource.packetIntervalNanos)
            }
            next = min(next, nextAudio)
        }
        return next
    }

    /// A frame of each layer (a simulcast encoder's layers come from one captured frame).
    private func sendFrame(now: Instant) {
        for layer in videoSources.indices { sendFrame(layer: layer, now: now) }
    }

    private func sendFrame(layer: Int, now: Instant) {
        let videoSource = videoSources[layer]
        let frame = videoSource.beginFrame()
        if frame.isKeyframe { host.counters.publisherKeyframes &+= 1 }
        let t = Instant.now().nanoseconds
        guard pacingBytesPerSecond > 0 else {
            for i in 0..<frame.packetCount {
                sendVideoPacket(layer: layer) { buf in videoSource.writePacket(i, sendNanos: t, into: buf) }
            }
            return
        }
        if pacedCount == 0, nextPacedSend < now { nextPacedSend = now }
        for i in 0..<frame.packetCount {
            guard pacedCount < Self.pacedSlots else {
                host.counters.sendDropped &+= 1
                continue
            }
            let slot = (pacedHead + pacedCount) % Self.pacedSlots
            let buf = UnsafeMutableRawBufferPointer(
                rebasing: paced[slot * Self.historySlot..<(slot + 1) * Self.historySlot])
            pacedLength[slot] = videoSource.writePacket(i, sendNanos: t, into: buf)
            pacedLayer[slot] = UInt8(layer)
            pacedCount += 1
        }
    }

    /// Sends the paced packets that are due, each stamped as it leaves.
    private func sendPaced(now: Instant) {
        while pacedCount > 0, nextPacedSend <= now + pacingBurst {
            let slot = pacedHead
            let n = pacedLength[slot]
            let layer = Int(pacedLayer[slot])
            let src = paced.baseAddress! + slot * Self.historySlot
            pacedHead = (pacedHead + 1) % Self.pacedSlots
            pacedCount -= 1
            nextPacedSend = nextPacedSend + Duration(nanoseconds: UInt64(Double(max(n, 1)) * 1e9 / pacingBytesPerSecond))
            let stamp = Instant.now().nanoseconds
            sendVideoPacket(layer: layer) { buf in
                guard n > 0, n <= buf.count else { return 0 }
                buf.baseAddress!.copyMemory(from: src, byteCount: n)
                MediaStamp.restamp(packet: buf, length: n, sendNanos: stamp)
                return n
            }
        }
    }

    /// Writes one video packet with `write`, keeps it for NACKs, protects and queues it.
    private func sendVideoPacket(layer: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        sendMedia { buf in
            let n = write(buf)
            if n > 0 { remember(buf, length: n, layer: layer) }
            return n
        }
    }

    private func sendAudio() {
        let t = Instant.now().nanoseconds
        sendMedia { buf in audioSource.writePacket(sendNanos: t, into: buf) }
    }

    /// Writes one RTP packet with `write`, protects and queues it, and counts it.
    private func sendMedia(_ write: (UnsafeMutableRawBufferPointer) -> Int) {
        guard let srtp, let remote else { return }
        var bytes = 0
        let ok = socket.send(to: remote, capacity: 1500) { buf in
            let n = write(buf)
            guard n > 0, let p = try? srtp.protectRTP(buf, length: n) else { return 0 }
            bytes = p
            return p
        }
        if ok && bytes > 0 {
            host.counters.publisherPacketsSent &+= 1
            host.counters.publisherBytesSent &+= UInt64(bytes)
        } else {
            host.counters.sendDropped &+= 1
        }
    }

    private func layer(ssrc: UInt32) -> Int? {
        for (i, s) in videoSources.enumerated() where s.ssrc == ssrc { return i }
        return nil
    }

    override func handleRTCP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let srtp, let n = try? srtp.unprotectRTCP(d, length: d.count) else { return }
        let f = LoadRTCP.scanFeedback(UnsafeRawBufferPointer(rebasing: d[0..<n]))
        if f.keyframeRequests > 0 {
            host.counters.publisherPLIsReceived &+= UInt64(f.keyframeRequests)
            if videoSources.count == 1 {
                videoSource.requestKeyframe()
            } else {
                // A layer's keyframe for a request naming its SSRC; every layer's otherwise.
                LoadRTCP.forEachKeyframeRequest(UnsafeRawBufferPointer(rebasing: d[0..<n])) { media in
                    if let layer = layer(ssrc: media) {
                        videoSources[layer].requestKeyframe()
                        host.counters.publisherLayerKeyframeRequests[min(layer, LoadCounters.maxLayers - 1)] &+= 1
                    } else {
                        for s in videoSources { s.requestKeyframe() }
                    }
                }
            }
        }
        host.counters.publisherNACKsReceived &+= UInt64(f.nacks)
        if f.nacks > 0 {
            LoadRTCP.forEachNackedSequence(UnsafeRawBufferPointer(rebasing: d[0..<n])) { media, seq in
                if let layer = layer(ssrc: media) { resend(seq, layer: layer) }
            }
        }
    }
}
