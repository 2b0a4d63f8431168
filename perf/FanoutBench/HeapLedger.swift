import COpenSSL
import CShim
import Glibc

/// Process memory figures for `--memory`: glibc's heap in use (all arenas) and the RSS.
struct MemoryFigures {
    /// `mallinfo2().uordblks`: bytes handed out by malloc and not yet freed.
    var heap: Int
    /// Resident set size, bytes (/proc/self/statm).
    var rss: Int

    static func now() -> MemoryFigures { MemoryFigures(heap: Int(lsfu_heap_in_use()), rss: residentBytes()) }

    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        // "size resident shared text lib data dt" in pages.
        let fields = buffer[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Net heap bytes (allocated minus freed) of the code run inside `attribute`: wrapping every
/// call into the server (RoomManager) separates the server's memory from the benchmark
/// clients' that share the process, the thread and the heap.
final class HeapLedger {
    var enabled = false
    private(set) var bytes = 0

    @inline(__always) func attribute<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard enabled else { return try body() }
        let before = Int(lsfu_heap_in_use())
        defer { bytes += Int(lsfu_heap_in_use()) - before }
        return try body()
    }
}

func kib(_ bytes: Double) -> String {
    let r = (bytes / 1024 * 10).rounded() / 10
    return String(r)
}
