/// A viewer's temporal cap (`TemporalFilter`): set, lifted, and carried across a new
/// numbering of its stream.
extension ViewerTrack {
    /// The cap in force (nil: every layer).
    var temporalCap: Int? {
        guard let f = temporal, f.cap < TemporalFilter.topLayer else { return nil }
        return Int(f.cap)
    }

    /// Caps it at temporal layer `cap` (0-3), or lifts the cap (nil). The filter is made on
    /// the first cap and kept when lifted: what it held back stays subtracted from the
    /// viewer's numbers until its stream's numbering starts anew (`offsetsStartingOver`).
    func setTemporalCap(_ cap: Int?) {
        guard let cap else {
            temporal?.setTarget(TemporalFilter.topLayer)
            return
        }
        let layer = UInt8(clamping: max(cap, 0))
        if let f = temporal { f.setTarget(layer) } else { temporal = TemporalFilter(target: layer) }
    }

    /// The offsets its copies have had added so far, with what its temporal filter held back
    /// folded in: what `StreamOffsets.continuing` goes on from when the numbering of its
    /// stream starts anew (a move to another layer, an instant start going on from a newer
    /// keyframe). The filter starts over there, or goes when it caps nothing (the viewer
    /// costs nothing extra again).
    func offsetsStartingOver() -> StreamOffsets {
        var o = rewrites ? offsets : StreamOffsets()
        guard let f = temporal else { return o }
        o.sequence &-= f.droppedPackets
        o.pictureID &-= f.droppedPictures
        if f.target < TemporalFilter.topLayer { f.restart() } else { temporal = nil }
        return o
    }
}
