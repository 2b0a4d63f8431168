/// Per-loop counters: plain integers touched only by the owning core, folded together by
/// whoever asks (through the mailbox) at most once a second.
public struct ReactorCounters: Sendable {
    public var loopTurns = 0
    /// Time spent working vs blocked in the backend wait (utilisation = busy / (busy + wait)).
    public var busyNanoseconds: UInt64 = 0
    public var waitNanoseconds: UInt64 = 0
    public var timersFired = 0
    public var mailboxJobs = 0

    public var udpReceived = 0
    public var udpReceiveBatches = 0
    public var udpReceivedBytes = 0
    /// Datagrams larger than the receive buffer (MSG_TRUNC): dropped.
    public var udpTruncated = 0
    /// Control data cut short (MSG_CTRUNC): dropped because GRO segmentation is unknown.
    public var udpControlTruncated = 0
    /// Receives the kernel coalesced (GRO), split back into datagrams before delivery.
    public var udpGROReceives = 0
    public var udpSent = 0
    public var udpSentBytes = 0
    /// sendmmsg/sendmsg calls (one call may carry many datagrams).
    public var udpSendCalls = 0
    /// Messages the kernel took (a GSO super-datagram is one message carrying several
    /// datagrams): the kernel's cost follows messages more than datagrams.
    public var udpSendMessages = 0
    /// Super-datagrams sent with UDP_SEGMENT.
    public var udpGSOSends = 0
    /// The kernel refused GSO on a socket; it fell back to one datagram per message.
    public var udpGSOFallbacks = 0
    public var udpSendWouldBlock = 0
    public var udpSendNoBuffers = 0
    /// Other send errors (unreachable, permission...): the datagram is dropped.
    public var udpSendErrors = 0
    /// Datagrams dropped before reaching the kernel (queue full, no pool slot, stalled queue).
    public var udpSendDropped = 0
    /// `take()` on the pool found it empty.
    public var poolExhausted = 0

    public var tcpAccepted = 0
    /// Connections refused by the per-listener limit or by `accept` returning nil.
    public var tcpRefused = 0
    /// Connections aborted because their write queue passed the hard cap.
    public var tcpWriteCapAborts = 0
    /// Connections aborted because their queued output did not move for `TCPLimits.writeStallTimeout`.
    public var tcpWriteStallAborts = 0
    /// The largest write queue any connection of this loop has held, in bytes (a high-water
    /// mark: what one slow peer could make the loop hold).
    public var tcpWriteQueuePeakBytes = 0
    /// Times accepting paused for lack of file descriptors or memory (EMFILE, ENFILE...).
    public var tcpAcceptPauses = 0
    public var tcpReadBytes = 0
    public var tcpWrittenBytes = 0

    public init() {}

    /// Sums two cores' counters.
    public static func + (a: ReactorCounters, b: ReactorCounters) -> ReactorCounters {
        var r = a
        r.loopTurns += b.loopTurns
        r.busyNanoseconds += b.busyNanoseconds
        r.waitNanoseconds += b.waitNanoseconds
        r.timersFired += b.timersFired
        r.mailboxJobs += b.mailboxJobs
        r.udpReceived += b.udpReceived
        r.udpReceiveBatches += b.udpReceiveBatches
        r.udpReceivedBytes += b.udpReceivedBytes
        r.udpTruncated += b.udpTruncated
        r.udpControlTruncated += b.udpControlTruncated
        r.udpGROReceives += b.udpGROReceives
        r.udpSent += b.udpSent
        r.udpSentBytes += b.udpSentBytes
        r.udpSendCalls += b.udpSendCalls
        r.udpSendMessages += b.udpSendMessages
        r.udpGSOSends += b.udpGSOSends
        r.udpGSOFallbacks += b.udpGSOFallbacks
        r.udpSendWouldBlock += b.udpSendWouldBlock
        r.udpSendNoBuffers += b.udpSendNoBuffers
        r.udpSendErrors += b.udpSendErrors
        r.udpSendDropped += b.udpSendDropped
        r.poolExhausted += b.poolExhausted
        r.tcpAccepted += b.tcpAccepted
        r.tcpRefused += b.tcpRefused
        r.tcpWriteCapAborts += b.tcpWriteCapAborts
        r.tcpWriteStallAborts += b.tcpWriteStallAborts
        r.tcpWriteQueuePeakBytes = max(a.tcpWriteQueuePeakBytes, b.tcpWriteQueuePeakBytes)
        r.tcpAcceptPauses += b.tcpAcceptPauses
        r.tcpReadBytes += b.tcpReadBytes
        r.tcpWrittenBytes += b.tcpWrittenBytes
        return r
    }

    /// Fraction of wall time the loop was working (0...1).
    public var utilisation: Double {
        let total = busyNanoseconds + waitNanoseconds
        return total == 0 ? 0 : Double(busyNanoseconds) / Double(total)
    }
}
