import Reactor

/// One published video track's recording, sans-IO: the fan-out's plaintext (repaired) RTP
/// packets go in; the bytes of the file (IVF for VP8/VP9/AV1, Annex B for H.264) come out in
/// `output`, for the caller to hand to a writer off the loop, with keyframe requests to turn
/// into PLIs. Only whole, decodable frames are written, the first being a keyframe.
public struct VideoTrackRecorder: ~Copyable {
    /// The codec's depacketizer, kept concrete (no existential on the per-packet path).
    private enum Depacketizer {
        case vp8(VP8Depacketizer), vp9(VP9Depacketizer), h264(H264Depacketizer), av1(AV1Depacketizer)
    }

    public let codec: VideoCodec
    /// Bytes produced since the caller last took them (`takeOutput`).
    public private(set) var output: [UInt8] = []
    public private(set) var framesWritten: UInt64 = 0
    /// Frames the depacketizer refused (malformed payloads); the frames after them up to the
    /// next keyframe are counted as skipped by the assembler.
    public private(set) var framesRefused: UInt64 = 0
    /// The last depacketizer error, for the log.
    public private(set) var lastError: DepacketizerError?
    /// RTP timestamps of the first and the last frame written (the file's time span).
    public private(set) var firstFrameTimestamp: UInt32?
    public private(set) var lastFrameTimestamp: UInt32 = 0
    private var assembler: FrameAssembler
    private var depacketizer: Depacketizer
    private var ivf: IVFWriter?
    private var frame: [UInt8] = []
    private var keyframeRequested = false

    public init(codec: VideoCodec, assembler configuration: FrameAssembler.Configuration = .init()) {
        self.codec = codec
        assembler = FrameAssembler(configuration: configuration)
        switch codec {
        case .vp8:
            depacketizer = .vp8(VP8Depacketizer())
            ivf = IVFWriter(codec: .vp8)
        case .vp9:
            depacketizer = .vp9(VP9Depacketizer())
            ivf = IVFWriter(codec: .vp9)
        case .av1:
            depacketizer = .av1(AV1Depacketizer())
            ivf = IVFWriter(codec: .av1)
        case .h264:
            depacketizer = .h264(H264Depacketizer())
            ivf = nil
        }
        frame.reserveCapacity(64 * 1024)
        output.reserveCapacity(64 * 1024)
    }

    /// The file name extension of the format written.
    public var fileExtension: String { ivf == nil ? "h264" : "ivf" }

    /// What the assembler dropped, by reason.
    public var assemblerCounters: FrameAssembler.Counters { assembler.counters }

    /// When `advance(now:)` must run if no packet comes first.
    public var deadline: Instant? { assembler.deadline }

    /// Takes one packet (its payload is copied).
    public mutating func handle(_ packet: RTPPacket, now: Instant) {
        handle(
            sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, marker: packet.marker,
            payload: UnsafeRawBufferPointer(packet.payload), now: now)
    }

    public mutating func handle(
        sequenceNumber: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer, now: Instant
    ) {
        let traits: PayloadTraits? =
            switch depacketizer {
            case .vp8: VP8Depacketizer.traits(of: payload)
            case .vp9: VP9Depacketizer.traits(of: payload)
            case .h264: H264Depacketizer.traits(of: payload)
            case .av1: AV1Depacketizer.traits(of: payload)
            }
        assembler.insert(
            .init(sequenceNumber: sequenceNumber, timestamp: timestamp, marker: marker, traits: traits),
            payload: payload, now: now)
        drain(now: now)
    }

    /// Gives up frames that waited too long; repeats keyframe requests.
    public mutating func advance(now: Instant) {
        assembler.advance(now: now)
        drain(now: now)
    }

    /// Writes the frames that are complete, gives up the ones still waiting for repairs; call
    /// once, when the recording closes.
    public mutating func finish(now: Instant) {
        advance(now: now + assembler.configuration.maxWait)
    }

    /// True once per keyframe request since the last call: send a PLI (through the track's
    /// keyframe request throttle).
    public mutating func takeKeyframeRequest() -> Bool {
        defer { keyframeRequested = false }
        return keyframeRequested
    }

    /// Hands the bytes produced so far to `body` (to queue for the writer), then forgets them.
    public mutating func takeOutput(_ body: (UnsafeRawBufferPointer) -> Void) {
        output.withUnsafeBytes(body)
        output.removeAll(keepingCapacity: true)
    }

    /// For IVF, the 32-byte header with the final frame count, to write at offset 0 when the
    /// recording is closed (nil for Annex B, which has no header); nil too if nothing was
    /// written.
    public var finalHeader: [UInt8]? {
        guard framesWritten > 0 else { return nil }
        return ivf?.finalHeader
    }

    private mutating func drain(now: Instant) {
        while let event = assembler.nextEvent() {
            switch event {
            case .keyframeNeeded:
                keyframeRequested = true
            case .frame(let f):
                frame.removeAll(keepingCapacity: true)
                if let error = depacketize(f) {
                    framesRefused += 1
                    lastError = error
                    assembler.frameFailed(now: now)
                    continue
                }
                if ivf != nil {
                    frame.withUnsafeBytes { ivf!.appendFrame($0, rtpTimestamp: f.timestamp, into: &output) }
                } else {
                    output.append(contentsOf: frame)
                }
                framesWritten += 1
                if firstFrameTimestamp == nil { firstFrameTimestamp = f.timestamp }
                lastFrameTimestamp = f.timestamp
            }
        }
    }

    private static var placeholder: Depacketizer { .vp8(VP8Depacketizer()) }

    /// Runs the frame's payloads through the depacketizer into `frame`.
    private mutating func depacketize(_ f: FrameAssembler.Frame) -> DepacketizerError? {
        switch depacketizer {
        case .vp8(var d):
            depacketizer = Self.placeholder  // so that `d` is the only reference to its buffers
            defer { depacketizer = .vp8(d) }
            return Self.run(&d, f, assembler, &frame)
        case .vp9(var d):
            depacketizer = Self.placeholder  // so that `d` is the only reference to its buffers
            defer { depacketizer = .vp9(d) }
            return Self.run(&d, f, assembler, &frame)
        case .h264(var d):
            depacketizer = Self.placeholder  // so that `d` is the only reference to its buffers
            defer { depacketizer = .h264(d) }
            return Self.run(&d, f, assembler, &frame)
        case .av1(var d):
            depacketizer = Self.placeholder  // so that `d` is the only reference to its buffers
            defer { depacketizer = .av1(d) }
            return Self.run(&d, f, assembler, &frame)
        }
    }

    private static func run<D: RTPDepacketizer>(
        _ d: inout D, _ f: FrameAssembler.Frame, _ assembler: borrowing FrameAssembler, _ frame: inout [UInt8]
    ) -> DepacketizerError? {
        var failure: DepacketizerError?
        d.beginFrame(into: &frame)
        assembler.forEachPayload(of: f) { payload in
            guard failure == nil else { return }
            do throws(DepacketizerError) {
                try d.append(payload, into: &frame)
            } catch {
                failure = error
            }
        }
        if failure == nil {
            do throws(DepacketizerError) {
                try d.endFrame(into: &frame)
            } catch {
                failure = error
            }
        }
        return failure
    }
}
