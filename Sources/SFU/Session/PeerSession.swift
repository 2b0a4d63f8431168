import Reactor

/// One WebRTC peer of a room — its publisher or one viewer — on the room's core: ICE-lite,
/// DTLS and SRTP state, fed with datagrams by the core's `RoomManager`. Core-confined.
public final class PeerSession {
    public enum Role: String, Sendable { case publisher, viewer }

    public enum State: String, Sendable {
        /// Answer sent; waiting for a valid ICE check.
        case waitingForICE = "new"
        /// ICE checked; DTLS handshake running, or DTLS done and the nomination still to come.
        case connecting
        /// DTLS done, SRTP keys installed and an address nominated: media flows.
        case connected
        case closed
    }

    /// Why a session ended (for logs and metrics).
    public enum EndReason: String, Sendable, CaseIterable {
        case deleted, dtlsClosed, bye, consentExpired, setupTimeout, failed, roomClosed, replaced, shutdown
        /// A viewer admitted within the set-up allowance connected when the room already had
        /// `maxViewersPerRoom` connected viewers.
        case roomFull
    }

    public let id: String
    public let role: Role
    public let roomName: String
    public let ice: IceLiteAgent
    /// The peer's ICE ufrag (a PATCH with another one is an ICE restart).
    public var remoteUfrag = ""
    public let dtls: DTLSTransport
    public private(set) var srtp: SRTPContext?
    /// `srtp`'s outbound RTP protector, set with it: the fan-out reads it once per viewer per
    /// batch without reference counting. The fan-out's per-copy fields (this, `state`,
    /// `address`) skip Swift's dynamic exclusivity checks: core-confined plain values.
    @exclusivity(unchecked) private(set) var rtpProtector: SRTPProtector?
    @exclusivity(unchecked) public var state: State = .waitingForICE
    /// The address media goes to: the ICE-nominated one.
    @exclusivity(unchecked) public var address: SocketAddress?
    /// Every address that passed an ICE check and is routed to this session.
    var routedAddresses: [SocketAddress] = []
    /// Negotiated m-lines, in offer order.
    public let tracks: [NegotiatedMedia]
    public var etag: String
    public let createdAt: Instant
    public var connectedAt: Instant?
    /// The client IP this session counts against while it is being set up
    /// (`maxPendingSessionsPerIP`); nil once connected or when the IP is not known.
    var setupClient: PendingSessionsByIP.Key?
    /// A viewer that is an edge node's relay of the room: that node's ID (`/api/rooms`).
    public internal(set) var relayFor: String?

    // Publisher side: incoming SSRC → track kind, learned from SDP or the first packets.
    var inbound: [InboundStream] = []
    // Viewer side: one binding per room track the viewer receives.
    var viewerTracks: [ViewerTrack] = []
    /// A viewer's video subscription (where keyframes, instant start and layers apply).
    var videoTrack: ViewerTrack? { viewerTracks.first { $0.kind == .video } }
    // Publisher side: transport-wide congestion control feedback, when the answer negotiated
    // the transport-wide sequence extension (its id in `transportCCExtensionID`).
    var transportCC: TransportCCFeedback?
    var transportCCExtensionID: UInt8 = 0
    /// Viewer side: the send-side bandwidth estimate, and the transport-wide numbering of
    /// every copy sent when the answer negotiated transport-cc (`ViewerBandwidth`).
    let bandwidth: ViewerBandwidth?
    /// `bandwidth`'s per-copy numbering (nil without transport-cc), read by the fan-out once
    /// per viewer per batch without reference counting.
    @exclusivity(unchecked) private(set) var transportSequence: SentPacketLog.Recorder?
    /// Command sequence number of the last FIR sent to this publisher (RFC 5104 §4.3.1).
    var firSequence: UInt8 = 0

    // Figures.
    public var packetsIn: UInt64 = 0
    public var bytesIn: UInt64 = 0
    public var srtpErrors: UInt64 = 0
    public var pliReceived: UInt64 = 0
    /// It sent RTCP we could decrypt: it has its SRTP keys, so a retransmitted DTLS Finished
    /// from it is a stale copy, not a sign that it missed what it was sent.
    var sentSRTCP = false
    public var nackReceived: UInt64 = 0
    /// Upstream NACK packets sent to this publisher.
    public var nacksSent: UInt64 = 0

    init(
        id: String, role: Role, roomName: String, ice: IceLiteAgent, dtls: DTLSTransport,
        tracks: [NegotiatedMedia], now: Instant, bandwidthTrace: (@Sendable (String) -> Void)? = nil
    ) {
        self.id = id
        self.role = role
        self.roomName = roomName
        self.ice = ice
        self.dtls = dtls
        self.tracks = tracks
        self.etag = "\"\(RandomToken.hex(bytes: 8))\""
        self.createdAt = now
        if role == .publisher, let id = tracks.lazy.compactMap(\.extensions.transportWideCC).first {
            transportCC = TransportCCFeedback()
            transportCCExtensionID = id
        }
        if role == .viewer {
            let b = ViewerBandwidth(
                transportCC: tracks.contains { $0.extensions.transportWideCC != nil }, trace: bandwidthTrace)
            bandwidth = b
            transportSequence = b.log?.recorder
        } else {
            bandwidth = nil
        }
    }

    /// Installs the SRTP contexts from the DTLS-exported keys.
    func installKeys(_ keys: SRTPKeys) throws(SRTPError) {
        let context = try SRTPContext(keys: keys)
        srtp = context
        rtpProtector = context.rtpProtector
    }

    /// The inbound stream for a publisher SSRC, learning unknown SSRCs from their payload
    /// type (each negotiated m-line has its own payload types, so the PT names the track) and,
    /// on a simulcast m-line, from the RID (RTX: repaired-RID) extension naming the layer. Nil
    /// for an SSRC it cannot place: an unknown payload type, a simulcast packet without an
    /// offered RID, a second SSRC for a layer, or more streams than a publisher has.
    func inboundStream(for packet: RTPPacket) -> InboundStream? {
        let ssrc = packet.ssrc
        for s in inbound where s.ssrc == ssrc { return s }
        guard inbound.count < Self.maxInboundStreams else { return nil }  // refuse floods
        let payloadType = packet.payloadType
        for t in tracks {
            guard let kind = TrackKind(t.kind) else { continue }
            if !t.simulcastRIDs.isEmpty {
                let isRTX = t.rtxPayloadType == payloadType
                guard isRTX || t.payloadType == payloadType else { continue }
                guard let id = isRTX ? t.extensions.repairedRID : t.extensions.rid,
                      let layer = Self.layer(named: packet.extensionElement(id: id), in: t.simulcastRIDs),
                      !inbound.contains(where: { $0.kind == kind && $0.isRTX == isRTX && $0.layer == layer })
                else { return nil }
                let s = InboundStream(ssrc: ssrc, kind: kind, media: t, isRTX: isRTX, layer: layer)
                inbound.append(s)
                return s
            }
            if t.payloadType == payloadType || (t.remoteSSRC == ssrc && t.remoteRTXSSRC != ssrc) {
                let s = InboundStream(ssrc: ssrc, kind: kind, media: t, isRTX: false)
                inbound.append(s)
                return s
            }
            if let rtx = t.rtxPayloadType, rtx == payloadType || t.remoteRTXSSRC == ssrc {
                let s = InboundStream(ssrc: ssrc, kind: kind, media: t, isRTX: true)
                inbound.append(s)
                return s
            }
        }
        return nil
    }

    /// Streams a publisher may have: audio, and video with RTX, per simulcast layer.
    static let maxInboundStreams = 2 + 2 * SDPSimulcast.maxLayers

    /// The index of the RID an extension element names, nil when absent or not offered.
    static func layer(named element: UnsafeMutableRawBufferPointer?, in rids: [String]) -> Int? {
        guard let element, !element.isEmpty else { return nil }
        return rids.firstIndex { $0.utf8.elementsEqual(element) }
    }
    /// A viewer's send-side bandwidth estimate in bits/s (transport-cc, else REMB, else
    /// receiver-report loss: `bandwidthSignal`); nil until its feedback gave one.
    public var bandwidthEstimate: UInt64? { bandwidth?.estimator.estimate }
    public var bandwidthSignal: BandwidthSignal? { bandwidth?.estimator.signal }

    /// The negotiated m-line of a kind.
    func track(of kind: TrackKind) -> NegotiatedMedia? { tracks.first { $0.kind == kind.mediaKind } }
}

extension PeerSession {
    /// ICE restart (RFC 9725 §4.3.2): new local and remote credentials; DTLS and SRTP stay.
    func restartICE(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String) {
        ice.restart(
            localUfrag: localUfrag, localPassword: localPassword, remoteUfrag: remoteUfrag,
            remotePassword: remotePassword)
        self.remoteUfrag = remoteUfrag
        etag = "\"\(RandomToken.hex(bytes: 8))\""
    }
}
