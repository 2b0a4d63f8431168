import Glibc
import SFU

/// `/api/records`: the recordings (`.ogg`, `.ivf`, `.webm`) found in the record folder.
enum RecordingList {
    static let extensions = [".ogg", ".ivf", ".webm"]
    /// At most this many entries are listed (the folder may be large).
    static let limit = 10_000

    static func json(directory: String) -> String {
        var names: [(String, Int)] = []
        if let dir = opendir(directory) {
            defer { closedir(dir) }
            while names.count < limit, let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard extensions.contains(where: { name.hasSuffix($0) }) else { continue }
                var st = stat()
                let size = stat(directory + "/" + name, &st) == 0 ? Int(st.st_size) : 0
                names.append((name, size))
            }
        }
        var json = JSONWriter()
        json.beginObject()
        json.key("records")
        json.beginArray()
        for (name, size) in names.sorted(by: { $0.0 < $1.0 }) {
            json.beginObject()
            json.field("name", name)
            json.field("bytes", size)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.text
    }
}
