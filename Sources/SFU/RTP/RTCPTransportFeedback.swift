import Reactor

/// Transport-wide congestion control feedback (RTPFB FMT 15,
/// draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): which transport-wide sequence
/// numbers arrived and when, as deltas of 250 µs from a reference time in 64 ms units.
public struct RTCPTransportFeedback {
    public let header: RTCPHeader

    /// Packet status symbols.
    public enum Status: UInt8, Sendable {
        case notReceived = 0, smallDelta = 1, largeDelta = 2
    }

    /// Microseconds per delta tick and per reference-time unit.
    public static let deltaTickMicros: Int64 = 250
    public static let referenceUnitMicros: Int64 = 64_000

    init(validating h: RTCPHeader) throws(RTCPError) {
        header = h
        guard h.bytes.count >= 20, walk({ _, _ in }) else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
    }

    public var senderSSRC: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    public var mediaSSRC: UInt32 {
        get { header.u32(8) }
        nonmutating set { header.put32(8, newValue) }
    }
    public var baseSequence: UInt16 { WireBytes.u16(header.bytes, 12) }
    public var statusCount: Int { Int(WireBytes.u16(header.bytes, 14)) }
    /// Reference time in 64 ms units (24 bits).
    public var referenceTime: UInt32 { WireBytes.u24(header.bytes, 16) }
    public var feedbackCount: UInt8 { header.bytes[19] }

    /// Calls `body(sequence, arrival)` for every packet in the feedback, in order; `arrival` is
    /// microseconds on the sender's clock (reference time × 64 ms plus the deltas), nil if
    /// the packet was not received.
    public func forEachPacket(_ body: (UInt16, Int64?) -> Void) {
        walk(body)
    }

    /// Decodes chunks and deltas; false if they run past the packet.
    @discardableResult
    private func walk(_ body: (UInt16, Int64?) -> Void) -> Bool {
        let b = header.bytes
        let total = statusCount
        // Pass 1: find where the chunks end, which is where the deltas start.
        var o = 20
        var seen = 0
        while seen < total {
            guard o + 2 <= b.count else { return false }
            let chunk = WireBytes.u16(b, o)
            o += 2
            if chunk & 0x8000 == 0 {
                seen += Int(chunk & 0x1FFF)
            } else {
                seen += chunk & 0x4000 == 0 ? 14 : 7
            }
        }
        // Pass 2: symbols and their deltas together (a cursor value, not a nested function
        // capturing the offsets: that boxed them on the heap in unoptimised builds).
        var deltas = DeltaCursor(bytes: b, offset: o, time: Int64(referenceTime) * Self.referenceUnitMicros)
        var c = 20
        var index = 0
        let base = baseSequence
        while index < total {
            let chunk = WireBytes.u16(b, c)
            c += 2
            if chunk & 0x8000 == 0 {
                let symbol = UInt8((chunk >> 13) & 0x3)
                let run = min(Int(chunk & 0x1FFF), total - index)
                for _ in 0..<run {
                    guard deltas.emit(symbol, base &+ UInt16(truncatingIfNeeded: index), body) else { return false }
                    index += 1
                }
            } else if chunk & 0x4000 == 0 {
                for bit in 0..<14 where index < total {
                    guard deltas.emit(UInt8((chunk >> (13 - bit)) & 1), base &+ UInt16(truncatingIfNeeded: index), body)
                    else { return false }
                    index += 1
                }
            } else {
                for k in 0..<7 where index < total {
                    guard deltas.emit(UInt8((chunk >> (12 - 2 * k)) & 3), base &+ UInt16(truncatingIfNeeded: index), body)
                    else { return false }
                    index += 1
                }
            }
        }
        return true
    }
}

/// Reads the receive deltas of a transport-cc feedback in order, keeping the running arrival time.
private struct DeltaCursor {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    var time: Int64

    /// Hands `body` one packet of status `symbol`; false when its delta runs past the packet or
    /// the symbol is the reserved 3.
    mutating func emit(_ symbol: UInt8, _ seq: UInt16, _ body: (UInt16, Int64?) -> Void) -> Bool {
        switch symbol {
        case 1:
            guard offset + 1 <= bytes.count else { return false }
            time += Int64(bytes[offset]) * RTCPTransportFeedback.deltaTickMicros
            offset += 1
            body(seq, time)
        case 2:
            guard offset + 2 <= bytes.count else { return false }
            time += Int64(Int16(bitPattern: WireBytes.u16(bytes, offset))) * RTCPTransportFeedback.deltaTickMicros
            offset += 2
            body(seq, time)
        case 0:
            body(seq, nil)
        default:
            return false  // symbol 3 is reserved
        }
        return true
    }
}
