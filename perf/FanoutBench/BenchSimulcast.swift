import Reactor
import SFU

/// `--simulcast MODE`: the publisher sends three layers as a browser does with
/// `sendEncodings` (unsignalled SSRCs, the RID extension, `a=simulcast:send r0;r1;r2`), one
/// frame of each in turn: 6, 2 and 1 packets (r0, r1, r2: the shape of 2 Mbps, 500 kbit/s
/// and 125 kbit/s at the same frame rate). Where the viewers are:
/// - `top`: all on r0, where a viewer starts; never moved (three layers in, one out);
/// - `moved`: all on r0 after a move r0 → r1 → r0, so every copy has its offsets rewritten
///   (sequence number, timestamp, picture ID): the same copies as `top` plus the rewrite;
/// - `spread`: viewer *i* on r(*i* mod 3), as the load tool's `--spread-layers`.
enum BenchSimulcast: String {
    case top, moved, spread

    static let rids = ["r0", "r1", "r2"]
    static let initialLayers = rids.enumerated().map { i, rid in
        BenchLayer(ssrc: 0x0C0C_0001 &+ UInt32(i) &* 16, rid: rid, packetsPerFrame: [6, 2, 1][i], keyframeNext: true)
    }

    /// The publisher's offer as Chromium's with three `sendEncodings`.
    static func offer(_ offer: ClientOffer) -> ClientOffer {
        var o = offer
        for i in o.session.media.indices where o.session.media[i].kind == .video {
            o.session.media[i].ssrcs = []
            o.session.media[i].ssrcGroups = []
            o.session.media[i].headerExtensions += [
                SDPHeaderExtension(id: 10, uri: SDPExtensionURI.rtpStreamID),
                SDPHeaderExtension(id: 11, uri: SDPExtensionURI.repairedRTPStreamID),
            ]
            o.session.media[i].otherAttributes += rids.map { SDPAttribute("rid", "\($0) send") }
                + [SDPAttribute("simulcast", "send " + rids.joined(separator: ";"))]
        }
        o.sdp = SDPWriter.write(o.session)
        return o
    }

    /// The layer viewer `index` (0-based) ends on.
    func layer(ofViewer index: Int) -> Int { self == .spread ? index % BenchSimulcast.rids.count : 0 }

    /// The moves that put `viewers` viewers where this mode wants them, in steps (each
    /// step's moves happen at the next keyframes): the layer each viewer is asked to go to,
    /// nil to stay.
    func steps(viewers: Int) -> [[Int?]] {
        switch self {
        case .top: []
        case .moved: [Array(repeating: 1, count: viewers), Array(repeating: 0, count: viewers)]
        case .spread: [(0..<viewers).map { $0 % 3 == 0 ? nil : $0 % 3 }]
        }
    }

    /// nil when the room's snapshot has the viewers on the layers this mode wants, else what is wrong.
    func misplaced(_ tracks: [RoomSnapshot.Track], viewers: Int) -> String? {
        for (l, rid) in BenchSimulcast.rids.enumerated() {
            let want = (0..<viewers).filter { layer(ofViewer: $0) == l }.count
            let have = tracks.first { $0.rid == rid }?.viewers ?? -1
            if have != want { return "\(self): \(have) viewers on \(rid), want \(want)" }
        }
        return nil
    }
}

/// One SSRC of the bench's publisher and where its stream is.
struct BenchLayer {
    let ssrc: UInt32
    let rid: String?
    let packetsPerFrame: Int
    var sequence: UInt16 = 1000
    var timestamp: UInt32 = 90_000
    var pictureID: UInt16 = 0
    var packetInFrame = 0
    var frames = 0
    /// The next frame is a keyframe (viewers are moving here).
    var keyframeNext = false
    /// Packets sent while measuring: what each viewer on this layer must receive.
    var measured = 0
}
