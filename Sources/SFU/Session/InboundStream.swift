/// One SSRC a publisher sends, bound to the m-line (and so the room track) it belongs to.
final class InboundStream {
    let ssrc: UInt32
    let kind: TrackKind
    let media: NegotiatedMedia
    let isRTX: Bool
    /// The simulcast layer (index of its RID in `media.simulcastRIDs`); 0 without simulcast.
    let layer: Int
    /// Gaps in this stream's sequence numbers, NACKed upstream (media streams only).
    var nackGenerator = NackGenerator()
    /// Reception statistics for the receiver reports sent to the publisher.
    var receptionStats: ReceiverReportGenerator
    /// Packets repaired by the publisher's RTX.
    var repaired: UInt64 = 0

    init(ssrc: UInt32, kind: TrackKind, media: NegotiatedMedia, isRTX: Bool, layer: Int = 0) {
        self.ssrc = ssrc
        self.layer = layer
        self.kind = kind
        self.media = media
        self.isRTX = isRTX
        receptionStats = ReceiverReportGenerator(clockRate: max(media.codec.clockRate, 1))
    }
}
