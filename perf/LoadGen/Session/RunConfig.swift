import Reactor

/// Settings every loop needs (a Sendable copy of the command line's media and client choices).
struct RunConfig: Sendable {
    var bindAddress: SocketAddress
    var gro: Bool
    var whipPath: String
    var whepPath: String
    var video: SyntheticVideoSource.Config
    var audio: Bool
    var nack: Bool
    var pliOnJoin: Bool
    /// A VP8 IVF recording to replay instead of the synthetic video.
    var ivfPath: String? = nil
    /// Publishers pace video at this multiple of its bitrate (0: each frame leaves as a burst).
    var pacingFactor: Double = 0
    /// Sending the pacer may do at once, as time at its rate (libwebrtc: 40 ms).
    var pacingBurstMillis: UInt64 = 0
    /// Times a viewer refused with 503 + `Retry-After` offers again after the wait (0: never).
    var retryRefused = 0
    /// Where viewers offer (`--viewer-server`, else `--server`): viewer i uses the (i mod n)-th.
    var viewerClients: [HTTPClient] = []
    /// Simulcast (`--simulcast`): the publishers' layers by RID, best first (empty: one layer).
    var simulcastRIDs: [String] = []
    /// Viewer `i` asks for layer `i % layers` once connected (`--spread-layers`).
    var spreadLayers = false

    func path(_ template: String, room: String) -> String {
        template.replacingRoom(with: room)
    }

    /// Packets in a frame from which a counting-only viewer takes it for a keyframe: halfway
    /// between a delta frame's and a keyframe's packet counts.
    var keyframeThresholdPackets: Int {
        let cap = video.maxPacketSize - 20
        let delta = (video.deltaFrameBytes + cap - 1) / cap
        let key = (video.keyFrameBytes + cap - 1) / cap
        return max(1, (delta + key + 1) / 2)
    }
}

extension String {
    func replacingRoom(with room: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: "{room}") {
            out += rest[..<r.lowerBound]
            out += room
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            var j = i
            var k = 0
            while k < n.count, j < endIndex, self.utf8[j] == n[k] {
                j = self.utf8.index(after: j)
                k += 1
            }
            if k == n.count { return i..<j }
            i = index(after: i)
        }
        return nil
    }
}
