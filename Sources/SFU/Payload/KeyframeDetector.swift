/// Finds the start of a keyframe in an RTP payload, so a viewer can be started (or a PLI
/// answered) on a decodable frame. The payload formats are parsed once, by the recording
/// depacketizers (`Recording/`); this is their per-packet answer. Never traps on short or
/// garbage payloads (they are simply not keyframes).
public enum KeyframeDetector {
    /// True if `payload` (the RTP payload, padding excluded) begins a keyframe: VP8 S=1, PID=0
    /// and P=0 (RFC 7741); VP9 B=1, P=0 on the first spatial layer (RFC 9628); H.264 an IDR
    /// slice or SPS alone, in a STAP-A or at the start of an FU-A (RFC 6184); AV1 the N bit
    /// (new coded video sequence).
    public static func isKeyframe(codec: VideoCodec, payload: UnsafeRawBufferPointer) -> Bool {
        let traits: PayloadTraits? =
            switch codec {
            case .vp8: VP8Depacketizer.traits(of: payload)
            case .vp9: VP9Depacketizer.traits(of: payload)
            case .h264: H264Depacketizer.traits(of: payload)
            case .av1: AV1Depacketizer.traits(of: payload)
            }
        return traits?.isKeyframe ?? false
    }
}
