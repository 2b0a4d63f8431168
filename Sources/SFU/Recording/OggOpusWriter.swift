import COgg

/// Ogg/Opus (RFC 7845) as a sans-IO byte producer over libogg: Opus packets in RTP order go
/// in, Ogg pages come out as bytes to append to the file. OpusHead and OpusTags come first,
/// each on its own page; the granule position of each packet is where its audio ends, from the
/// RTP timestamps at 48 kHz (pre-skip + (ts - first ts) + the packet's duration from its TOC
/// byte), so a gap in the stream stays a gap (the granule jumps). The last packet is held back
/// so that `finish` can send it with the end-of-stream flag. Pages are flushed at least every
/// `flushInterval` samples, so a crash loses at most that much audio.
public struct OggOpusWriter: ~Copyable {
    /// Why a packet was not written.
    public enum Rejection: Error, Equatable, Sendable {
        /// Empty, or its TOC byte names an impossible frame count (RFC 6716 §3.2).
        case malformed
        /// Its audio would start before the previous packet's ends.
        case timestampWentBack
    }

    /// Decoder delay libopus encoders declare (6.5 ms at 48 kHz): the first 312 samples decode
    /// to nothing useful and are discarded by players.
    public static let defaultPreSkip: UInt16 = 312
    /// At most one second of audio is left unflushed in libogg.
    public static let flushInterval: Int64 = 48_000

    public let channels: UInt8
    public let preSkip: UInt16
    public private(set) var packetCount: UInt64 = 0
    /// Granule position of the last packet written (pre-skip included).
    public private(set) var granule: Int64 = 0

    private let stream: UnsafeMutablePointer<ogg_stream_state>
    private var unwrapper = RTPTimestampUnwrapper()
    private var started = false
    private var lastFlushGranule: Int64 = 0
    /// The held-back packet and its granule.
    private var pending: [UInt8] = []
    private var pendingGranule: Int64 = -1
    private var packetNumber: Int64 = 0

    /// `serial` tells this stream's pages from others in the same file (one per file here).
    public init(serial: Int32, channels: UInt8 = 2, preSkip: UInt16 = OggOpusWriter.defaultPreSkip) {
        self.channels = channels
        self.preSkip = preSkip
        stream = .allocate(capacity: 1)
        ogg_stream_init(stream, serial)
        pending.reserveCapacity(1500)
    }

    deinit {
        ogg_stream_clear(stream)
        stream.deallocate()
    }

    /// Appends the pages completed by one Opus packet (and, first, the header pages).
    public mutating func append(
        _ packet: UnsafeRawBufferPointer, rtpTimestamp: UInt32, into out: inout [UInt8]
    ) throws(Rejection) {
        guard let samples = Self.samples(packet) else { throw .malformed }
        let end = Int64(preSkip) + unwrapper.unwrap(rtpTimestamp) + Int64(samples)
        guard pendingGranule < 0 || end - Int64(samples) >= pendingGranule else { throw .timestampWentBack }
        if !started { writeHeaders(into: &out) }
        if pendingGranule >= 0 { submitPending(endOfStream: false, into: &out) }
        pending.removeAll(keepingCapacity: true)
        pending.append(contentsOf: packet)
        pendingGranule = end
    }

    /// Writes the held-back packet with the end-of-stream flag and flushes the last page.
    public mutating func finish(into out: inout [UInt8]) {
        if !started { writeHeaders(into: &out) }
        if pendingGranule >= 0 { submitPending(endOfStream: true, into: &out) }
        pendingGranule = -1
        flush(into: &out)
    }

    private mutating func submitPending(endOfStream: Bool, into out: inout [UInt8]) {
        let (stream, number, granule) = (stream, nextPacketNumber(), pendingGranule)
        pending.withUnsafeMutableBytes {
            Self.packetIn(stream, $0, number: number, granule: granule, endOfStream: endOfStream)
        }
        self.granule = pendingGranule
        packetCount += 1
        if self.granule - lastFlushGranule >= Self.flushInterval {
            flush(into: &out)
            lastFlushGranule = self.granule
        } else {
            pageOut(into: &out)
        }
    }

    private mutating func writeHeaders(into out: inout [UInt8]) {
        started = true
        var head: [UInt8] = Array("OpusHead".utf8)
        head.append(1)  // version
        head.append(channels)
        head.append(UInt8(truncatingIfNeeded: preSkip))
        head.append(UInt8(truncatingIfNeeded: preSkip >> 8))
        head.append(contentsOf: [0x80, 0xBB, 0x00, 0x00])  // input sample rate 48000
        head.append(contentsOf: [0, 0])  // output gain
        head.append(0)  // channel mapping family 0: mono or stereo
        let stream = stream
        let headNumber = nextPacketNumber()
        head.withUnsafeMutableBytes { Self.packetIn(stream, $0, number: headNumber, granule: 0, endOfStream: false) }
        flush(into: &out)  // OpusHead alone on the first page
        let vendor = Array("livesfu".utf8)
        var tags: [UInt8] = Array("OpusTags".utf8)
        IVFWriter.put32(UInt32(vendor.count), into: &tags)
        tags.append(contentsOf: vendor)
        IVFWriter.put32(0, into: &tags)  // no user comments
        let tagsNumber = nextPacketNumber()
        tags.withUnsafeMutableBytes { Self.packetIn(stream, $0, number: tagsNumber, granule: 0, endOfStream: false) }
        flush(into: &out)  // audio starts on a fresh page
    }

    private mutating func nextPacketNumber() -> Int64 {
        defer { packetNumber += 1 }
        return packetNumber
    }

    /// Hands one packet to libogg, which copies it.
    private static func packetIn(
        _ stream: UnsafeMutablePointer<ogg_stream_state>, _ bytes: UnsafeMutableRawBufferPointer, number: Int64,
        granule: Int64, endOfStream: Bool
    ) {
        var p = ogg_packet()
        p.packet = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        p.bytes = bytes.count
        p.b_o_s = number == 0 ? 1 : 0
        p.e_o_s = endOfStream ? 1 : 0
        p.granulepos = ogg_int64_t(granule)
        p.packetno = ogg_int64_t(number)
        ogg_stream_packetin(stream, &p)
    }

    private func pageOut(into out: inout [UInt8]) {
        var page = ogg_page()
        while ogg_stream_pageout(stream, &page) != 0 { Self.append(page, to: &out) }
    }

    private func flush(into out: inout [UInt8]) {
        var page = ogg_page()
        while ogg_stream_flush(stream, &page) != 0 { Self.append(page, to: &out) }
    }

    private static func append(_ page: ogg_page, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: page.header, count: page.header_len))
        out.append(contentsOf: UnsafeRawBufferPointer(start: page.body, count: page.body_len))
    }

    /// Samples at 48 kHz in an Opus packet, from its TOC byte (RFC 6716 §3.1); nil if the
    /// packet is empty, names no frame count, or exceeds 120 ms.
    public static func samples(_ p: UnsafeRawBufferPointer) -> Int? {
        guard p.count >= 1 else { return nil }
        let config = Int(p[0] >> 3)
        let perFrame: Int
        switch config {
        case 0...11: perFrame = config % 4 == 3 ? 2880 : 480 << (config % 4)  // SILK 10-60 ms
        case 12...15: perFrame = 480 << (config % 2)  // hybrid 10, 20 ms
        default: perFrame = 120 << (config % 4)  // CELT 2.5-20 ms
        }
        let frames: Int
        switch p[0] & 0x03 {
        case 0: frames = 1
        case 1, 2: frames = 2
        default:
            guard p.count >= 2 else { return nil }
            frames = Int(p[1] & 0x3F)
        }
        let total = frames * perFrame
        return total > 0 && total <= 5760 ? total : nil
    }
}
