/// Which simulcast layer a viewer on automatic should be on, from its bandwidth estimate and
/// the layers' measured bitrates: the highest layer that fits with a quarter of headroom; a
/// viewer stays on its layer while that still fits (no flapping between two layers at the
/// edge), and goes down at once when it no longer does. Without an estimate: the best layer.
enum LayerChoice {
    /// A higher layer is chosen when the estimate is this multiple of its bitrate.
    static let headroom = 1.25

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
        if current < bitrates.count, bitrates[current] > 0, bitrates[current] <= estimate {
            // It still fits: up only with headroom, never down.
            if let up = fitsWithHeadroom, bitrates[up] > bitrates[current] { return up }
            return current
        }
        return sending.last { bitrates[$0] <= estimate } ?? lowest
    }
}
