/// Which codecs the server accepts, in order of preference, and how it picks among variants.
///
/// Selection rules, per m-line: walk the policy's list for the m-line's kind; for the first name
/// the offer contains in a usable variant, take the best variant (H.264: packetization-mode=1
/// only, constrained baseline before baseline, main, high; VP9 and AV1: profile 0 first), ties
/// broken by the offer's order. The chosen entry keeps the peer's payload type and fmtp.
public struct CodecPolicy: Hashable, Sendable {
    public var audio: [SDPCodec.Name]
    public var video: [SDPCodec.Name]
    /// Negotiate RTX (RFC 4588) for the chosen video codec when offered.
    public var rtx: Bool

    public init(audio: [SDPCodec.Name] = [.opus], video: [SDPCodec.Name] = [.vp8, .vp9, .h264, .av1], rtx: Bool = true)
    {
        self.audio = audio
        self.video = video
        self.rtx = rtx
    }

    public static let `default` = CodecPolicy()

    /// The preference list for a kind.
    public func names(for kind: MediaKind) -> [SDPCodec.Name] {
        switch kind {
        case .audio: audio
        case .video: video
        default: []
        }
    }

    /// Picks the codec to use from an offered m-section; nil when none is acceptable.
    public func choose(from media: MediaDescription) -> SDPCodec? {
        for name in names(for: media.kind) where name.kind == media.kind {
            let variants = media.codecs.filter { $0.name == name && Self.isUsable($0, name) }
            if let best = variants.enumerated().min(by: { a, b in
                let ra = Self.variantRank(a.element, name)
                let rb = Self.variantRank(b.element, name)
                return ra != rb ? ra < rb : a.offset < b.offset
            }) {
                return best.element
            }
        }
        return nil
    }

    /// Picks the viewer's variant of the codec a room track carries (`source`, any payload
    /// type); nil when the viewer cannot receive it (codec absent, or an H.264/VP9/AV1 profile
    /// it did not offer).
    public func match(_ source: SDPCodec, in media: MediaDescription) -> SDPCodec? {
        guard let name = source.name, names(for: media.kind).contains(name) else { return nil }
        let variants = media.codecs.enumerated().filter {
            $0.element.name == name && Self.isUsable($0.element, name)
                && Self.isCompatible(source: source, sink: $0.element)
        }
        return variants.min(by: { a, b in
            // Prefer the same variant as the source, then the server's usual ranking.
            let ea = Self.sameVariant(source, a.element) ? 0 : 1
            let eb = Self.sameVariant(source, b.element) ? 0 : 1
            if ea != eb { return ea < eb }
            let ra = Self.variantRank(a.element, name)
            let rb = Self.variantRank(b.element, name)
            return ra != rb ? ra < rb : a.offset < b.offset
        })?.element
    }

    /// Whether an endpoint that negotiated `sink` can decode RTP that was negotiated as
    /// `source` (payload types aside). The rule rooms use to decide if a viewer that joined
    /// before the publisher can receive the publisher's tracks.
    public static func isCompatible(source: SDPCodec, sink: SDPCodec) -> Bool {
        guard let name = source.name, sink.name == name else { return false }
        switch name {
        case .opus, .vp8:
            return true
        case .h264:
            guard isUsable(source, name), isUsable(sink, name),
                let s = H264Profile(codec: source), let d = H264Profile(codec: sink)
            else { return false }
            return d.decodes(s)
        case .vp9:
            return (source.parameter("profile-id") ?? "0") == (sink.parameter("profile-id") ?? "0")
        case .av1:
            return (source.parameter("profile") ?? "0") == (sink.parameter("profile") ?? "0")
        }
    }

    static func isUsable(_ codec: SDPCodec, _ name: SDPCodec.Name) -> Bool {
        switch name {
        case .h264:
            // Mode 0 (single NAL unit) cannot carry the FU-A fragments browsers send.
            return codec.parameter("packetization-mode") == "1" && H264Profile(codec: codec) != nil
        default:
            return true
        }
    }

    static func variantRank(_ codec: SDPCodec, _ name: SDPCodec.Name) -> Int {
        switch name {
        case .h264: H264Profile(codec: codec)?.rank ?? 9
        case .vp9: (codec.parameter("profile-id") ?? "0") == "0" ? 0 : 1
        case .av1: (codec.parameter("profile") ?? "0") == "0" ? 0 : 1
        case .opus, .vp8: 0
        }
    }

    static func sameVariant(_ a: SDPCodec, _ b: SDPCodec) -> Bool {
        guard let name = a.name, b.name == name else { return false }
        switch name {
        case .h264: return H264Profile(codec: a) == H264Profile(codec: b)
        default: return isCompatible(source: a, sink: b)
        }
    }
}
