import Reactor

/// The RTP timestamp step a viewer that moves between simulcast layers sees from the last
/// frame it got on the old layer to the new layer's keyframe (`StreamOffsets.continuing`).
///
/// The layers are encoded from one capture, each on its own random timestamp base; each
/// layer's sender report ties its timestamps to the publisher's one NTP clock. Mapping the
/// keyframe through both reports onto the old layer's timeline gives the step the capture
/// times make, so the viewer's timestamps keep the pairing with NTP that its sender reports
/// (and its audio) had: its receiver's A/V sync sees one stream. A fixed step of one frame
/// instead shifts the video against the audio by the difference, and the receiver's
/// estimate of the NTP↔RTP pairing (a fit over its last reports) is thrown off until the
/// reports from before the move have aged out of it.
struct LayerTimestampStep: Equatable {
    /// In RTP ticks (at least 1: a receiver drops a frame whose timestamp is not newer than
    /// the one it decoded last, and takes frames of one timestamp for one picture).
    var ticks: UInt32
    /// Derived from both layers' sender reports; false: `fallback` (no fresh report for one
    /// of them, or one that puts the layers implausibly far apart).
    var fromReports: Bool
    /// What the reports said before the lower bound of one tick was applied (nil: no
    /// plausible figure), for the figures of a move.
    var reportTicks: Int64?

    /// Layers of one capture are never further apart than this: a larger step from the
    /// reports means a report that no longer holds (a layer restarted, a clock jumped).
    static let maximumReportStep: Duration = .seconds(2)

    /// The step from the old layer's packet timestamped `lastTimestamp` to the new layer's
    /// keyframe timestamped `keyTimestamp`, through each layer's report at one moment
    /// (`SenderReportRewriter.report(now:)`: an NTP time and the RTP timestamp of the same
    /// layer's timeline at that time); `fallback` ticks without both.
    static func between(
        last lastTimestamp: UInt32, on from: (ntpTimestamp: UInt64, rtpTimestamp: UInt32)?,
        keyframe keyTimestamp: UInt32, on to: (ntpTimestamp: UInt64, rtpTimestamp: UInt32)?,
        clockRate: UInt32, fallback: UInt32
    ) -> LayerTimestampStep {
        guard let from, let to, clockRate > 0,
              let step = reportStep(last: lastTimestamp, on: from, keyframe: keyTimestamp, on: to, clockRate: clockRate)
        else { return LayerTimestampStep(ticks: max(fallback, 1), fromReports: false, reportTicks: nil) }
        return LayerTimestampStep(ticks: UInt32(max(step, 1)), fromReports: true, reportTicks: step)
    }

    /// The keyframe's capture on the old layer's timeline, less the last packet's timestamp
    /// (signed ticks); nil when the layers' reports are further apart than
    /// `maximumReportStep`.
    private static func reportStep(
        last: UInt32, on from: (ntpTimestamp: UInt64, rtpTimestamp: UInt32), keyframe key: UInt32,
        on to: (ntpTimestamp: UInt64, rtpTimestamp: UInt32), clockRate: UInt32
    ) -> Int64? {
        let limit = Int64(NTPTime.ticks(maximumReportStep, clockRate: clockRate))
        // The two reports' NTP times, in ticks of the clock (32.32 fixed point: the
        // difference is bounded first so the product cannot overflow).
        let ntpDifference = Int64(bitPattern: to.ntpTimestamp &- from.ntpTimestamp)
        guard ntpDifference.magnitude <= UInt64(maximumReportStep.nanoseconds / 1_000_000_000 + 1) << 32 else { return nil }
        let ntpTicks = (ntpDifference * Int64(clockRate)) >> 32
        // From the last packet to the old layer's report time, from there (same NTP time as
        // the new layer's report, less `ntpTicks`) to the keyframe.
        let step = Int64(Int32(bitPattern: from.rtpTimestamp &- last)) + ntpTicks
            + Int64(Int32(bitPattern: key &- to.rtpTimestamp))
        guard step.magnitude <= UInt64(limit) else { return nil }
        return step
    }
}
