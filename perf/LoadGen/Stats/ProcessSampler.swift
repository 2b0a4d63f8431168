import Glibc

/// Reads a process's CPU time and memory from `/proc/<pid>/stat` and `/proc/<pid>/status`.
public struct ProcessSample: Sendable, Equatable {
    /// User + system CPU seconds since the process started.
    public var cpuSeconds: Double
    /// Resident set size in bytes.
    public var rssBytes: UInt64
    /// Peak resident set size in bytes (VmHWM).
    public var peakRSSBytes: UInt64
    public var threads: Int
}

public enum ProcessSampler {
    /// Samples `pid`; nil if the process is gone or its files cannot be read.
    public static func sample(pid: Int32) -> ProcessSample? {
        guard let stat = readFile("/proc/\(pid)/stat"), let status = readFile("/proc/\(pid)/status") else { return nil }
        guard let cpu = parseStatCPUTicks(stat) else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let fields = parseStatus(status)
        return ProcessSample(cpuSeconds: Double(cpu) / (hz > 0 ? hz : 100),
                             rssBytes: (fields["VmRSS"] ?? 0) * 1024, peakRSSBytes: (fields["VmHWM"] ?? 0) * 1024,
                             threads: Int(fields["Threads"] ?? 0))
    }

    /// utime + stime (fields 14 and 15) from a `/proc/<pid>/stat` line. The command name
    /// (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
    public static func parseStatCPUTicks(_ s: String) -> UInt64? {
        guard let close = s.lastIndex(of: ")") else { return nil }
        let rest = s[s.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); utime is field 14 → rest[11], stime rest[12].
        guard rest.count > 12, let u = UInt64(rest[11]), let st = UInt64(rest[12]) else { return nil }
        return u + st
    }

    /// "Key:   value kB" lines of `/proc/<pid>/status` as numbers (kB values stay in kB).
    public static func parseStatus(_ s: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in s.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
                .first.flatMap { UInt64($0) }
            if let value { out[key] = value }
        }
        return out
    }

    /// This process's own figures.
    public static func sampleSelf() -> ProcessSample? { sample(pid: getpid()) }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingTabs() -> Substring {
        var s = self
        while let f = s.first, f == "\t" || f == " " { s.removeFirst() }
        return s
    }
}

extension ProcessSampler {
    /// The CPUs a process may run on (`Cpus_allowed_list`, e.g. "1" or "0-1").
    public static func allowedCPUs(pid: Int32) -> String? {
        guard let s = readFile("/proc/\(pid)/status") else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return String(line.dropFirst("Cpus_allowed_list:".count).trimmingTabs())
        }
        return nil
    }
}
