import Reactor

/// One viewer's subscription to one room track: the payload types and header-extension ids
/// that viewer negotiated, so each forwarded copy can be adapted to it.
final class ViewerTrack {
    /// Unowned without a check: a session removes its tracks from every fan-out when it ends
    /// (`RoomManager.end`), so a fan-out never reaches a freed session; the checked form cost
    /// an atomic retain per viewer per packet (seen in the fan-out profile).
    unowned(unsafe) let session: PeerSession
    // What the fan-out reads per viewer per batch comes first, next to `session` (fields are
    // laid out in declaration order): one cache line per viewer instead of five spread over
    // `media`, which matters when a batch walks a thousand viewers. Read and counted once per
    // forwarded copy or batch: no dynamic exclusivity checks (core-confined plain values).
    @exclusivity(unchecked) var extensionMap: ExtensionIDMap
    /// `media.codecName` and `media.payloadType`, stored here for the fan-out's cache line.
    let codec: SDPCodec.Name
    let payloadType: UInt8
    /// Index of `extensionMap` among its track's distinct maps (`TrackFanout.classify`), -1
    /// when not shared: viewers of one class get the same adapted header.
    @exclusivity(unchecked) var mapClass = -1
    /// Instant start: the viewer is being sent the packets since the latest keyframe, paced
    /// (`catchUp`); the batch fan-out skips it until it has caught up with the live stream.
    @exclusivity(unchecked) var catchingUp = false
    /// Simulcast: its estimate collapsed and it waits for a lower layer's keyframe; the batch
    /// fan-out skips it meanwhile, until `heldForMoveUntil` at the latest
    /// (`RoomManager.downswitchOnFeedback`).
    @exclusivity(unchecked) var heldForMove = false
    /// Simulcast: it moved between layers, so each copy gets `offsets` added.
    @exclusivity(unchecked) var rewrites = false
    /// Temporal layers (VP8, VP9): the filter of its temporal cap, nil until it is first capped;
    /// a viewer without one costs the fan-out one test per copy.
    @exclusivity(unchecked) var temporal: TemporalFilter?
    @exclusivity(unchecked) var packetsSent: UInt64 = 0
    @exclusivity(unchecked) var bytesSent: UInt64 = 0
    /// Copies carry this viewer's transport-wide sequence number (its answer has the
    /// extension with a one-byte id): see `TransportSequenceExtension`.
    @exclusivity(unchecked) var stampsTransportSequence = false
    let kind: TrackKind
    let media: NegotiatedMedia
    /// Answers this viewer's NACKs: repeat suppression, resend budget, RTX numbering.
    var nack = NackResponder(firstRTXSequence: RandomToken.value(in: 0...UInt16.max))
    /// What this viewer's receiver reports say: loss, jitter, round-trip time.
    var reports = ViewerReportStats()
    var rtxPacketsSent: UInt64 = 0
    var rtxBytesSent: UInt64 = 0
    /// Listed in its track's `viewersWithFollowUps`.
    var awaitsFollowUps = false
    /// Where its instant start stands, while `catchingUp`.
    var catchUp = CatchUpCursor()
    /// Simulcast: the layer it is on (`Room.videoLayers`), the one it is to move to at that
    /// layer's next keyframe, and the one asked for through the API (nil: automatic).
    var layer = 0
    var targetLayer: Int?
    var pinnedLayer: Int?
    /// What its copies get added since it moved (`rewrites`), and its first sequence number
    /// on the layer it is on (its NACKs for older ones name packets of a layer it left).
    var offsets = StreamOffsets()
    var firstSequenceOnLayer: UInt16 = 0
    /// Its moves between layers, and the timestamp step of the last one (for the listing).
    var layerMoves: UInt64 = 0
    var lastMoveStep: LayerTimestampStep?
    var heldForMoveUntil = Instant(nanoseconds: 0)
    /// When it last moved to a higher layer (`RoomManager.downswitchOnFeedback` leaves it to
    /// the per-second check for a while after).
    var movedUpAt: Instant?
    /// Automatic layer choice over time and probing for a higher layer (video).
    var probe = LayerProbe()
    /// Temporal layers: the automatic cap, the cap asked for through the API (nil:
    /// automatic), and whether the automatic cap keeps it on its spatial layer.
    var temporalChoice = TemporalLayerChoice()
    var pinnedTemporal: Int?
    var temporalHolds = false

    init(session: PeerSession, kind: TrackKind, media: NegotiatedMedia) {
        self.session = session
        self.kind = kind
        self.media = media
        self.codec = media.codecName
        self.payloadType = media.payloadType
        self.extensionMap = ExtensionIDMap(publisher: [], viewer: media.extensions.all)
    }

    /// The viewer's RTX payload type, when its answer carries our RTX SSRC (repairs go as
    /// RTX); nil: repairs are plain resends on the media SSRC.
    var rtxPayloadType: UInt8? { media.localRTXSSRC != nil ? media.rtxPayloadType : nil }

    /// Recomputes the id map for a (new) publisher's numbering. Transport-wide sequence
    /// numbers belong to one transport, so they are never forwarded as they are: the element
    /// is kept only for a viewer that negotiated it, and renumbered per copy; the MID
    /// names the publisher's m-line, not the viewer's (a viewer that ordered its m-lines
    /// differently would route audio to its video receiver), so viewers demultiplex by the
    /// SSRCs their answer announced instead.
    func bind(publisherExtensions: [SDPHeaderExtension]) {
        let id = media.extensions.transportWideCC ?? 0
        stampsTransportSequence = (1...14).contains(id) && session.transportSequence != nil
        extensionMap = ExtensionIDMap(
            publisher: publisherExtensions, viewer: media.extensions.all,
            dropping: stampsTransportSequence
                ? [SDPExtensionURI.mid, SDPExtensionURI.rtpStreamID, SDPExtensionURI.repairedRTPStreamID]
                : [
                    SDPExtensionURI.transportWideCC, SDPExtensionURI.mid, SDPExtensionURI.rtpStreamID,
                    SDPExtensionURI.repairedRTPStreamID,
                ])
    }
}
