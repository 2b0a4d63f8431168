/// What a codec depacketizer reads from one payload without any state: enough for the
/// codec-independent `FrameAssembler` to know where frames start and which are keyframes.
public struct PayloadTraits: Sendable, Equatable {
    /// The packet certainly begins a frame (VP8 S=1 in partition 0, VP9 B=1 on the first
    /// spatial layer, H.264 AUD or SPS first, AV1 N=1 or a sequence header first). False means
    /// "not known", not "not a start": a frame may also start after a known frame end.
    public var startsFrame: Bool
    /// The packet carries the start of keyframe data: the frame holding it decodes on its own.
    public var isKeyframe: Bool

    public init(startsFrame: Bool, isKeyframe: Bool) {
        self.startsFrame = startsFrame
        self.isKeyframe = isKeyframe
    }
}

/// A sans-IO RTP depacketizer for one codec and one track: the payloads of one complete frame
/// go in, in sequence order, between `beginFrame` and `endFrame`; the codec's bitstream for
/// that frame comes out, appended to the caller's reusable buffer (no allocation once that
/// buffer has grown). On a thrown error the caller drops the frame; the next `beginFrame`
/// clears any half-done state.
public protocol RTPDepacketizer {
    /// Frame boundaries and keyframe start read from one payload; nil when it is malformed.
    static func traits(of payload: UnsafeRawBufferPointer) -> PayloadTraits?
    /// Starts a frame (AV1 writes its temporal delimiter here).
    mutating func beginFrame(into frame: inout [UInt8])
    /// Appends one packet's share of the frame.
    mutating func append(_ payload: UnsafeRawBufferPointer, into frame: inout [UInt8]) throws(DepacketizerError)
    /// Ends the frame; throws if a fragment was left open.
    mutating func endFrame(into frame: inout [UInt8]) throws(DepacketizerError)
}
