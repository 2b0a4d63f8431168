import S3
import SFU
import Storage

/// The recording figures of `/metrics`. They are process-wide (shared atomics that the cores
/// and the writer thread add to, and the catalog), so they are added once per scrape on the
/// scraping core, after the per-core snapshots are merged. Without recording they are all
/// zero, so dashboards and alerts find every series either way.
public enum RecordingMetrics {
    public static func contribute(
        to s: inout MetricsSnapshot, counters: RecordingCounters?, catalog: RecordingCatalog?, uploads: UploadCounters? = nil
    ) {
        func load(_ value: (RecordingCounters) -> UInt64) -> Double { counters.map { Double(value($0)) } ?? 0 }
        s.add(
            "livesfu_recordings_active", .gauge, help: "Recordings being written",
            value: Double(counters?.active.load(ordering: .relaxed) ?? 0))
        s.add(
            "livesfu_recordings_started_total", .counter, help: "Recordings started (one per recorded track)",
            value: load { $0.started.load(ordering: .relaxed) })
        s.add(
            "livesfu_recording_bytes_written_total", .counter, help: "Bytes written to recording files",
            value: load { $0.bytesWritten.load(ordering: .relaxed) })
        s.add(
            "livesfu_recording_frames_written_total", .counter, help: "Frames written to recording files",
            value: load { $0.framesWritten.load(ordering: .relaxed) })
        s.add(
            "livesfu_recording_frames_skipped_total", .counter,
            help: "Frames not recorded: incomplete after the repair wait, malformed, or depending on one",
            value: load { $0.framesSkipped.load(ordering: .relaxed) })
        for (reason, value) in [
            ("queue_full", load { $0.bytesDroppedQueueFull.load(ordering: .relaxed) }),
            ("write_error", load { $0.bytesDroppedWriteError.load(ordering: .relaxed) }),
        ] {
            s.add(
                "livesfu_recording_dropped_bytes_total", .counter,
                help: "Recording bytes dropped: the writer did not keep up, or the disk refused a write",
                labels: [("reason", reason)], value: value)
        }
        s.add(
            "livesfu_recordings_damaged_total", .counter, help: "Recordings stopped early by dropped data",
            value: load { $0.damaged.load(ordering: .relaxed) })
        var byState: [RecordingState: Int] = [:]
        for entry in catalog?.entries() ?? [] { byState[entry.state, default: 0] += 1 }
        for state in RecordingState.allCases {
            s.add(
                "livesfu_recordings", .gauge, help: "Recorded files in the catalog, by state",
                labels: [("state", state.rawValue)], value: Double(byState[state] ?? 0))
        }
        contribute(to: &s, uploads: uploads ?? UploadCounters())
    }

    /// `UPLOAD_RECORDINGS`: the upload queue's figures (zero when uploads are off).
    static func contribute(to s: inout MetricsSnapshot, uploads u: UploadCounters) {
        for (result, value) in [("uploaded", u.uploaded), ("failed", u.failed), ("interrupted", u.interrupted)] {
            s.add(
                "livesfu_uploads_total", .counter,
                help: "Uploads ended, by result (interrupted: cut off by shutdown, resumed at the next start)",
                labels: [("result", result)], value: Double(value))
        }
        s.add("livesfu_upload_retries_total", .counter, help: "S3 requests tried again", value: Double(u.retries))
        s.add("livesfu_upload_queue_length", .gauge, help: "Uploads waiting for a worker", value: Double(u.queued))
        s.add("livesfu_uploads_running", .gauge, help: "Uploads in progress", value: Double(u.running))
        let age = u.oldestQueuedAge.components
        s.add(
            "livesfu_upload_queue_oldest_age_seconds", .gauge, help: "How long the oldest waiting upload has waited",
            value: Double(age.seconds) + Double(age.attoseconds) / 1e18)
    }
}
