import Glibc

/// The `BANDWIDTH_TRACE_FILE` debug sink: viewers' transport-cc feedback lines
/// (`RoomManagerConfiguration.bandwidthTrace`) appended to a file, one per line, from any core.
///
/// `@unchecked Sendable`: the only state is the `FILE*`, written with `fputs`, which glibc's
/// stdio serialises per stream (each call takes the stream's lock), and never closed (it lives
/// as long as the process).
final class BandwidthTraceFile: @unchecked Sendable {
    private let file: UnsafeMutablePointer<FILE>

    /// Opens `path` for appending; nil when it cannot be opened.
    init?(path: String) {
        guard let f = fopen(path, "a") else { return nil }
        file = f
    }

    func write(_ line: String) {
        fputs(line + "\n", file)
        fflush(file)
    }
}
