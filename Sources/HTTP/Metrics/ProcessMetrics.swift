import Glibc

/// Process-wide figures read from `/proc/self` at scrape time (once per scrape, not per core),
/// with the standard Prometheus process metric names.
public enum ProcessMetrics {
    /// Adds `process_resident_memory_bytes`, `process_cpu_seconds_total`,
    /// `process_open_fds`, `process_max_fds` and `process_start_time_seconds`.
    public static func contribute(to snapshot: inout MetricsSnapshot) {
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = readSmallFile("/proc/self/statm") {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) {
                snapshot.add("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.", value: pages * pageSize)
            }
        }
        if let stat = readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22.
            let rest = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double? { n - 3 < rest.count ? Double(rest[n - 3]) : nil }
            if let user = field(14), let system = field(15), ticks > 0 {
                snapshot.add("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.", value: (user + system) / ticks)
            }
            if let start = field(22), ticks > 0, let boot = bootTime() {
                snapshot.add("process_start_time_seconds", .gauge, help: "Start time of the process since unix epoch in seconds.", value: boot + start / ticks)
            }
        }
        snapshot.add("process_open_fds", .gauge, help: "Number of open file descriptors.", value: Double(openFileDescriptors()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            snapshot.add("process_max_fds", .gauge, help: "Maximum number of open file descriptors.", value: Double(limit.rlim_cur))
        }
    }

    static func openFileDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while readdir(dir) != nil { count += 1 }
        return max(count - 3, 0)  // ".", ".." and the directory's own descriptor
    }

    static func bootTime() -> Double? {
        guard let stat = readSmallFile("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6))
        }
        return nil
    }

    static func readSmallFile(_ path: String) -> String? {
        guard let bytes = StaticFiles.readFile(path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
