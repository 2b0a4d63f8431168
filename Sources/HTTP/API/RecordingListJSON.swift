import SFU
import Storage

/// The body of `GET /api/records`: `{"records":[…],"truncated":false}` with one object per
/// recorded file, as the catalog has it (newest first). Only the fields that are set are
/// written for `damage`, `error`, `objectKey` and `firstFrameUnixMicros`.
enum RecordingListJSON {
    static func text(_ entries: some Sequence<RecordingEntry>, truncated: Bool) -> String {
        var o = JSONWriter()
        o.beginObject()
        o.key("records")
        o.beginArray()
        for entry in entries { write(entry, to: &o) }
        o.endArray()
        o.field("truncated", truncated)
        o.endObject()
        return o.text
    }

    static func write(_ e: RecordingEntry, to o: inout JSONWriter) {
        o.beginObject()
        o.field("name", e.name)
        o.field("room", e.room)
        o.field("track", e.track)
        o.field("kind", e.kind)
        o.field("codec", e.codec)
        o.field("contentType", e.contentType)
        o.field("state", e.state.rawValue)
        o.field("bytes", e.bytes)
        o.field("frames", e.frames)
        o.field("framesSkipped", e.framesSkipped)
        o.field("startedAt", HTTPDate.iso8601(unixMillis: e.startedAtUnixMillis))
        o.field("startedAtUnixMillis", e.startedAtUnixMillis)
        if let micros = e.firstFrameUnixMicros { o.field("firstFrameUnixMicros", micros) }
        o.field("durationSeconds", Double(e.durationMillis) / 1000, decimals: 3)
        if let damage = e.damage { o.field("damage", damage) }
        if let error = e.error { o.field("error", error) }
        if let key = e.objectKey { o.field("objectKey", key) }
        o.field("localFileDeleted", e.localFileDeleted)
        o.field("recovered", e.recovered)
        o.endObject()
    }
}
