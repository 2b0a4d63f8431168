import Reactor

/// One viewer session's bandwidth state: the log of the packets sent to it with a
/// transport-wide sequence number (when its answer negotiated transport-cc) and the
/// estimator its feedback drives. Audio and video share it: they share the transport.
/// Core-confined, owned by the `PeerSession`.
final class ViewerBandwidth {
    /// Nil when the viewer did not negotiate transport-cc (REMB and receiver reports only).
    let log: SentPacketLog?
    var estimator = BandwidthEstimator()

    init(transportCC: Bool) {
        log = transportCC ? SentPacketLog(firstSequence: RandomToken.value(in: 0...UInt16.max)) : nil
    }

    /// A transport-cc feedback packet from the viewer.
    func transportFeedback(_ feedback: RTCPTransportFeedback, rtt: Duration?, now: Instant) {
        guard let log else {
            estimator.ignoredWithoutNegotiation()
            return
        }
        estimator.transportFeedback(log: log, rtt: rtt, now: now) { feedback.forEachPacket($0) }
    }
}
