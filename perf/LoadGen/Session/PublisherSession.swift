import Reactor
import SFU

/// A WHIP publisher sending the synthetic VP8 and Opus-like streams, paced by its timer;
/// PLI/FIR from the server make the next frame a keyframe.
final class PublisherSession: LoadPeer {
    let videoSource: any VideoSource
    let audioSource: SyntheticAudioSource
    var nextFrame = Instant(nanoseconds: 0)
    var nextAudio = Instant(nanoseconds: 0)
    var sending = false
    /// The last `historySize` video packets in the clear, by sequence number, to answer
    /// the server's NACKs (an encoder's RTX, without the RTX stream: resent as they were).
    static let historySize = 512
    static let historySlot = 1232
    private let history: UnsafeMutableRawBufferPointer
    private var historySequence = [Int32](repeating: -1, count: PublisherSession.historySize)
    private var historyLength = [Int](repeating: 0, count: PublisherSession.historySize)
    /// Paced video (`--pacing`): a frame's packets wait here, in the clear, and leave at
    /// `pacingBytesPerSecond`, as a WebRTC sender's pacer spreads an encoder's frame bursts.
    static let pacedSlots = 1024
    private let pacingBytesPerSecond: Double
    private let paced: UnsafeMutableRawBufferPointer
    private var pacedLength = [Int](repeating: 0, count: PublisherSession.pacedSlots)
    private var pacedHead = 0
    private var pacedCount = 0
    private var nextPacedSend = Instant(nanoseconds: 0)

    init(host: LoadLoop, id: Int, room: String, seed: UInt64) throws(ReactorError) {
        let ssrc = UInt32(truncatingIfNeeded: seed &* 31) | 1
        if let path = host.config.ivfPath {
            do {
                videoSource = try IVFVideoSource(path: path, fps: host.config.video.fps, ssrc: ssrc,
                                                 payloadType: LoadOffer.videoPT, seed: seed)
            } catch {
                throw ReactorError.invalidArgument("--ivf: \(error)")
            }
        } else {
            videoSource = SyntheticVideoSource(config: host.config.video, ssrc: ssrc, payloadType: LoadOffer.videoPT, seed: seed)
        }
        audioSource = SyntheticAudioSource(ssrc: UInt32(truncatingIfNeeded: seed &* 37) | 2,
                                           payloadType: LoadOffer.audioPT, seed: seed &+ 1)
        let h = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.historySize * Self.historySlot, alignment: 16)
        history = h
        pacingBytesPerSecond = host.config.pacingFactor * Double(host.config.video.bitrate) / 8
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

    private func remember(_ packet: UnsafeMutableRawBufferPointer, length: Int) {
        guard length >= 4, length <= Self.historySlot else { return }
        let seq = Int(packet[2]) << 8 | Int(packet[3])
        let slot = seq % Self.historySize
        (history.baseAddress! + slot * Self.historySlot).copyMemory(from: packet.baseAddress!, byteCount: length)
        historySequence[slot] = Int32(seq)
        historyLength[slot] = length
    }

    private func resend(_ seq: UInt16) {
        guard let srtp, let remote else { return }
        let slot = Int(seq) % Self.historySize
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
        return o
    }

    override func answered(now: Instant) {
        if let v = answer?.video {
            if let pt = v.payloadType { videoSource.payloadType = pt }
            videoSource.midExtensionID = v.midExtensionID
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
            if pacedCount > 0 { next = min(next, nextPacedSend) }
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

    private func sendFrame(now: Instant) {
        let frame = videoSource.beginFrame()
        if frame.isKeyframe { host.counters.publisherKeyframes &+= 1 }
        let t = Instant.now().nanoseconds
        guard pacingBytesPerSecond > 0 else {
            for i in 0..<frame.packetCount {
                sendVideoPacket { buf in videoSource.writePacket(i, sendNanos: t, into: buf) }
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
            pacedCount += 1
        }
    }

    /// Sends the paced packets that are due, each stamped as it leaves.
    private func sendPaced(now: Instant) {
        while pacedCount > 0, nextPacedSend <= now {
            let slot = pacedHead
            let n = pacedLength[slot]
            let src = paced.baseAddress! + slot * Self.historySlot
            pacedHead = (pacedHead + 1) % Self.pacedSlots
            pacedCount -= 1
            nextPacedSend = nextPacedSend + Duration(nanoseconds: UInt64(Double(max(n, 1)) * 1e9 / pacingBytesPerSecond))
            let stamp = Instant.now().nanoseconds
            sendVideoPacket { buf in
                guard n > 0, n <= buf.count else { return 0 }
                buf.baseAddress!.copyMemory(from: src, byteCount: n)
                MediaStamp.restamp(packet: buf, length: n, sendNanos: stamp)
                return n
            }
        }
    }

    /// Writes one video packet with `write`, keeps it for NACKs, protects and queues it.
    private func sendVideoPacket(_ write: (UnsafeMutableRawBufferPointer) -> Int) {
        sendMedia { buf in
            let n = write(buf)
            if n > 0 { remember(buf, length: n) }
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

    override func handleRTCP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let srtp, let n = try? srtp.unprotectRTCP(d, length: d.count) else { return }
        let f = LoadRTCP.scanFeedback(UnsafeRawBufferPointer(rebasing: d[0..<n]))
        if f.keyframeRequests > 0 {
            host.counters.publisherPLIsReceived &+= UInt64(f.keyframeRequests)
            videoSource.requestKeyframe()
        }
        host.counters.publisherNACKsReceived &+= UInt64(f.nacks)
        if f.nacks > 0 {
            let videoSSRC = videoSource.ssrc
            LoadRTCP.forEachNackedSequence(UnsafeRawBufferPointer(rebasing: d[0..<n])) { media, seq in
                if media == videoSSRC { resend(seq) }
            }
        }
    }
}
