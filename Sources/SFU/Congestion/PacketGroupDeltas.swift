/// Groups a viewer's acknowledged packets by send time and gives, for each completed group,
/// how much longer (or shorter) it took to arrive than to send after the previous group:
/// the inter-group delay variation of draft-ietf-rmcat-gcc-02 §5.2. Packets sent within
/// `burstMicros` of a group's first packet are one group (a frame goes out as a burst); a
/// packet that arrives within `burstMicros` of the group's last one and earlier than its
/// send spacing implies (a burst the network delivered back to back) joins it too.
///
/// Times are microseconds: send times on the server's clock, arrival times on the viewer's.
/// Only the differences matter, so the clocks need not agree. Allocation-free.
struct PacketGroupDeltas {
    static let burstMicros: Int64 = 5_000
    /// A burst that the network delivered together is one group for at most this long.
    static let maxBurstMicros: Int64 = 100_000
    /// Arrival spacing that differs from the send spacing by more than this is a reset of
    /// the viewer's clock or path, not congestion: the groups start again.
    static let maxDeltaDifferenceMicros: Int64 = 3_000_000

    struct Group {
        var firstSend: Int64
        var lastSend: Int64
        var firstArrival: Int64
        var lastArrival: Int64
    }

    /// A completed group's deltas to the one before it.
    struct Delta {
        var sendMillis: Double
        var arrivalMillis: Double
        /// The completed group's last arrival (viewer clock, µs).
        var arrival: Int64
    }

    private var current: Group?
    private var previous: Group?
    /// Packets sent before the open group's first one (reordered in the feedback), and
    /// group deltas that ran backwards; both skipped.
    private(set) var reordered: UInt64 = 0
    private(set) var resets: UInt64 = 0

    mutating func reset() {
        current = nil
        previous = nil
    }

    mutating func add(send: Int64, arrival: Int64) -> Delta? {
        guard var group = current else {
            current = Group(firstSend: send, lastSend: send, firstArrival: arrival, lastArrival: arrival)
            return nil
        }
        if send < group.firstSend {
            reordered &+= 1
            return nil
        }
        if belongs(send: send, arrival: arrival, to: group) {
            group.lastSend = max(group.lastSend, send)
            group.lastArrival = max(group.lastArrival, arrival)
            current = group
            return nil
        }
        var delta: Delta?
        if let before = previous {
            let sendDelta = group.lastSend - before.lastSend
            let arrivalDelta = group.lastArrival - before.lastArrival
            if abs(arrivalDelta - sendDelta) > Self.maxDeltaDifferenceMicros {
                resets &+= 1
                previous = nil
                current = Group(firstSend: send, lastSend: send, firstArrival: arrival, lastArrival: arrival)
                return nil
            }
            if arrivalDelta < 0 || sendDelta < 0 {
                reordered &+= 1
            } else {
                delta = Delta(
                    sendMillis: Double(sendDelta) / 1000, arrivalMillis: Double(arrivalDelta) / 1000,
                    arrival: group.lastArrival)
            }
        }
        previous = group
        current = Group(firstSend: send, lastSend: send, firstArrival: arrival, lastArrival: arrival)
        return delta
    }

    private func belongs(send: Int64, arrival: Int64, to group: Group) -> Bool {
        if send - group.firstSend <= Self.burstMicros { return true }
        let arrivalDelta = arrival - group.lastArrival
        let propagationDelta = arrivalDelta - (send - group.lastSend)
        return arrivalDelta <= Self.burstMicros && propagationDelta < 0
            && arrival - group.firstArrival < Self.maxBurstMicros
    }
}
