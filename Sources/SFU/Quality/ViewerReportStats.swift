import Reactor

/// What one viewer's receiver reports say about the stream it gets from the SFU: the loss it
/// sees and the round-trip time, measured against the sender reports the SFU sent it
/// (RTT = time since that SR was sent − the viewer's DLSR; no clock needs to be shared, so
/// forwarding the publisher's NTP times does not spoil the measurement).
public struct ViewerReportStats {
    private static let remembered = 8
    private var sentLSR: [UInt32]
    private var sentAt: [UInt64]
    private var next = 0

    /// Latest fraction lost (0…255 = 0…~100 %), cumulative loss and jitter reported.
    public private(set) var fractionLost: UInt8 = 0
    public private(set) var cumulativeLost: Int32 = 0
    public private(set) var jitter: UInt32 = 0
    /// Smoothed round-trip time (RFC 6298-style, 1/8 gain), nil before the first sample.
    public private(set) var roundTripTime: Duration?
    public private(set) var lastRoundTripSample: Duration?
    public private(set) var reportsReceived: UInt64 = 0
    /// Report blocks whose LSR/DLSR could not be matched or made no sense.
    public private(set) var bogusReports: UInt64 = 0

    public init() {
        sentLSR = [UInt32](repeating: 0, count: Self.remembered)
        sentAt = [UInt64](repeating: 0, count: Self.remembered)
    }

    /// The SFU sent this viewer an SR with `ntpTimestamp` at `now`.
    public mutating func senderReportSent(ntpTimestamp: UInt64, now: Instant) {
        sentLSR[next] = NTPTime.middle32(ntpTimestamp)
        sentAt[next] = max(now.nanoseconds, 1)
        next = (next + 1) % Self.remembered
    }

    /// A report block from the viewer about our outbound stream. Returns the RTT sample it
    /// gave, if any.
    @discardableResult
    public mutating func receiverReport(_ block: RTCPReportBlock, now: Instant) -> Duration? {
        reportsReceived &+= 1
        fractionLost = block.fractionLost
        cumulativeLost = block.cumulativeLost
        jitter = block.jitter
        guard block.lastSenderReport != 0 else { return nil }  // no SR seen yet
        guard let i = sentLSR.indices.first(where: { sentAt[$0] != 0 && sentLSR[$0] == block.lastSenderReport }),
            now.nanoseconds >= sentAt[i]
        else {
            bogusReports &+= 1
            return nil
        }
        let elapsed = now - Instant(nanoseconds: sentAt[i])
        let delay = NTPTime.duration(units65536: block.delaySinceLastSenderReport)
        // DLSR is rounded to 1/65536 s: allow that much over the elapsed time.
        guard delay.nanoseconds <= elapsed.nanoseconds + 20_000 else {
            bogusReports &+= 1
            return nil
        }
        let sample = Duration(nanoseconds: elapsed.nanoseconds - min(delay.nanoseconds, elapsed.nanoseconds))
        lastRoundTripSample = sample
        if let rtt = roundTripTime {
            roundTripTime = Duration(nanoseconds: (rtt.nanoseconds * 7 + sample.nanoseconds) / 8)
        } else {
            roundTripTime = sample
        }
        return sample
    }

    /// Loss as a fraction 0…1 from the latest report.
    public var lossFraction: Double { Double(fractionLost) / 256 }
}
