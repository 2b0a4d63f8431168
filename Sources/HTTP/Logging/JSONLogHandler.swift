import Glibc
import Logging
import SFU

/// `LOG_FORMAT=json`: one JSON object per line for log shippers. Fixed fields `ts` (RFC 3339,
/// UTC, microseconds), `level`, `logger`, `msg`, `source`; each swift-log metadata entry
/// becomes a field of its own (a key that would shadow a fixed field gets a `meta.` prefix).
/// Strings are escaped per RFC 8259; nested metadata becomes JSON arrays and objects.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: @Sendable (String) -> Void

    static let fixedFields: Set<String> = ["ts", "level", "logger", "msg", "source"]

    /// Writes each line to standard error (one `write(2)` per line, so lines from several
    /// threads do not interleave).
    public static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label) { line in
            var text = line
            text.withUTF8 { buffer in _ = Glibc.write(2, buffer.baseAddress, buffer.count) }
        }
    }

    public init(label: String, output: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        var line = "{\"ts\":\(Self.quote(Self.timestamp())),\"level\":\(Self.quote(event.level.rawValue))"
        line += ",\"logger\":\(Self.quote(label)),\"msg\":\(Self.quote("\(event.message)"))"
        line += ",\"source\":\(Self.quote(event.source))"
        for key in all.keys.sorted() {
            let name = Self.fixedFields.contains(key) ? "meta." + key : key
            line += ",\(Self.quote(name)):\(Self.json(all[key]!))"
        }
        line += "}\n"
        output(line)
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .stringConvertible(let c): return quote(c.description)
        case .array(let a): return "[" + a.map(json).joined(separator: ",") + "]"
        case .dictionary(let d):
            return "{" + d.keys.sorted().map { "\(quote($0)):\(json(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal (RFC 8259 §7): the API's own escaping.
    static func quote(_ s: String) -> String { JSONWriter.quoted(s) }

    /// `2026-12-06T18:30:27.123456Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1000), 6))Z"
    }
}
