import Reactor

/// Writes RTCP packets one after another into a caller's buffer, forming a compound.
/// Allocates nothing; if something does not fit, later calls do nothing and `finish`
/// throws, so the caller checks once.
public struct RTCPWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    public private(set) var length = 0
    private var error: RTCPError?

    public init(into buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// Starts a packet of `size` bytes (a multiple of 4) and returns its offset.
    private mutating func begin(type: UInt8, count: UInt8, size: Int) -> Int? {
        guard error == nil else { return nil }
        guard length + size <= buffer.count else {
            error = .bufferTooSmall(needed: length + size, capacity: buffer.count)
            return nil
        }
        let o = length
        buffer[o] = 0x80 | (count & 0x1F)
        buffer[o + 1] = type
        WireBytes.put16(buffer, o + 2, UInt16(size / 4 - 1))
        length += size
        return o
    }

    /// Sender report with up to 31 report blocks.
    public mutating func addSenderReport(
        ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
        reports: some Collection<RTCPReportBlock> = [RTCPReportBlock]()
    ) {
        guard reports.count <= 31 else { return fail(.invalidArgument) }
        guard let o = begin(type: RTCPHeader.senderReportType, count: UInt8(reports.count),
                            size: 28 + RTCPReportBlock.size * reports.count) else { return }
        WireBytes.put32(buffer, o + 4, ssrc)
        WireBytes.put64(buffer, o + 8, ntpTimestamp)
        WireBytes.put32(buffer, o + 16, rtpTimestamp)
        WireBytes.put32(buffer, o + 20, packetCount)
        WireBytes.put32(buffer, o + 24, octetCount)
        for (i, r) in reports.enumerated() { r.write(to: buffer, at: o + 28 + RTCPReportBlock.size * i) }
    }

    /// Receiver report with up to 31 report blocks.
    public mutating func addReceiverReport(ssrc: UInt32, reports: some Collection<RTCPReportBlock>) {
        guard reports.count <= 31 else { return fail(.invalidArgument) }
        guard let o = begin(type: RTCPHeader.receiverReportType, count: UInt8(reports.count),
                            size: 8 + RTCPReportBlock.size * reports.count) else { return }
        WireBytes.put32(buffer, o + 4, ssrc)
        for (i, r) in reports.enumerated() { r.write(to: buffer, at: o + 8 + RTCPReportBlock.size * i) }
    }

    /// SDES with one chunk carrying a CNAME (at most 255 bytes).
    public mutating func addSourceDescription(ssrc: UInt32, cname: UnsafeRawBufferPointer) {
        guard cname.count <= 255 else { return fail(.invalidArgument) }
        // SSRC, type, length, text, then at least one null octet, padded to 32 bits.
        let size = 4 + ((4 + 2 + cname.count + 1 + 3) & ~3)
        guard let o = begin(type: RTCPHeader.sourceDescriptionType, count: 1, size: size) else { return }
        WireBytes.put32(buffer, o + 4, ssrc)
        buffer[o + 8] = RTCPSourceDescription.cname
        buffer[o + 9] = UInt8(cname.count)
        for (i, c) in cname.enumerated() { buffer[o + 10 + i] = c }
        for i in (o + 10 + cname.count)..<(o + size) { buffer[i] = 0 }
    }

    /// SDES with a CNAME given as a string.
    public mutating func addSourceDescription(ssrc: UInt32, cname: String) {
        var c = cname
        c.withUTF8 { addSourceDescription(ssrc: ssrc, cname: UnsafeRawBufferPointer($0)) }
    }

    /// BYE for up to 31 SSRCs, without a reason.
    public mutating func addBye(ssrcs: some Collection<UInt32>) {
        guard ssrcs.count <= 31 else { return fail(.invalidArgument) }
        guard let o = begin(type: RTCPHeader.byeType, count: UInt8(ssrcs.count), size: 4 + 4 * ssrcs.count)
        else { return }
        for (i, s) in ssrcs.enumerated() { WireBytes.put32(buffer, o + 4 + 4 * i, s) }
    }

    /// Generic NACK for `lost` sequence numbers, in ascending order (modulo 2^16); each
    /// packet id covers itself and the 16 that follow it.
    public mutating func addNack(senderSSRC: UInt32, mediaSSRC: UInt32, lost: some Collection<UInt16>) {
        guard let first = lost.first else { return fail(.invalidArgument) }
        // Count pairs first so the packet size is known before writing.
        var pairs = 1
        var pid = first
        for s in lost.dropFirst() {
            let d = s &- pid
            if d == 0 || d > 16 {
                pairs += 1
                pid = s
            }
        }
        guard let o = begin(type: RTCPHeader.transportFeedbackType, count: 1, size: 12 + 4 * pairs) else { return }
        WireBytes.put32(buffer, o + 4, senderSSRC)
        WireBytes.put32(buffer, o + 8, mediaSSRC)
        var p = o + 12
        pid = first
        var blp: UInt16 = 0
        for s in lost.dropFirst() {
            let d = s &- pid
            if d == 0 || d > 16 {
                WireBytes.put16(buffer, p, pid)
                WireBytes.put16(buffer, p + 2, blp)
                p += 4
                pid = s
                blp = 0
            } else {
                blp |= 1 << (d - 1)
            }
        }
        WireBytes.put16(buffer, p, pid)
        WireBytes.put16(buffer, p + 2, blp)
    }

    /// Picture Loss Indication.
    public mutating func addPictureLossIndication(senderSSRC: UInt32, mediaSSRC: UInt32) {
        guard let o = begin(type: RTCPHeader.payloadFeedbackType, count: 1, size: 12) else { return }
        WireBytes.put32(buffer, o + 4, senderSSRC)
        WireBytes.put32(buffer, o + 8, mediaSSRC)
    }

    /// Full Intra Request for one media SSRC with its command sequence number.
    public mutating func addFullIntraRequest(senderSSRC: UInt32, mediaSSRC: UInt32, sequenceNumber: UInt8) {
        guard let o = begin(type: RTCPHeader.payloadFeedbackType, count: 4, size: 20) else { return }
        WireBytes.put32(buffer, o + 4, senderSSRC)
        WireBytes.put32(buffer, o + 8, 0)  // RFC 5104 §4.3.1.2: media source SSRC unused
        WireBytes.put32(buffer, o + 12, mediaSSRC)
        WireBytes.put32(buffer, o + 16, UInt32(sequenceNumber) << 24)
    }

    /// REMB: `bitrate` bits per second for the listed SSRCs (up to 255).
    public mutating func addRemb(senderSSRC: UInt32, bitrate: UInt64, ssrcs: some Collection<UInt32>) {
        guard ssrcs.count <= 255 else { return fail(.invalidArgument) }
        guard let o = begin(type: RTCPHeader.payloadFeedbackType, count: 15, size: 20 + 4 * ssrcs.count)
        else { return }
        WireBytes.put32(buffer, o + 4, senderSSRC)
        WireBytes.put32(buffer, o + 8, 0)
        WireBytes.put32(buffer, o + 12, 0x5245_4D42)  // "REMB"
        var exp: UInt32 = 0
        while exp < 63, bitrate >> UInt64(exp) >= 1 << 18 { exp += 1 }
        let mantissa = UInt32(truncatingIfNeeded: bitrate >> UInt64(exp)) & 0x3_FFFF
        WireBytes.put32(buffer, o + 16, UInt32(ssrcs.count) << 24 | exp << 18 | mantissa)
        for (i, s) in ssrcs.enumerated() { WireBytes.put32(buffer, o + 20 + 4 * i, s) }
    }

    /// Transport-wide feedback for packets `baseSequence`, `baseSequence+1`, … whose arrival
    /// times are `arrivals` (nil: not received). The reference time is the first arrival,
    /// floored to 64 ms; deltas are in 250 µs ticks from the previous received packet. A
    /// delta beyond ±8.19 s (the 16-bit field) is clamped. Chunks: a run-length chunk for
    /// runs of 7 or more equal symbols, otherwise a 14-symbol one-bit vector when only
    /// "not received"/"small delta" follow, else a 7-symbol two-bit vector.
    public mutating func addTransportFeedback(
        senderSSRC: UInt32, mediaSSRC: UInt32, baseSequence: UInt16, feedbackCount: UInt8,
        arrivals: some Collection<Instant?>
    ) {
        let n = arrivals.count
        guard n >= 1, n <= 0xFFFF, let firstArrival = arrivals.first(where: { $0 != nil }) ?? nil else {
            return fail(.invalidArgument)
        }
        guard error == nil else { return }
        let refUnits = Int64(firstArrival.nanoseconds / 1000) / RTCPTransportFeedback.referenceUnitMicros
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { symbols in
            withUnsafeTemporaryAllocation(of: Int16.self, capacity: n) { deltas in
                var prev = refUnits * 256  // reference time in 250 µs ticks
                var deltaBytes = 0
                for (i, a) in arrivals.enumerated() {
                    guard let a else {
                        symbols[i] = 0
                        deltas[i] = 0
                        continue
                    }
                    let ticks = Int64(a.nanoseconds / 1000) / RTCPTransportFeedback.deltaTickMicros
                    let d = max(Int64(Int16.min), min(Int64(Int16.max), ticks - prev))
                    prev += d
                    deltas[i] = Int16(d)
                    symbols[i] = (0...255).contains(d) ? 1 : 2
                    deltaBytes += Int(symbols[i])
                }
                // Chunk count, by the same greedy choice as the writing pass below.
                var chunks = 0
                var i = 0
                while i < n {
                    i += Self.chunkSpan(symbols, n, i).span
                    chunks += 1
                }
                let body = 20 + 2 * chunks + deltaBytes
                let size = (body + 3) & ~3
                guard let o = begin(type: RTCPHeader.transportFeedbackType, count: 15, size: size) else { return }
                WireBytes.put32(buffer, o + 4, senderSSRC)
                WireBytes.put32(buffer, o + 8, mediaSSRC)
                WireBytes.put16(buffer, o + 12, baseSequence)
                WireBytes.put16(buffer, o + 14, UInt16(n))
                WireBytes.put24(buffer, o + 16, UInt32(truncatingIfNeeded: refUnits) & 0xFF_FFFF)
                buffer[o + 19] = feedbackCount
                var c = o + 20
                i = 0
                while i < n {
                    let (span, kind) = Self.chunkSpan(symbols, n, i)
                    var chunk: UInt16
                    switch kind {
                    case 0:
                        chunk = UInt16(symbols[i]) << 13 | UInt16(span)
                    case 1:
                        chunk = 0x8000
                        for k in 0..<span { chunk |= UInt16(symbols[i + k]) << (13 - k) }
                    default:
                        chunk = 0xC000
                        for k in 0..<span { chunk |= UInt16(symbols[i + k]) << (12 - 2 * k) }
                    }
                    WireBytes.put16(buffer, c, chunk)
                    c += 2
                    i += span
                }
                for k in 0..<n {
                    if symbols[k] == 1 {
                        buffer[c] = UInt8(deltas[k])
                        c += 1
                    } else if symbols[k] == 2 {
                        WireBytes.put16(buffer, c, UInt16(bitPattern: deltas[k]))
                        c += 2
                    }
                }
                let pad = size - body
                if pad > 0 {
                    // RTCP padding (RFC 3550 §6.4.1): zeros, the last byte counts them.
                    for k in c..<(o + size) { buffer[k] = 0 }
                    buffer[o + size - 1] = UInt8(pad)
                    buffer[o] |= 0x20
                }
            }
        }
    }

    /// The next chunk at `i`: how many symbols it covers and its kind (0 run-length,
    /// 1 one-bit vector, 2 two-bit vector).
    private static func chunkSpan(_ s: UnsafeMutableBufferPointer<UInt8>, _ n: Int, _ i: Int) -> (span: Int, kind: Int) {
        var run = 1
        while i + run < n, run < 0x1FFF, s[i + run] == s[i] { run += 1 }
        if run >= 7 || i + run == n { return (run, 0) }
        let one = min(14, n - i)
        if (i..<(i + one)).allSatisfy({ s[$0] < 2 }) { return (one, 1) }
        return (min(7, n - i), 2)
    }

    private mutating func fail(_ e: RTCPError) {
        if error == nil { error = e }
    }

    /// The compound length, or the first error.
    public func finish() throws(RTCPError) -> Int {
        if let error { throw error }
        return length
    }
}
