/// The server's own send counters from its `/metrics` (livesfu only): datagrams sent and the
/// messages the kernel took for them (a GSO run to one viewer is one message). The kernel's
/// cost follows messages, so datagrams per message explains CPU per packet that differs
/// between streams of different frame sizes or pacing.
struct ServerSendCounters: Sendable {
    var datagrams: UInt64
    var messages: UInt64

    /// Nil when the server has no such metrics (Pion) or does not answer.
    static func sample(_ client: HTTPClient) -> ServerSendCounters? {
        guard let r = try? client.request(method: "GET", path: "/metrics"), r.status == 200 else { return nil }
        var c = ServerSendCounters(datagrams: 0, messages: 0)
        var seen = false
        for line in r.body.split(separator: "\n") {
            if line.hasPrefix("livesfu_udp_sent_packets_total{") {
                c.datagrams &+= value(line)
            } else if line.hasPrefix("livesfu_udp_send_messages_total{") {
                c.messages &+= value(line)
                seen = true
            }
        }
        return seen ? c : nil
    }

    private static func value(_ line: Substring) -> UInt64 {
        guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]), v >= 0 else { return 0 }
        return UInt64(v)
    }
}
