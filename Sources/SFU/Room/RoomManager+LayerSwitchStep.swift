import Reactor

/// The offsets of a viewer's move between simulcast layers, with the timestamp step through
/// the two layers' sender reports (`LayerTimestampStep`).
extension RoomManager {
    /// Offsets that continue a viewer's stream from its last packet `lastSequence` on layer
    /// `from` (with the offsets it had there, `previous`) into layer `target` at its keyframe
    /// `key` (numbered `start`), and the timestamp step they give the keyframe: the one the
    /// layers' sender reports put between the two frames' captures, so the viewer's NTP↔RTP
    /// pairing (its A/V sync) holds across the move (one frame without reports).
    static func moveOffsets(
        after lastSequence: UInt16, on from: TrackFanout, previous: StreamOffsets, keyframe key: UnsafeRawBufferPointer,
        start: UInt16, on target: TrackFanout, codec: VideoCodec?, now: Instant
    ) -> (offsets: StreamOffsets, step: LayerTimestampStep) {
        let last = from.history?.storedPacket(sequenceNumber: lastSequence)
        let step = layerSwitchStep(last: last, from: from, keyframe: key, to: target, now: now)
        let offsets = StreamOffsets.continuing(
            last: last, lastSequence: lastSequence, previous: previous, keyframe: key, start: start, codec: codec,
            frameTicks: step.ticks)
        return (offsets, step)
    }

    /// The timestamp step from the old layer's packet `last` to the new layer's keyframe `key`
    /// (`LayerTimestampStep`), through both layers' sender reports now.
    static func layerSwitchStep(
        last: UnsafeRawBufferPointer?, from: TrackFanout, keyframe key: UnsafeRawBufferPointer, to target: TrackFanout,
        now: Instant
    ) -> LayerTimestampStep {
        guard let last, last.count >= 12, key.count >= 12 else {
            return LayerTimestampStep(ticks: layerSwitchFrameTicks, fromReports: false, reportTicks: nil)
        }
        return LayerTimestampStep.between(
            last: WireBytes.u32(last, 4), on: from.senderReports.report(now: now),
            keyframe: WireBytes.u32(key, 4), on: target.senderReports.report(now: now),
            clockRate: target.senderReports.clockRate, fallback: layerSwitchFrameTicks)
    }
}
