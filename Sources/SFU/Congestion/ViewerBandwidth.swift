import Reactor

/// One viewer session's bandwidth state: the log of the packets sent to it with a
/// transport-wide sequence number (when its answer negotiated transport-cc) and the
/// estimator its feedback drives. Audio and video share it: they share the transport.
/// Core-confined, owned by the `PeerSession`.
final class ViewerBandwidth {
    /// Nil when the viewer did not negotiate transport-cc (REMB and receiver reports only).
    let log: SentPacketLog?
    var estimator = BandwidthEstimator()

    /// Where each feedback goes as a text line (`BANDWIDTH_TRACE_FILE`), nil: nowhere.
    let trace: (@Sendable (String) -> Void)?

    init(transportCC: Bool, trace: (@Sendable (String) -> Void)? = nil) {
        log = transportCC ? SentPacketLog(firstSequence: RandomToken.value(in: 0...UInt16.max)) : nil
        self.trace = trace
    }

    /// A transport-cc feedback packet from the viewer.
    func transportFeedback(_ feedback: RTCPTransportFeedback, rtt: Duration?, now: Instant) {
        guard let log else {
            estimator.ignoredWithoutNegotiation()
            return
        }
        if let trace { trace(Self.traceLine(feedback, log: log, rtt: rtt, now: now, viewer: ObjectIdentifier(self))) }
        estimator.transportFeedback(log: log, rtt: rtt, now: now) { feedback.forEachPacket($0) }
    }

    /// One feedback as a trace line, with what was sent for each number it reports, so a test
    /// can replay it into an estimator (`BandwidthTrace`): `F <viewer> <now µs> <rtt µs>` and
    /// then `<seq>:<send µs>:<bytes>:<arrival µs or ->` per packet (`?` for send and bytes
    /// when the number is not in the log). Debug only: it allocates.
    static func traceLine(
        _ feedback: RTCPTransportFeedback, log: SentPacketLog, rtt: Duration?, now: Instant, viewer: ObjectIdentifier
    ) -> String {
        var line = "F \(UInt(bitPattern: viewer.hashValue) & 0xFFFF_FFFF) \(now.nanoseconds / 1000) "
        line += rtt.map { "\($0.nanoseconds / 1000)" } ?? "-"
        feedback.forEachPacket { seq, arrival in
            let entry = log.lookup(seq)?.pointee
            line += " \(seq):" + (entry.map { "\($0.sendMicros(now: now)):\($0.size)" } ?? "?:?")
            line += ":" + (arrival.map { String($0) } ?? "-")
        }
        return line
    }
}
