import Reactor

/// The recording of one published track, on the room's core: the fan-out hands it every
/// rewritten plaintext packet (repairs included, after RTX unwrap); the codec's recorder turns
/// them into file bytes, which go to the writer thread through the file's bounded ring. A
/// chunk the ring cannot take damages the recording (the rest would not decode), which then
/// stops costing anything; forwarding never waits for it.
final class TrackRecorder {
    let file: RecordingFile
    private let counters: RecordingCounters
    private var video: VideoTrackRecorder?
    private var audio: AudioTrackRecorder?
    private var skippedReported: UInt64 = 0
    private var writtenReported: UInt64 = 0
    /// The latest sender report of the track, mapped to the outbound timestamps.
    private var senderReport: (ntp: UInt64, rtpTimestamp: UInt32)?
    private var damaged = false
    /// Maps the core's clock to the wall clock (microseconds since 1970 at `Instant` 0), so the
    /// first frame's arrival is known without reading a clock here.
    private let wallClockOffsetMicros: Int64
    private var firstFrameArrival: Instant?

    init(file: RecordingFile, counters: RecordingCounters, videoCodec: VideoCodec?, wallClockOffsetMicros: Int64) {
        self.file = file
        self.counters = counters
        self.wallClockOffsetMicros = wallClockOffsetMicros
        if let videoCodec {
            video = VideoTrackRecorder(codec: videoCodec)
        } else {
            audio = AudioTrackRecorder(serial: Int32(bitPattern: RandomToken.ssrc()))
        }
    }

    /// The file name extension of the format written for a track.
    static func fileExtension(videoCodec: VideoCodec?) -> String {
        switch videoCodec {
        case nil: "ogg"
        case .h264: "h264"
        default: "ivf"
        }
    }

    /// When `advance` must run if no packet comes first.
    var deadline: Instant? { video?.deadline ?? audio?.deadline }

    /// One rewritten packet of the track.
    func handle(_ packet: RTPPacket, now: Instant) {
        guard !damaged else { return }
        video?.handle(packet, now: now)
        audio?.handle(packet, now: now)
        if firstFrameArrival == nil, (video?.firstFrameTimestamp ?? audio?.firstFrameTimestamp) != nil {
            firstFrameArrival = now
        }
        flush()
    }

    /// Frames whose repair wait is over; keyframe requests repeated while none comes.
    func advance(now: Instant) {
        guard !damaged else { return }
        video?.advance(now: now)
        audio?.advance(now: now)
        flush()
    }

    /// True once per keyframe the recording needs (to start, or after a frame it had to skip).
    func takeKeyframeRequest() -> Bool { !damaged && (video?.takeKeyframeRequest() ?? false) }

    /// A sender report of the publisher for this track, its RTP timestamp already mapped to
    /// the outbound stream: the file's start is placed on the wall clock from it.
    func senderReport(ntpTimestamp: UInt64, outboundRTPTimestamp: UInt32) {
        senderReport = (ntpTimestamp, outboundRTPTimestamp)
    }

    /// Writes what is complete, then hands the summary to the writer, which closes the file.
    func finish(now: Instant) {
        if !damaged {
            video?.finish(now: now)
            audio?.finish(now: now)
            flush()
        }
        let first = video?.firstFrameTimestamp ?? audio?.firstFrameTimestamp
        let last = video?.lastFrameTimestamp ?? audio?.lastFrameTimestamp ?? 0
        let rate = Int64(file.description.clockRate)
        var span: Int64 = 0
        var start: Int64?
        if let first {
            span = Int64(Int32(bitPattern: last &- first))
            if let sr = senderReport {
                start = Self.unixMicros(ntp: sr.ntp) + Int64(Int32(bitPattern: first &- sr.rtpTimestamp)) * 1_000_000 / rate
            }
        }
        let frames = video?.framesWritten ?? audio?.packetsWritten ?? 0
        let skipped = video?.assemblerCounters.framesSkipped ?? audio?.assemblerCounters.framesSkipped ?? 0
        file.finish(
            .init(
                finalHeader: video?.finalHeader, frames: frames, framesSkipped: skipped,
                durationNanoseconds: max(span, 0) * 1_000_000_000 / rate, firstFrameUnixMicros: start,
                firstFrameArrivalUnixMicros: firstFrameArrival.map { wallClockOffsetMicros + Int64($0.nanoseconds / 1000) }))
        counters.active.subtract(1, ordering: .relaxed)
    }

    /// NTP (seconds since 1900, 32.32 fixed point) to microseconds since 1970.
    static func unixMicros(ntp: UInt64) -> Int64 {
        let seconds = Int64(ntp >> 32) - 2_208_988_800
        let fraction = Int64(((ntp & 0xFFFF_FFFF) * 1_000_000) >> 32)
        return seconds * 1_000_000 + fraction
    }

    /// Moves the bytes produced to the ring, and the figures to the shared counters.
    private func flush() {
        var refused = 0
        if video != nil {
            video!.takeOutput { bytes in refused = write(bytes) }
        } else {
            audio!.takeOutput { bytes in refused = write(bytes) }
        }
        let skipped = video?.assemblerCounters.framesSkipped ?? audio?.assemblerCounters.framesSkipped ?? 0
        if skipped != skippedReported {
            counters.framesSkipped.add(skipped &- skippedReported, ordering: .relaxed)
            skippedReported = skipped
        }
        let written = video?.framesWritten ?? audio?.packetsWritten ?? 0
        if written != writtenReported {
            counters.framesWritten.add(written &- writtenReported, ordering: .relaxed)
            writtenReported = written
        }
        if refused > 0 || file.damageReason != nil {
            damaged = true
            if refused > 0, file.markDamaged(.queueFull) {
                counters.damaged.add(1, ordering: .relaxed)
            }
            if refused > 0 { counters.bytesDroppedQueueFull.add(UInt64(refused), ordering: .relaxed) }
        }
    }

    /// Bytes the ring refused (0 when it took them, or there were none).
    private func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 0, !damaged else { return 0 }
        if bytes.count <= file.ring.maximumChunk, file.ring.write(bytes) { return 0 }
        return bytes.count
    }
}
