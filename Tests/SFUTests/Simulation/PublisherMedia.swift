import Reactor

@testable import SFU

/// What a simulated publisher sends: VP8-shaped video frames (a keyframe at the start, on
/// every PLI/FIR and every `keyframeInterval`), Opus-shaped audio every 20 ms, and RTX
/// repairs for the server's NACKs from a history of what it sent. Each video packet's
/// payload carries its frame number, its index and the frame's packet count, so a viewer
/// can tell a whole frame from a broken one after the server rewrote the headers.
final class PublisherMedia {
    static let keyframePackets = 8
    static let deltaPackets = 2
    static let keyframePacketBytes = 1000
    static let deltaPacketBytes = 700
    static let metadataOffset = 11

    let videoSSRC: UInt32
    let rtxSSRC: UInt32
    let audioSSRC: UInt32
    let videoPayloadType: UInt8
    let rtxPayloadType: UInt8
    let audioPayloadType: UInt8
    var keyframeInterval: UInt64 = 10_000_000_000
    private var sequence: UInt16
    private var rtxSequence: UInt16 = 7000
    private var audioSequence: UInt16 = 100
    private var timestamp: UInt32 = 90_000
    private var audioTimestamp: UInt32 = 48_000
    private var keyframeWanted = true
    private var lastKeyframeAt: UInt64 = 0
    /// The last 1024 video packets sent, plaintext, by sequence number modulo 1024.
    private var history: [(sequence: UInt16, bytes: [UInt8])?] = Array(repeating: nil, count: 1024)

    private(set) var keyframesSent = 0
    private(set) var keyframeRequests = 0
    private(set) var repairsSent = 0
    private(set) var packetsSent = 0

    init?(negotiation: ClientNegotiation, videoSSRC: UInt32, audioSSRC: UInt32, firstSequence: UInt16) {
        guard let video = negotiation.media.first(where: { $0.kind == .video }), let rtx = video.rtxPayloadType,
            let audio = negotiation.media.first(where: { $0.kind == .audio })
        else { return nil }
        self.videoSSRC = videoSSRC
        rtxSSRC = videoSSRC &+ 1
        self.audioSSRC = audioSSRC
        videoPayloadType = video.payloadType
        rtxPayloadType = rtx
        audioPayloadType = audio.payloadType
        sequence = firstSequence
    }

    /// Sends frame `number`; returns whether it was a keyframe.
    @discardableResult
    func sendFrame(_ number: UInt32, peer: ClientPeer, now: UInt64) -> Bool {
        let key = keyframeWanted || now - lastKeyframeAt >= keyframeInterval
        if key {
            keyframeWanted = false
            lastKeyframeAt = now
            keyframesSent += 1
        }
        let count = key ? Self.keyframePackets : Self.deltaPackets
        let size = key ? Self.keyframePacketBytes : Self.deltaPacketBytes
        for index in 0..<count {
            var payload = [UInt8](repeating: 0x5A, count: size)
            payload[0] = index == 0 ? 0x10 : 0x00  // VP8 descriptor: S=1 on the first packet, PID 0
            if index == 0 {
                payload[1] = key ? 0x00 : 0x01  // P bit: 0 = keyframe
                payload[2] = 0
                payload[3] = 0
                payload[4] = 0x9D
                payload[5] = 0x01
                payload[6] = 0x2A
            }
            let m = Self.metadataOffset
            payload[m] = UInt8(truncatingIfNeeded: number >> 24)
            payload[m + 1] = UInt8(truncatingIfNeeded: number >> 16)
            payload[m + 2] = UInt8(truncatingIfNeeded: number >> 8)
            payload[m + 3] = UInt8(truncatingIfNeeded: number)
            payload[m + 4] = UInt8(index)
            payload[m + 5] = UInt8(count)
            payload[m + 6] = key ? 1 : 0
            let seq = sequence
            var plain: [UInt8] = []
            let sent = peer.sendRTP { slot in
                var b = RTPPacketBuilder(
                    into: slot, payloadType: videoPayloadType, marker: index == count - 1, sequenceNumber: seq,
                    timestamp: timestamp, ssrc: videoSSRC)
                let n = payload.withUnsafeBytes { (try? b.finish(payload: $0)) ?? 0 }
                plain = Array(slot[0..<n])
                return n
            }
            if sent {
                history[Int(seq) % history.count] = (seq, plain)
                packetsSent += 1
            }
            sequence &+= 1
        }
        timestamp &+= 3000
        return key
    }

    func sendAudio(peer: ClientPeer) {
        let seq = audioSequence
        let ts = audioTimestamp
        peer.sendRTP { slot in
            var b = RTPPacketBuilder(
                into: slot, payloadType: audioPayloadType, sequenceNumber: seq, timestamp: ts, ssrc: audioSSRC)
            let payload = [UInt8](repeating: 0xF8, count: 80)
            return payload.withUnsafeBytes { (try? b.finish(payload: $0)) ?? 0 }
        }
        audioSequence &+= 1
        audioTimestamp &+= 960
    }

    /// The server's feedback: NACKs are repaired on the RTX stream, PLI and FIR ask for a keyframe.
    func handle(_ compound: RTCPCompound, peer: ClientPeer) {
        for packet in compound {
            switch packet {
            case .nack(let nack):
                nack.forEachLostSequence { seq in resend(seq, peer: peer) }
            case .pli, .fir:
                keyframeWanted = true
                keyframeRequests += 1
            default:
                break
            }
        }
    }

    private func resend(_ seq: UInt16, peer: ClientPeer) {
        guard let stored = history[Int(seq) % history.count], stored.sequence == seq else { return }
        let rtxSeq = rtxSequence
        let sent = peer.sendRTP { slot in
            stored.bytes.withUnsafeBytes {
                (try? RTXPacketizer.wrap($0, into: slot, ssrc: rtxSSRC, sequenceNumber: rtxSeq, payloadType: rtxPayloadType)) ?? 0
            }
        }
        if sent {
            rtxSequence &+= 1
            repairsSent += 1
        }
    }
}
