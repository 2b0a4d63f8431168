import Reactor

/// What one core's `drain` ended, for the shutdown log line.
public struct DrainSummary: Sendable, Equatable {
    public var rooms = 0
    public var publishers = 0
    public var viewers = 0
    /// Sessions that got an RTCP BYE (connected ones: the others have no SRTP yet).
    public var byesSent = 0
    /// Recordings finished (their files completed and handed to the writer).
    public var recordingsFinished = 0

    public init() {}

    public static func + (a: DrainSummary, b: DrainSummary) -> DrainSummary {
        var s = a
        s.rooms += b.rooms
        s.publishers += b.publishers
        s.viewers += b.viewers
        s.byesSent += b.byesSent
        s.recordingsFinished += b.recordingsFinished
        return s
    }
}

extension RoomManager {
    /// Graceful shutdown (SIGTERM): every connected peer gets an RTCP BYE for the streams
    /// this server sends it (a viewer: its tracks' SSRCs; a publisher: the SSRC the server's
    /// reports come from), so its stack ends those streams at once instead of waiting for a
    /// timeout; then each session ends as on `DELETE` (DTLS close_notify, recordings
    /// finished). Called on this core through its mailbox; the datagrams go out at the end
    /// of the loop turn.
    public func drain(now: Instant) -> DrainSummary {
        var summary = DrainSummary()
        summary.rooms = rooms.count
        for room in rooms.values {
            summary.recordingsFinished += [room.audio, room.video].count { $0.recorder != nil }
        }
        for s in Array(sessions.byID.values) {
            if s.role == .publisher { summary.publishers += 1 } else { summary.viewers += 1 }
            if sendBye(to: s) { summary.byesSent += 1 }
            end(s, reason: .shutdown, now: now)
        }
        return summary
    }

    /// An empty receiver report (a compound starts with SR or RR, RFC 3550 §6.1) and a BYE;
    /// the capacity leaves room for the SRTCP index and tag (up to 20 bytes with AES-GCM).
    func sendBye(to s: PeerSession) -> Bool {
        guard let room = rooms[s.roomName] else { return false }
        var ssrcs: [UInt32] = []
        if s.role == .publisher {
            ssrcs.append(room.video.ssrc)
        } else {
            for t in s.viewerTracks {
                let fanout = room.fanout(t.kind)
                ssrcs.append(fanout.ssrc)
                if t.kind == .video { ssrcs.append(fanout.rtxSSRC) }
            }
        }
        guard let first = ssrcs.first else { return false }
        return RTCPSender.send(to: s, on: output, capacity: 64 + 4 * ssrcs.count) { w in
            w.addReceiverReport(ssrc: first, reports: [RTCPReportBlock]())
            w.addBye(ssrcs: ssrcs)
            return true
        }
    }
}
