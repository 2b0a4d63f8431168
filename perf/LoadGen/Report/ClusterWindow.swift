import Glibc
import SFU

/// What a run against several servers (a cluster: `--viewer-server`, `--node-pid`) adds to the
/// report: per viewer server, the packets its viewers got in the steady window and their
/// steady one-way latency; per node process, its CPU time in that window (from the kernel's
/// per-thread run time, nanoseconds, not the 10 ms ticks of `/proc/<pid>/stat`); and the
/// publisher's packets in the window (what a relay carries).
struct ClusterWindow {
    struct Server {
        var url: String
        var viewers: Int
        var packets: UInt64
        var latency: LatencyHistogram
    }

    struct Node {
        var pid: Int32
        var cpuSeconds: Double
    }

    var seconds: Double
    var publisherPackets: UInt64
    var servers: [Server]
    var nodes: [Node]

    var text: String {
        var s = "cluster steady window (\(Format.fixed(seconds, 1)) s), publisher sent \(publisherPackets) packets:\n"
        for v in servers {
            s += "  viewers on \(v.url) (\(v.viewers)): \(v.packets) packets, latency (\(v.latency.count) samples) \(LoadReport.latencyText(v.latency))\n"
        }
        for n in nodes {
            s += "  node pid \(n.pid): CPU \(Format.fixed(n.cpuSeconds * 1000, 1)) ms (\(Format.fixed(n.cpuSeconds / max(seconds, 0.001) * 100, 1))% of a core)\n"
        }
        return s
    }

    func write(to o: inout JSONWriter) {
        o.beginObject()
        o.field("seconds", seconds, decimals: 6)
        o.field("publisher_packets", publisherPackets)
        o.key("servers")
        o.beginArray()
        for v in servers {
            o.beginObject()
            o.field("url", v.url)
            o.field("viewers", v.viewers)
            o.field("packets", v.packets)
            o.field("latency_samples", v.latency.count)
            LoadReport.latencyJSON(v.latency, into: &o)
            o.endObject()
        }
        o.endArray()
        o.key("nodes")
        o.beginArray()
        for n in nodes {
            o.beginObject()
            o.field("pid", Int(n.pid))
            o.field("cpu_seconds", n.cpuSeconds, decimals: 9)
            o.endObject()
        }
        o.endArray()
        o.endObject()
    }

    /// A process's CPU time in seconds: the sum of its threads' run time
    /// (`/proc/<pid>/task/*/schedstat`, first field, ns); nil if it cannot be read.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let dir = opendir("/proc/\(pid)/task") else { return nil }
        defer { closedir(dir) }
        var total: UInt64 = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let tid = Int32(name),
                let line = ProcessSampler.readFile("/proc/\(pid)/task/\(tid)/schedstat"),
                let first = line.split(separator: " ").first, let ns = UInt64(first)
            else { continue }
            total &+= ns
        }
        return Double(total) / 1e9
    }
}
