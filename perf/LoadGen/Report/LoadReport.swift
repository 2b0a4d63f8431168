import SFU

/// A run's final figures, printed for people and written as JSON.
public struct LoadReport: Sendable {
    public var target: String
    public var server: String
    public var rooms: Int
    public var publishersWanted: Int
    public var viewersWanted: Int
    public var verifySample: Double
    public var verifiedViewers: Int
    public var durationSeconds: Double
    public var videoBitrate: Int
    public var fps: Int
    public var counters: LoadCounters
    /// First viewer POST to the last viewer's first media packet.
    public var joinSpanSeconds: Double
    public var stalledViewers: Int
    public var serverStart: ProcessSample?
    public var serverEnd: ProcessSample?
    public var serverPeakRSS: UInt64
    public var selfEnd: ProcessSample?
    public var loadCPU: String
    public var serverCPU: String
    public var misses: [String] = []
    /// The server after the publishers connected, before any viewer: the base for memory per viewer.
    public var serverBeforeViewers: ProcessSample? = nil
    /// The steady-state window (all viewers started, media flowing).
    public struct Steady: Sendable {
        public var seconds: Double
        public var serverCPUSeconds: Double
        /// Packets the viewers received in the window (a board copy is up to 1 s old at
        /// each end; both ends are equally old).
        public var packetsReceived: UInt64
        /// Their bytes (SRTP packets as received), for a per-byte figure when packet sizes differ.
        public var bytesReceived: UInt64 = 0
        /// The server's datagrams and send messages in the window (livesfu's `/metrics`).
        var serverSends: ServerSendCounters? = nil
        public var cpuFraction: Double { serverCPUSeconds / max(seconds, 0.001) }
        public var microsecondsPerPacket: Double {
            packetsReceived > 0 ? serverCPUSeconds * 1e6 / Double(packetsReceived) : 0
        }
    }
    public var steady: Steady? = nil
    /// Several servers (`--viewer-server`, `--node-pid`): the steady window per server and node.
    var cluster: ClusterWindow? = nil
    /// Simulcast layers the publishers sent (0: one layer), and whether viewers were spread.
    public var simulcastLayers = 0
    public var spreadLayers = false
    /// Viewers the server did not refuse (503): the ones memory per viewer is spread over.
    var viewersAdmitted: Int { max(0, viewersWanted - Int(counters.viewersRefused)) }
    /// The load generator's own CPU use in the steady window (1.0 = its whole core).
    public var loadSteadyCPUFraction: Double? = nil

    var serverCPUSeconds: Double? {
        guard let a = serverStart, let b = serverEnd else { return nil }
        return b.cpuSeconds - a.cpuSeconds
    }

    static func phase(_ h: LatencyHistogram) -> String {
        h.count == 0 ? "-" :
            "p50 \(Format.ms(h.value(atQuantile: 0.5))) p95 \(Format.ms(h.value(atQuantile: 0.95))) max \(Format.ms(h.maxValue)) ms (n=\(h.count))"
    }

    static func phaseJSON(_ h: LatencyHistogram, into o: inout JSONWriter) {
        o.beginObject()
        o.field("count", h.count)
        o.field("p50_ms", Double(h.value(atQuantile: 0.5)) / 1e6, decimals: 6)
        o.field("p95_ms", Double(h.value(atQuantile: 0.95)) / 1e6, decimals: 6)
        o.field("max_ms", Double(h.count > 0 ? h.maxValue : 0) / 1e6, decimals: 6)
        o.endObject()
    }

    /// "p50 … p99 … max … ms" of a one-way latency histogram (the max left out on request).
    static func latencyText(_ h: LatencyHistogram, withMax: Bool = true) -> String {
        "p50 \(Format.ms(h.value(atQuantile: 0.5))) p99 \(Format.ms(h.value(atQuantile: 0.99)))"
            + (withMax ? " max \(Format.ms(h.maxValue))" : "") + " ms"
    }

    /// `p50_ms`, `p99_ms` and `max_ms` of a one-way latency histogram (the max left out on request).
    static func latencyJSON(_ h: LatencyHistogram, withMax: Bool = true, into o: inout JSONWriter) {
        o.field("p50_ms", h.milliseconds(atQuantile: 0.5), decimals: 6)
        o.field("p99_ms", h.milliseconds(atQuantile: 0.99), decimals: 6)
        if withMax { o.field("max_ms", Double(h.maxValue) / 1e6, decimals: 6) }
    }

    public var text: String {
        let c = counters
        var s = "== livesfu-load report (\(target) at \(server)) ==\n"
        s += "load: \(rooms) room(s), \(publishersWanted) publisher(s), \(viewersWanted) viewer(s), \(Format.fixed(durationSeconds, 1)) s of media, video \(Format.fixed(Double(videoBitrate) / 1e6, 2)) Mbps @ \(fps) fps + Opus-like audio 50 pkt/s\n"
        s += "pinning: server \(serverCPU), load generator \(loadCPU)\n"
        s += "viewers: connected \(c.viewersDTLSConnected), with media \(c.viewersWithMedia), with keyframe \(c.viewersWithKeyframe), failed \(c.viewersFailed), refused (503) \(c.viewersRefused) (offers retried after a 503: \(c.refusalsRetried)), stalled \(stalledViewers)\n"
        s += "join span: \(Format.fixed(joinSpanSeconds, 3)) s (first POST to last viewer's first packet)\n"
        s += "join  http answer:    \(Self.phase(c.joinHTTP))\n"
        s += "      ice connected:  \(Self.phase(c.joinICE))\n"
        s += "      dtls connected: \(Self.phase(c.joinDTLS))\n"
        s += "      first packet:   \(Self.phase(c.joinFirstPacket))\n"
        s += "      first keyframe: \(Self.phase(c.joinFirstKeyframe))\n"
        s += "packets: expected \(c.expected) received \(c.received) lost \(c.lost) duplicates \(c.duplicates) → delivery \(Format.fixed(c.deliveryRatio * 100, 4))%\n"
        let worst = c.viewerDelivery.min() ?? 0
        let below = c.viewerDelivery.filter { $0 < 0.999 }.count
        s += "per viewer: worst delivery \(Format.fixed(worst * 100, 3))%, viewers below 99.9%: \(below)\n"
        s += "latency (one-way, \(verifiedViewers) verified viewers = \(Format.fixed(verifySample * 100, 1))% sample, \(c.latency.count) packets): \(Self.latencyText(c.latency))\n"
        s += "latency, steady state (after every viewer joined, \(c.latencySteady.count) packets): \(Self.latencyText(c.latencySteady))\n"
        s += "  (arrival = the kernel's receive time on the viewer's socket; up to when the load tool processed them: \(Self.latencyText(c.latencySteadyProcessed, withMax: false)))\n"
        s += "jitter: mean \(Format.fixed(c.jitterSamples > 0 ? c.jitterSumMs / Double(c.jitterSamples) : 0, 3)) ms, max \(Format.fixed(c.jitterMaxMs, 3)) ms; srtp verified \(c.srtpVerified) failures \(c.srtpFailures)\n"
        s += "rtcp sent by viewers: NACK \(c.nacksSent) (\(c.nackedPackets) packets), PLI \(c.plisSent), RR \(c.receiverReportsSent)\n"
        s += "publisher: sent \(c.publisherPacketsSent) packets, \(Format.mib(c.publisherBytesSent)) MiB, keyframes \(c.publisherKeyframes), PLI received \(c.publisherPLIsReceived), NACK received \(c.publisherNACKsReceived) (packets resent \(c.publisherRetransmissions))\n"
        if simulcastLayers > 0 {
            let perLayer = c.publisherLayerKeyframeRequests.prefix(simulcastLayers).map(String.init).joined(separator: "/")
            s += "simulcast: \(simulcastLayers) layers (r0 best … r\(simulcastLayers - 1)); keyframe requests per layer \(perLayer)"
            s += spreadLayers ? "; viewers spread over the layers: layer requests ok \(c.layerRequestsOK), failed \(c.layerRequestsFailed)\n" : "\n"
        }
        if let cpu = serverCPUSeconds, let e = serverEnd {
            s += "server: CPU \(Format.fixed(cpu, 2)) s over the run (\(Format.fixed(cpu / max(durationSeconds, 0.001) * 100, 1))% of a core), RSS \(Format.mib(e.rssBytes)) MiB (start \(Format.mib(serverStart?.rssBytes ?? 0)) MiB, peak seen \(Format.mib(serverPeakRSS)) MiB)\n"
            if viewersAdmitted > 0, let st = serverBeforeViewers ?? serverStart, e.rssBytes > st.rssBytes {
                s += "server: RSS per viewer ≈ \(Format.fixed(Double(e.rssBytes - st.rssBytes) / Double(viewersAdmitted) / 1024, 1)) KiB (RSS growth from before the first viewer to the end, over the \(viewersAdmitted) viewers not refused)\n"
            }
            if let w = steady {
                s += "server steady state (\(Format.fixed(w.seconds, 1)) s): CPU \(Format.fixed(w.cpuFraction * 100, 1))% of a core, \(Format.fixed(Double(w.packetsReceived) / max(w.seconds, 0.001) / 1000, 1))k packets/s delivered, \(Format.fixed(w.microsecondsPerPacket, 2)) µs CPU per delivered packet\n"
                if let d = w.serverSends, d.messages > 0 {
                    s += "server sends in the steady state: \(d.datagrams) datagrams in \(d.messages) messages, \(Format.fixed(Double(d.datagrams) / Double(d.messages), 2)) per message (GSO runs)\n"
                }
            }
        } else {
            s += "server: not sampled (give --server-pid)\n"
        }
        if let cluster { s += cluster.text }
        s += "sessions ended: DELETE ok \(c.deletesOK), failed \(c.deletesFailed), answers without Location \(c.missingLocation)\n"
        if let me = selfEnd {
            let steadyText = loadSteadyCPUFraction.map { ", \(Format.fixed($0 * 100, 1))% of a core in the steady state" } ?? ""
            s += "load generator: CPU \(Format.fixed(me.cpuSeconds, 2)) s\(steadyText), RSS \(Format.mib(me.rssBytes)) MiB\n"
        }
        if let f = loadSteadyCPUFraction, f > 0.85 {
            s += "warning: the load generator used \(Format.fixed(f * 100, 0))% of its core: latency and loss may be its own, not the server's\n"
        }
        if c.sendDropped > 0 { s += "warning: \(c.sendDropped) sends dropped by the load generator's own queues\n" }
        for f in c.failures.prefix(5) { s += "failure: \(f)\n" }
        if misses.isEmpty { s += "RESULT: PASS\n" } else {
            for m in misses { s += "miss: \(m)\n" }
            s += "RESULT: FAIL\n"
        }
        return s
    }

    public var json: String {
        let c = counters
        var o = JSONWriter()
        o.beginObject()
        o.field("target", target)
        o.field("server", server)
        o.field("rooms", rooms)
        o.field("publishers", publishersWanted)
        o.field("viewers", viewersWanted)
        o.field("duration_s", durationSeconds, decimals: 6)
        o.field("video_bitrate", videoBitrate)
        o.field("fps", fps)
        o.field("verify_sample", verifySample, decimals: 6)
        o.field("verified_viewers", verifiedViewers)
        o.field("server_cpu", serverCPU)
        o.field("load_cpu", loadCPU)
        o.key("viewers_state")
        o.beginObject()
        o.field("connected", c.viewersDTLSConnected)
        o.field("with_media", c.viewersWithMedia)
        o.field("with_keyframe", c.viewersWithKeyframe)
        o.field("failed", c.viewersFailed)
        o.field("refused", c.viewersRefused)
        o.field("refusals_retried", c.refusalsRetried)
        o.field("stalled", stalledViewers)
        o.endObject()
        o.key("join")
        o.beginObject()
        o.field("span_s", joinSpanSeconds, decimals: 6)
        o.key("http_answer")
        Self.phaseJSON(c.joinHTTP, into: &o)
        o.key("ice_connected")
        Self.phaseJSON(c.joinICE, into: &o)
        o.key("dtls_connected")
        Self.phaseJSON(c.joinDTLS, into: &o)
        o.key("first_packet")
        Self.phaseJSON(c.joinFirstPacket, into: &o)
        o.key("first_keyframe")
        Self.phaseJSON(c.joinFirstKeyframe, into: &o)
        o.endObject()
        o.key("packets")
        o.beginObject()
        o.field("expected", c.expected)
        o.field("received", c.received)
        o.field("lost", c.lost)
        o.field("duplicates", c.duplicates)
        o.field("delivery", c.deliveryRatio, decimals: 6)
        o.field("worst_viewer_delivery", c.viewerDelivery.min() ?? 0, decimals: 6)
        o.field("viewers_below_99_9", c.viewerDelivery.filter { $0 < 0.999 }.count)
        o.field("video_expected", c.videoExpected)
        o.field("video_received", c.videoReceived)
        o.field("audio_expected", c.audioExpected)
        o.field("audio_received", c.audioReceived)
        o.endObject()
        o.key("latency")
        o.beginObject()
        o.field("samples", c.latency.count)
        Self.latencyJSON(c.latency, into: &o)
        o.field("jitter_mean_ms", c.jitterSamples > 0 ? c.jitterSumMs / Double(c.jitterSamples) : 0, decimals: 6)
        o.field("jitter_max_ms", c.jitterMaxMs, decimals: 6)
        o.key("steady")
        o.beginObject()
        o.field("samples", c.latencySteady.count)
        Self.latencyJSON(c.latencySteady, into: &o)
        o.endObject()
        o.key("steady_processed")
        o.beginObject()
        Self.latencyJSON(c.latencySteadyProcessed, withMax: false, into: &o)
        o.endObject()
        o.endObject()
        o.key("rtcp")
        o.beginObject()
        o.field("nacks_sent", c.nacksSent)
        o.field("nacked_packets", c.nackedPackets)
        o.field("plis_sent", c.plisSent)
        o.field("receiver_reports_sent", c.receiverReportsSent)
        o.field("srtp_verified", c.srtpVerified)
        o.field("srtp_failures", c.srtpFailures)
        o.endObject()
        o.key("publisher")
        o.beginObject()
        o.field("packets_sent", c.publisherPacketsSent)
        o.field("bytes_sent", c.publisherBytesSent)
        o.field("keyframes", c.publisherKeyframes)
        o.field("plis_received", c.publisherPLIsReceived)
        o.field("nacks_received", c.publisherNACKsReceived)
        o.field("retransmissions", c.publisherRetransmissions)
        o.field("simulcast_layers", simulcastLayers)
        if simulcastLayers > 0 {
            for i in 0..<simulcastLayers { o.field("keyframe_requests_r\(i)", c.publisherLayerKeyframeRequests[i]) }
            o.field("layer_requests_ok", c.layerRequestsOK)
            o.field("layer_requests_failed", c.layerRequestsFailed)
        }
        o.endObject()
        o.key("server_process")
        o.beginObject()
        if let cpu = serverCPUSeconds, let e = serverEnd {
            o.field("cpu_seconds", cpu, decimals: 6)
            o.field("cpu_fraction", cpu / max(durationSeconds, 0.001), decimals: 6)
            o.field("rss_bytes", e.rssBytes)
            o.field("rss_start_bytes", serverStart?.rssBytes ?? 0)
            o.field("rss_peak_bytes", serverPeakRSS)
            if let b = serverBeforeViewers {
                o.field("rss_before_viewers_bytes", b.rssBytes)
                if viewersAdmitted > 0 && e.rssBytes > b.rssBytes {
                    o.field("rss_per_viewer_bytes", Double(e.rssBytes - b.rssBytes) / Double(viewersAdmitted), decimals: 6)
                }
            }
            if let w = steady {
                o.field("steady_seconds", w.seconds, decimals: 6)
                o.field("steady_cpu_fraction", w.cpuFraction, decimals: 6)
                o.field("steady_packets_per_second", Double(w.packetsReceived) / max(w.seconds, 0.001), decimals: 6)
                o.field("steady_us_per_packet", w.microsecondsPerPacket, decimals: 6)
                o.field("steady_bytes_received", w.bytesReceived)
                if let d = w.serverSends {
                    o.field("steady_datagrams_sent", d.datagrams)
                    o.field("steady_send_messages", d.messages)
                }
            }
        }
        o.endObject()
        if let me = selfEnd {
            o.key("load_process")
            o.beginObject()
            o.field("cpu_seconds", me.cpuSeconds, decimals: 6)
            o.field("rss_bytes", me.rssBytes)
            if let f = loadSteadyCPUFraction { o.field("steady_cpu_fraction", f, decimals: 6) }
            o.endObject()
        }
        o.field("deletes_ok", c.deletesOK)
        o.field("deletes_failed", c.deletesFailed)
        o.field("missing_location", c.missingLocation)
        o.field("failures", c.failures)
        if let cluster {
            o.key("cluster")
            cluster.write(to: &o)
        }
        o.field("misses", misses)
        o.field("pass", misses.isEmpty)
        o.endObject()
        return o.text + "\n"
    }
}
