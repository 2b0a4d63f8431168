import Reactor

/// Turns a publisher's sender reports into the ones the viewers get for the room's outbound
/// stream, so they can keep audio and video in sync (RFC 3550 §6.4.1: the NTP↔RTP pair of
/// each stream puts both on one wall clock).
///
/// The publisher's NTP time is kept (audio and video come from the same publisher clock, so
/// the pairing between the room's two tracks stays right); its RTP timestamp is mapped to the
/// outbound timeline by the caller (`StreamRewriter.outboundTimestamp`). Between publisher
/// reports — or when a viewer needs one at another moment — the pair is extrapolated with the
/// RTP clock rate. Packet and octet counts are the viewer's own outbound counts.
public struct SenderReportRewriter {
    public let clockRate: UInt32
    /// How long a publisher report may be extrapolated before it is considered stale.
    public var maxAge: Duration
    private var ntp: UInt64 = 0
    private var rtp: UInt32 = 0
    private var receivedAt: Instant?
    public private(set) var reportsReceived: UInt64 = 0
    /// Reports refused as implausible (an NTP time of zero).
    public private(set) var reportsRejected: UInt64 = 0

    public init(clockRate: UInt32, maxAge: Duration = .seconds(10)) {
        precondition(clockRate > 0)
        self.clockRate = clockRate
        self.maxAge = maxAge
    }

    /// A publisher SR arrived: its NTP time and its RTP timestamp already mapped to the
    /// outbound stream.
    public mutating func publisherReport(ntpTimestamp: UInt64, outboundRTPTimestamp: UInt32, now: Instant) {
        guard ntpTimestamp != 0 else {
            reportsRejected &+= 1
            return
        }
        ntp = ntpTimestamp
        rtp = outboundRTPTimestamp
        receivedAt = now
        reportsReceived &+= 1
    }

    /// The publisher changed: its clock pairing no longer holds.
    public mutating func reset() { receivedAt = nil }

    /// The NTP/RTP pair for a report sent at `now`, nil without a fresh publisher report.
    public func report(now: Instant) -> (ntpTimestamp: UInt64, rtpTimestamp: UInt32)? {
        guard let at = receivedAt, now - at <= maxAge else { return nil }
        let elapsed = now - at
        return (
            NTPTime.adding(elapsed, to: ntp),
            rtp &+ UInt32(truncatingIfNeeded: NTPTime.ticks(elapsed, clockRate: clockRate))
        )
    }

    /// Writes the SR of the outbound stream `ssrc` for one viewer, with that viewer's counts.
    /// Returns the NTP timestamp written (for the viewer's RTT bookkeeping), nil if there is
    /// no fresh publisher report to derive it from.
    @discardableResult
    public func write(
        into writer: inout RTCPWriter, ssrc: UInt32, packetCount: UInt64, octetCount: UInt64,
        timestampOffset: UInt32 = 0, now: Instant
    ) -> UInt64? {
        guard let r = report(now: now) else { return nil }
        writer.addSenderReport(
            ssrc: ssrc, ntpTimestamp: r.ntpTimestamp, rtpTimestamp: r.rtpTimestamp &+ timestampOffset,
            packetCount: UInt32(truncatingIfNeeded: packetCount), octetCount: UInt32(truncatingIfNeeded: octetCount))
        return r.ntpTimestamp
    }
}
