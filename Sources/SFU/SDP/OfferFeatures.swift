/// What a client offer proposes beyond its codecs, BUNDLE, rtcp-mux, NACK/PLI/FIR and the MID
/// extension. A browser offers all of it (`.browser`); the load generator offers none, since
/// it implements none of it and a server that accepted them would send what it cannot read
/// (RTX resends on another SSRC, REMB) or stamp extensions it would only carry.
public struct OfferFeatures: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// RTX (RFC 4588) with each video codec, and its SSRC for a published track that has one.
    public static let rtx = OfferFeatures(rawValue: 1 << 0)
    /// `goog-remb` feedback on video.
    public static let remb = OfferFeatures(rawValue: 1 << 1)
    /// The transport-wide-cc extension and feedback.
    public static let transportCC = OfferFeatures(rawValue: 1 << 2)
    /// The audio-level and abs-send-time header extensions.
    public static let levelAndSendTime = OfferFeatures(rawValue: 1 << 3)
    /// `a=ice-options:trickle` (the client may send candidates later).
    public static let trickle = OfferFeatures(rawValue: 1 << 4)

    /// What Chromium offers.
    public static let browser: OfferFeatures = [.rtx, .remb, .transportCC, .levelAndSendTime, .trickle]
}
