import Reactor

@testable import SFU

/// What a simulated viewer makes of the video it receives, as a decoder would: a frame is
/// whole when all its packets arrived (media or RTX repair); decoding starts at a whole
/// keyframe and goes on frame by frame, or jumps to a later whole keyframe. The viewer NACKs
/// what is missing (the SFU's own `NackGenerator`, as a browser's receiver does) and asks
/// for a keyframe with a PLI when it is stuck. Decode times are kept for the checks.
final class ViewerPlayback {
    private struct Frame {
        var count: Int
        var have: UInt64 = 0
        var isKey: Bool
        var isWhole: Bool { have.nonzeroBitCount == count }
    }

    let mediaSSRC: UInt32
    let rtxSSRC: UInt32?
    let payloadType: UInt8
    private var frames: [UInt32: Frame] = [:]
    private(set) var decodedThrough: UInt32?
    /// When each decoded frame was decoded (virtual ns), in order.
    private(set) var decodeTimes: [UInt64] = []
    private(set) var decodedFrames: [UInt32] = []
    private var nack = NackGenerator()
    private var nackBuffer = [UInt16](repeating: 0, count: 64)
    private var lastPLI: UInt64 = 0
    private(set) var plisSent = 0
    private(set) var nacksSent = 0
    private(set) var repairsReceived = 0
    private(set) var packetsReceived = 0
    private(set) var undecodable = 0
    var connectedAt: UInt64?
    /// False: never sends a PLI (a relay or recorder; see `SimulationScenario.Viewer.passive`).
    var asksForKeyframes = true
    /// A viewer asks for a keyframe itself as Chrome's receiver does: at once when the first
    /// whole frame it assembles is not a keyframe, and when decoding stalled this long behind
    /// frames it cannot complete.
    static let stuckPLIAfter: UInt64 = 400_000_000
    private var wantsKeyframeNow = false
    /// Starts of frames whose first packet is missing although a later one arrived: NACKed
    /// too (a generator that starts at the first packet it sees cannot know of them), with
    /// the number of tries and when the last went out.
    private var missingStarts: [UInt16: (frame: UInt32, tries: Int, lastSent: UInt64)] = [:]

    init?(negotiation: ClientNegotiation) {
        guard let video = negotiation.media.first(where: { $0.kind == .video }), let ssrc = video.remoteSSRC else {
            return nil
        }
        mediaSSRC = ssrc
        rtxSSRC = video.remoteRTXSSRC
        payloadType = video.payloadType
    }

    func received(_ packet: RTPPacket, now: UInt64) {
        if packet.ssrc == mediaSSRC, packet.payloadType == payloadType {
            _ = nack.received(sequenceNumber: packet.sequenceNumber, now: Instant(nanoseconds: now))
            take(packet, now: now)
        } else if let rtxSSRC, packet.ssrc == rtxSSRC,
            let n = try? RTXPacketizer.unwrap(packet, ssrc: mediaSSRC, payloadType: payloadType),
            let original = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: packet.buffer[0..<n]))
        {
            repairsReceived += 1
            _ = nack.repairArrived(sequenceNumber: original.sequenceNumber, now: Instant(nanoseconds: now))
            take(original, now: now)
        }
    }

    private func take(_ packet: RTPPacket, now: UInt64) {
        let p = packet.payload
        let m = PublisherMedia.metadataOffset
        guard p.count >= m + 7 else { return }
        packetsReceived += 1
        let number = UInt32(p[m]) << 24 | UInt32(p[m + 1]) << 16 | UInt32(p[m + 2]) << 8 | UInt32(p[m + 3])
        if let d = decodedThrough, number <= d { return }
        let index = p[m + 4] & 63
        var f = frames[number] ?? Frame(count: Int(p[m + 5]), isKey: p[m + 6] == 1)
        f.have |= 1 << UInt64(index)
        frames[number] = f
        let start = packet.sequenceNumber &- UInt16(index)
        if index == 0 {
            missingStarts[start] = nil
        } else if f.have & 1 == 0, missingStarts[start] == nil {
            missingStarts[start] = (number, 0, 0)
        }
        if decodedThrough == nil, f.isWhole, !f.isKey { wantsKeyframeNow = true }
        advance(now: now)
    }

    private func advance(now: UInt64) {
        while true {
            if let d = decodedThrough, let next = frames[d &+ 1], next.isWhole {
                decode(d &+ 1, now: now)
                continue
            }
            // (Re)start at the earliest whole keyframe after what was decoded.
            let start = frames.filter { f in
                f.value.isKey && f.value.isWhole && decodedThrough.map { f.key > $0 } ?? true
            }.keys.min()
            guard let start else { return }
            if let d = decodedThrough { undecodable += Int(start - d - 1) }
            decode(start, now: now)
        }
    }

    private func decode(_ number: UInt32, now: UInt64) {
        decodedThrough = number
        decodedFrames.append(number)
        decodeTimes.append(now)
        for k in frames.keys where k <= number { frames[k] = nil }
    }

    /// Feedback that is due: NACKs for missing packets, a PLI when stuck.
    func tick(peer: ClientPeer, now: UInt64) {
        let due = nackBuffer.withUnsafeMutableBufferPointer { nack.collect(now: Instant(nanoseconds: now), into: $0) }
        var lost = Array(nackBuffer[0..<due])
        for (seq, start) in missingStarts.sorted(by: { $0.key < $1.key }) {
            if decodedThrough.map({ start.frame <= $0 }) ?? false || start.tries >= 5 {
                missingStarts[seq] = nil
            } else if now - start.lastSent >= 100_000_000 {
                missingStarts[seq] = (start.frame, start.tries + 1, now)
                lost.append(seq)
            }
        }
        if !lost.isEmpty,
            peer.sendRTCP({ $0.addNack(senderSSRC: 0x5EED_0001, mediaSSRC: mediaSSRC, lost: lost) })
        {
            nacksSent += 1
        }
        guard asksForKeyframes, now - lastPLI >= 500_000_000 else { return }
        let stuck =
            decodedThrough == nil
            ? wantsKeyframeNow : !frames.isEmpty && now - (decodeTimes.last ?? now) >= Self.stuckPLIAfter
        guard stuck else { return }
        wantsKeyframeNow = false
        if peer.sendRTCP({ $0.addPictureLossIndication(senderSSRC: 0x5EED_0001, mediaSSRC: mediaSSRC) }) {
            plisSent += 1
            lastPLI = now
        }
    }
}
