/// The profile part of an H.264 `profile-level-id` (RFC 6184 §8.1), as far as the server needs
/// it to choose between offered H.264 variants and to decide whether a viewer can decode what a
/// publisher sends. The level is ignored: browsers offer `level-asymmetry-allowed=1`.
public enum H264Profile: Hashable, Sendable, Comparable {
    /// `42e0xx`, `42c0xx`, `4240xx`: what every WebRTC endpoint decodes.
    case constrainedBaseline
    /// `4200xx`.
    case baseline
    /// `4dxxxx`.
    case main
    /// `64xxxx`.
    case high
    /// Anything else (e.g. `f4` High 4:4:4), by profile_idc.
    case other(UInt8)

    /// Parses a `profile-level-id` value (6 hex digits); nil if it is not one.
    public init?(profileLevelID: String) {
        let chars = Array(profileLevelID.utf8)
        guard chars.count == 6, let value = UInt32(profileLevelID, radix: 16) else { return nil }
        let idc = UInt8(truncatingIfNeeded: value >> 16)
        let iop = UInt8(truncatingIfNeeded: value >> 8)
        switch idc {
        // constraint_set1_flag (0x40) makes a baseline stream decodable by main profile decoders.
        case 0x42: self = iop & 0x40 != 0 ? .constrainedBaseline : .baseline
        case 0x4D: self = .main
        case 0x64: self = .high
        default: self = .other(idc)
        }
    }

    /// The profile of an H.264 codec entry; RFC 6184 default `420010` (baseline) without one.
    public init?(codec: SDPCodec) {
        guard let id = codec.parameter("profile-level-id") else {
            self = .baseline
            return
        }
        self.init(profileLevelID: id)
    }

    /// Preference when the server picks among offered variants: lower is better.
    var rank: Int {
        switch self {
        case .constrainedBaseline: 0
        case .baseline: 1
        case .main: 2
        case .high: 3
        case .other: 4
        }
    }

    public static func < (a: H264Profile, b: H264Profile) -> Bool { a.rank < b.rank }

    /// Whether a decoder for `self` can decode a stream of `source`: the same profile, or a
    /// constrained-baseline stream (decodable by baseline, main and high decoders).
    public func decodes(_ source: H264Profile) -> Bool {
        if self == source { return true }
        if source == .constrainedBaseline {
            switch self {
            case .baseline, .main, .high: return true
            default: return false
            }
        }
        return false
    }
}
