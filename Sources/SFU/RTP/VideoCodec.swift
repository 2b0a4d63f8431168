/// Video codecs the SFU forwards and can find keyframes in.
public enum VideoCodec: Sendable, Hashable {
    case vp8, vp9, h264, av1
}
