import Reactor

/// One published Opus track's recording, sans-IO: RTP packets in, Ogg/Opus pages out in
/// `output`. Packets are put back in order (and duplicates dropped) by a `FrameAssembler`
/// where every packet is a frame, so a reordered packet is not lost; a packet that never
/// comes leaves a gap in the granule positions, which players render as silence.
public struct AudioTrackRecorder: ~Copyable {
    public private(set) var output: [UInt8] = []
    /// Packets refused by the Ogg writer (malformed TOC, timestamp going back).
    public private(set) var packetsRefused: UInt64 = 0
    /// RTP timestamps of the first and the last packet written (the file's time span).
    public private(set) var firstFrameTimestamp: UInt32?
    public private(set) var lastFrameTimestamp: UInt32 = 0
    private var assembler: FrameAssembler
    private var writer: OggOpusWriter
    private var packet: [UInt8] = []

    /// `serial` is the Ogg stream serial number; `channels` goes into OpusHead.
    public init(
        serial: Int32, channels: UInt8 = 2,
        assembler configuration: FrameAssembler.Configuration = .init(maxPackets: 64)
    ) {
        assembler = FrameAssembler(configuration: configuration)
        writer = OggOpusWriter(serial: serial, channels: channels)
        packet.reserveCapacity(1500)
        output.reserveCapacity(16 * 1024)
    }

    public var packetsWritten: UInt64 { writer.packetCount }
    public var assemblerCounters: FrameAssembler.Counters { assembler.counters }
    public var deadline: Instant? { assembler.deadline }

    public mutating func handle(_ packet: RTPPacket, now: Instant) {
        handle(
            sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp,
            payload: UnsafeRawBufferPointer(packet.payload), now: now)
    }

    public mutating func handle(
        sequenceNumber: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, now: Instant
    ) {
        assembler.insert(
            .init(
                sequenceNumber: sequenceNumber, timestamp: timestamp, marker: true,
                traits: PayloadTraits(startsFrame: true, isKeyframe: true)),
            payload: payload, now: now)
        drain()
    }

    /// Releases packets held behind a gap that waited long enough.
    public mutating func advance(now: Instant) {
        assembler.advance(now: now)
        drain()
    }

    public mutating func takeOutput(_ body: (UnsafeRawBufferPointer) -> Void) {
        output.withUnsafeBytes(body)
        output.removeAll(keepingCapacity: true)
    }

    /// Writes what is held and the end-of-stream page; call once, when the recording closes.
    public mutating func finish(now: Instant) {
        assembler.advance(now: now + assembler.configuration.maxWait)
        drain()
        writer.finish(into: &output)
    }

    private mutating func drain() {
        while let event = assembler.nextEvent() {
            guard case .frame(let f) = event else { continue }  // keyframes mean nothing here
            packet.removeAll(keepingCapacity: true)
            assembler.forEachPayload(of: f) { packet.append(contentsOf: $0) }
            do {
                try packet.withUnsafeBytes { try writer.append($0, rtpTimestamp: f.timestamp, into: &output) }
                if firstFrameTimestamp == nil { firstFrameTimestamp = f.timestamp }
                lastFrameTimestamp = f.timestamp
            } catch {
                packetsRefused += 1
            }
        }
    }
}
