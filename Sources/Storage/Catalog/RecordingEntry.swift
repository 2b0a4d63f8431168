/// One recorded file, as the catalog, its publication's sidecar and `/api/records` show it.
public struct RecordingEntry: Sendable, Codable, Equatable {
    /// The file's name in `RECORD_DIR` (`{room}_{trackID}_{unixTimestamp}.{ext}`).
    public var name: String
    public var room: String
    public var track: String
    /// `audio` or `video`.
    public var kind: String
    /// `opus`, `vp8`, `vp9`, `h264`, `av1`.
    public var codec: String
    /// The publication's sidecar name, without `.json`.
    public var publication: String
    public var state: RecordingState
    /// Bytes in the file (as written so far while recording).
    public var bytes: UInt64 = 0
    public var frames: UInt64 = 0
    public var framesSkipped: UInt64 = 0
    /// When the recording started, by this server's clock (milliseconds since 1970).
    public var startedAtUnixMillis: Int64
    /// The first frame's wall-clock time from the publisher's RTCP sender reports
    /// (microseconds since 1970): what aligns the audio and video files of a publication.
    public var firstFrameUnixMicros: Int64?
    /// When the first frame arrived at this server (microseconds since 1970).
    public var firstFrameArrivalUnixMicros: Int64?
    public var durationMillis: Int64 = 0
    /// Why the file is `damaged` (`queue_full`, `write_error`, or the system's message).
    public var damage: String?
    /// The last upload error (S3's message), kept with `failed`.
    public var error: String?
    public var objectKey: String?
    public var etag: String?
    /// Set when `DELETE_RECORDING_AFTER_UPLOAD` removed the local file.
    public var localFileDeleted = false
    /// Finalised at start-up after the server stopped without closing it (a crash).
    public var recovered = false

    public init(
        name: String, room: String, track: String, kind: String, codec: String, publication: String,
        state: RecordingState, startedAtUnixMillis: Int64
    ) {
        self.name = name
        self.room = room
        self.track = track
        self.kind = kind
        self.codec = codec
        self.publication = publication
        self.state = state
        self.startedAtUnixMillis = startedAtUnixMillis
    }

    /// The Content-Type of the file's format.
    public var contentType: String {
        switch name.split(separator: ".").last {
        case "ogg": "audio/ogg"
        case "ivf": "video/x-ivf"
        case "h264": "video/h264"
        default: "application/octet-stream"
        }
    }
}
