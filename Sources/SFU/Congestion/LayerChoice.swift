/// Which simulcast layer a viewer on automatic should be on, from its bandwidth estimate for
/// video and the layers' measured bitrates: the highest layer that fits with a quarter of
/// headroom; a viewer stays on its layer while that still fits with 15 % to spare (no flapping
/// between two layers at the edge), and goes down at once when it no longer does. Without an
/// estimate: the best layer.
enum LayerChoice {
    /// A higher layer is chosen when the estimate is this multiple of its bitrate.
    static let headroom = 1.25
    /// A viewer stays on its layer while the estimate is this multiple of its bitrate: a layer
    /// that takes all of what the path carries (the estimate follows the path's rate, headers
    /// and repairs on top) keeps the bottleneck's queue full, and the viewer's audio, waiting
    /// in the same queue, then holds its video back for A/V sync.
    static let margin = 1.15
    /// An estimate under this fraction of what a viewer is sent is a collapse (a bottleneck
    /// well under its layer): the choice is made at once from the feedback
    /// (`RoomManager.downswitchOnFeedback`), not at the per-second check.
    static let collapse = 0.5

    /// Whether a viewer's estimate has fallen too far for the per-second check to wait:
    /// under `collapse` of what it is `sent`, or under `margin` × the `least` its layer can be
    /// sent (temporal layer 0).
    static func collapsed(estimate: UInt64, sent: UInt64, least: UInt64) -> Bool {
        least > 0 && (Double(estimate) < collapse * Double(sent) || Double(estimate) < margin * Double(least))
    }

    /// The layer just above `current` among those sending (the next higher bitrate), nil on
    /// the top one: what a probe tries for (`LayerProbe`).
    static func nextUp(bitrates: [UInt64], current: Int) -> Int? {
        let now = current < bitrates.count ? bitrates[current] : 0
        return bitrates.indices.filter { bitrates[$0] > now }.min { bitrates[$0] < bitrates[$1] }
    }

    /// - Parameters:
    ///   - bitrates: each layer's bitrate (bits/s) by layer index; 0 for a layer not sending.
    ///   - current: the viewer's layer.
    ///   - estimate: the viewer's bandwidth estimate (bits/s), nil while unknown.
    static func layer(bitrates: [UInt64], current: Int, estimate: UInt64?) -> Int {
        let sending = bitrates.indices.filter { bitrates[$0] > 0 }.sorted { bitrates[$0] < bitrates[$1] }
        guard let lowest = sending.first, let highest = sending.last else { return current }
        guard let estimate else { return highest }
        let fitsWithHeadroom = sending.last { Double(bitrates[$0]) * headroom <= Double(estimate) }
        if current < bitrates.count, bitrates[current] > 0, Double(bitrates[current]) * margin <= Double(estimate) {
            // It still fits: up only with headroom, never down.
            if let up = fitsWithHeadroom, bitrates[up] > bitrates[current] { return up }
            return current
        }
        return sending.last { Double(bitrates[$0]) * margin <= Double(estimate) } ?? lowest
    }
}
