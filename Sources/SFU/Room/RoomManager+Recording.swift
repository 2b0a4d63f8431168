import Reactor

/// Each publication's recordings (`RECORD_ENABLED`): started when its publisher connects,
/// fed by the fan-out, advanced with time, finished when the publication ends.
extension RoomManager {
    /// One recording per track of a publication that can be recorded (Opus, VP8, VP9, H.264,
    /// AV1), named as the Go server named them; the writer thread creates the files.
    func startRecording(_ room: Room, publisher p: PeerSession, now: Instant) {
        guard let settings = configuration.recording else { return }
        let started = settings.wallClockMillis()
        let wallClockOffset = started * 1000 - Int64(now.nanoseconds / 1000)
        let publication = "\(room.name)_\(started / 1000)_\(p.id.prefix(8))"
        for media in p.tracks {
            guard let kind = TrackKind(media.kind) else { continue }
            let videoCodec = kind == .video ? VideoCodec(media.codecName) : nil
            guard kind == .video ? videoCodec != nil : media.codecName == .opus else { continue }
            let track = RecordingSettings.sanitisedTrackID(media.remoteMSID?.track) ?? "\(kind)"
            let file = RecordingFile(
                .init(
                    name: "\(room.name)_\(track)_\(started / 1000).\(TrackRecorder.fileExtension(videoCodec: videoCodec))",
                    room: room.name, track: track, kind: kind, codec: media.codecName.rawValue,
                    publication: publication, startedAtUnixMillis: started, clockRate: kind == .audio ? 48_000 : 90_000),
                queueBytes: kind == .audio ? settings.audioQueueBytes : settings.videoQueueBytes)
            let fanout = room.fanout(kind)
            fanout.recorder = TrackRecorder(
                file: file, counters: settings.counters, videoCodec: videoCodec, wallClockOffsetMicros: wallClockOffset)
            settings.counters.started.add(1, ordering: .relaxed)
            settings.counters.active.add(1, ordering: .relaxed)
            settings.register(file)
        }
    }

    /// Frames whose repair wait is over go to the files; keyframes the recordings need are
    /// asked for.
    func advanceRecordings(_ room: Room, now: Instant) {
        for f in [room.audio, room.video] {
            guard let r = f.recorder else { continue }
            r.advance(now: now)
            if r.takeKeyframeRequest() { requestKeyframe(room: room, now: now) }
        }
    }

    /// The publication ended (left, DELETE, room closed, shutdown): its files are completed.
    func finishRecordings(_ room: Room, now: Instant) {
        for f in [room.audio, room.video] {
            f.recorder?.finish(now: now)
            f.recorder = nil
        }
    }
}
