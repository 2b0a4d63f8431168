import Cluster
import Reactor
import SFU
import Storage

/// One core's media figures for `/metrics`, built on that core at scrape time. The Go
/// server's names are kept (`webrtc_*`); livesfu's own start with `livesfu_`.
///
/// Label values are bounded: `room` by the rooms a core holds (`RoomManagerConfiguration.maxRooms`,
/// 10 000; a client cannot add rooms beyond it), `kind` by the track kinds, `reason` and
/// `state` by fixed enumerations, `core` by the core count. Nothing is kept between scrapes.
public enum CoreMetrics {
    /// `/metrics` for the HTTP server of the core `origin`: every core's `snapshot(of:)`,
    /// built on its own core and folded on `origin`, then the process-wide recording figures
    /// (`RecordingMetrics`) once. The cores are the scraping core's `CoreContext.cores`.
    public static func gatherer(
        origin: EventLoopHandle, recordingCounters: RecordingCounters? = nil, recordings: RecordingCatalog? = nil,
        uploads: UploadCoordinator? = nil, directory: ClusterDirectory? = nil
    ) -> StandardRoutes.MetricsGatherer {
        { done in
            let handles = (EventLoop.current?.context as? CoreContext)?.cores ?? []
            MetricsGathering.acrossCores(handles: handles, origin: origin, snapshot: { snapshot(of: $0) }) { merged in
                var all = merged
                RecordingMetrics.contribute(
                    to: &all, counters: recordingCounters, catalog: recordings, uploads: uploads?.counters)
                if let directory { ClusterMetrics.contribute(to: &all, directory: directory) }
                done(all)
            }
        }
    }

    public static func snapshot(of loop: EventLoop) -> MetricsSnapshot {
        var s = MetricsSnapshot()
        guard let context = loop.context as? CoreContext else { return s }
        if let http = context.http { s.merge(http.metricsSnapshot()) }
        let rooms = context.rooms
        let snapshots = rooms.snapshot(now: loop.now)
        s.add("webrtc_rooms", .gauge, help: "Rooms open", value: Double(snapshots.filter { $0.shardOf == nil }.count))
        BandwidthMetrics.contribute(to: &s, snapshots: snapshots)
        for r in snapshots {
            let room = [("room", r.name)]
            // Summed over the cores the room's viewers are on (its shards' included).
            s.add("webrtc_subscribers", .gauge, help: "Viewers per room", labels: room, value: Double(r.viewers))
            s.add("livesfu_room_core_viewers", .gauge, help: "Viewers of a room on each core (its owner's and its shards')",
                  labels: room + [("core", "\(r.core)")], value: Double(r.viewers))
            s.add("webrtc_rtp_bytes_total", .counter, help: "RTP bytes received from publishers", labels: room,
                  value: Double(r.bytesIn))
            s.add("webrtc_rtp_packets_total", .counter, help: "RTP packets received from publishers", labels: room,
                  value: Double(r.packetsIn))
            s.add("livesfu_egress_bytes_total", .counter, help: "RTP bytes sent to viewers", labels: room,
                  value: Double(r.bytesOut))
            s.add("livesfu_egress_packets_total", .counter, help: "RTP packets sent to viewers", labels: room,
                  value: Double(r.packetsOut))
            if let rtt = r.publisher?.rttMillis {
                // Base units (seconds), as Prometheus names want: `promtool check metrics`.
                s.add("livesfu_publisher_rtt_seconds", .gauge, help: "RTT to the publisher, from its NACK round trips",
                      labels: room, value: rtt / 1000)
            }
            // A shard's publisher figures are its owner's: counted there once.
            for t in r.tracks where r.shardOf == nil {
                let labels = [("room", r.name), ("kind", t.kind)]
                s.add("livesfu_track_bitrate_bps", .gauge, help: "Publisher bitrate over the last second",
                      labels: labels, value: Double(t.bitrate))
                s.add("livesfu_keyframes_total", .counter, help: "Keyframes received from publishers",
                      labels: labels, value: Double(t.keyframes))
                s.add("livesfu_keyframe_requests_total", .counter, help: "Keyframe requests sent upstream",
                      labels: labels, value: Double(t.keyframeRequests))
                s.add("livesfu_nacks_received_total", .counter, help: "Packets viewers NACKed", labels: labels,
                      value: Double(t.nacksReceived))
                s.add("livesfu_nacks_answered_total", .counter, help: "NACKed packets resent to viewers",
                      labels: labels, value: Double(t.nacksAnswered))
                s.add("livesfu_rtx_bytes_total", .counter, help: "RTX bytes sent to viewers", labels: labels,
                      value: Double(t.rtxBytes))
                if let l = t.viewerLoss {
                    s.add("livesfu_viewer_loss_ratio", .gauge, help: "Mean viewer-reported loss", labels: labels, value: l)
                }
                if let m = t.viewerRTTMillis {
                    s.add("livesfu_viewer_rtt_seconds", .gauge, help: "Mean viewer RTT", labels: labels, value: m / 1000)
                }
            }
        }
        let c = rooms.mediaCounters
        relayFigures(into: &s, snapshots: snapshots, counters: c, edge: context.edge)
        shardFigures(into: &s, counters: c, loop: loop)
        s.add("livesfu_upstream_nacks_total", .counter, help: "NACK packets sent to publishers",
              value: Double(c.upstreamNacksSent))
        s.add("livesfu_publisher_rtx_repaired_total", .counter, help: "Publisher packets recovered by RTX",
              value: Double(c.publisherRTXRepaired))
        s.add("livesfu_twcc_feedback_total", .counter, help: "Transport-cc feedback packets sent",
              value: Double(c.transportFeedbacksSent))
        for (reason, value) in c.droppedByReason {
            s.add("livesfu_dropped_packets_total", .counter, help: "Packets dropped by the media path, by reason",
                  labels: [("reason", reason)], value: Double(value))
        }
        for (state, count) in rooms.sessionsByState {
            s.add("livesfu_sessions", .gauge, help: "Sessions by state", labels: [("state", state)],
                  value: Double(count))
        }
        for reason in PeerSession.EndReason.allCases {
            s.add("livesfu_sessions_ended_total", .counter, help: "Sessions ended, by reason",
                  labels: [("reason", reason.rawValue)], value: Double(c.sessionsEnded[reason] ?? 0))
        }
        s.add("livesfu_pli_received_total", .counter, help: "PLI/FIR received from viewers",
              value: Double(c.pliFromViewers))
        s.add("livesfu_pli_sent_total", .counter, help: "PLI sent to publishers", value: Double(c.pliSent))
        s.add(
            "livesfu_viewer_keyframe_rerequests_total", .counter,
            help: "Viewers started again: they had not received the server's DTLS Finished when media started",
            value: Double(c.viewerKeyframesReRequested))
        for (result, value) in [
            ("started", c.instantStarts), ("aborted", c.instantStartsAborted), ("unavailable", c.instantStartsUnavailable),
            ("rewound", c.instantStartRewinds), ("jumped", c.instantStartJumps),
        ] {
            s.add("livesfu_instant_starts_total", .counter,
                  help: "Connecting viewers by instant start: started from the latest keyframe in the history; aborted (the keyframe left the history first); unavailable (a keyframe was asked for instead); rewound (sent again from the keyframe: the viewer had no keys yet); jumped (moved on to a newer keyframe before it caught up)",
                  labels: [("result", result)], value: Double(value))
        }
        s.add("livesfu_layer_switches_total", .counter, help: "Simulcast: viewers moved to another layer at its keyframe",
              value: Double(c.layerSwitches))
        s.add("livesfu_layer_requests_refused_total", .counter,
              help: "Simulcast: layer requests refused (the publisher sends no simulcast, or not that RID)",
              value: Double(c.layerRequestsRefused))
        s.add("livesfu_temporal_requests_refused_total", .counter,
              help: "Temporal layers: layer requests refused for their temporal cap (not 0-3 or auto) or a malformed body",
              value: Double(c.temporalRequestsRefused))
        s.add("livesfu_nack_temporal_unmapped_total", .counter,
              help: "Temporal layers: viewer NACKs naming a number its temporal cap left unused, or too old to map back",
              value: Double(c.nackTemporalUnmapped))
        s.add("livesfu_layer_probes_total", .counter,
              help: "Simulcast: probe bursts sent to viewers on automatic to show they carry a higher layer",
              value: Double(c.layerProbes))
        s.add("livesfu_layer_probe_bytes_total", .counter, help: "Simulcast: bytes of the probe bursts",
              value: Double(c.layerProbeBytes))
        s.add("livesfu_layer_probes_up_total", .counter,
              help: "Simulcast: probe bursts that showed the higher layer fits the viewer's path",
              value: Double(c.layerProbesUp))
        s.add("livesfu_layer_downswitches_on_feedback_total", .counter,
              help: "Simulcast: viewers aimed at a lower layer from their bandwidth feedback, before the per-second check",
              value: Double(c.layerDownswitchesOnFeedback))
        s.add("livesfu_layer_probes_over_budget_total", .counter,
              help: "Simulcast: probe bursts held back by the core's probe budget",
              value: Double(c.layerProbesOverBudget))
        s.add("livesfu_instant_start_packets_total", .counter, help: "Packets sent to viewers by instant starts",
              value: Double(c.instantStartPackets))
        s.add("livesfu_instant_start_bytes_total", .counter, help: "Bytes sent to viewers by instant starts",
              value: Double(c.instantStartBytes))
        s.add("livesfu_instant_start_budget_held_back_total", .counter,
              help: "Instant-start sends held back a turn by the core's shared budget (INSTANT_START_BYTES_PER_SECOND)",
              value: Double(c.instantStartBudgetHeldBack))
        s.add("livesfu_instant_start_budget_limited_turns_total", .counter,
              help: "Turns of the instant starts that spent the core's whole budget",
              value: Double(c.instantStartBudgetLimitedTurns))
        s.add("livesfu_offers_rejected_total", .counter, help: "SDP offers that could not be served",
              value: Double(c.offersRejected))
        s.add("livesfu_setup_timeouts_total", .counter, help: "Sessions whose ICE/DTLS set-up timed out",
              value: Double(c.setupTimeouts))
        for (reason, value) in c.refusedByReason {
            s.add("livesfu_sessions_refused_total", .counter, help: "New sessions refused (503 or 429), by reason",
                  labels: [("reason", reason)], value: Double(value))
        }
        for (result, value) in [
            ("moved", c.iceAddressMoves), ("rate_limited", c.iceMovesRateLimited), ("replay_refused", c.stunReplaysRefused),
        ] {
            s.add("livesfu_ice_address_changes_total", .counter,
                  help: "Media moves to a new peer address (confirmed by a check), refused moves, replayed checks",
                  labels: [("result", result)], value: Double(value))
        }
        let r = loop.counters
        let core = [("core", "\(loop.index)")]
        s.add("livesfu_loop_utilisation", .gauge, help: "Share of time the core's loop was busy",
              labels: core, value: r.utilisation)
        s.add("livesfu_core_load_ratio", .gauge,
              help: "Share of time the core's loop was busy, smoothed over about 1 s (admission control's input)",
              labels: core, value: loop.load.busyFraction)
        s.addHistogram(
            "livesfu_loop_turn_duration_seconds", help: "Work of one event loop turn (wake to wait), per core",
            labels: core, loop.turnDurations)
        for role in [PeerSession.Role.publisher, .viewer] {
            let labels = [("role", role.rawValue)]
            s.addHistogram(
                "livesfu_session_connect_seconds",
                help: "Time from the offer to connected (ICE nominated and DTLS done), by role", labels: labels,
                rooms.lifecycle.connectSeconds(role))
            s.addHistogram(
                "livesfu_session_first_media_seconds",
                help: "Time from the offer to the first media: sent to a viewer, received from a publisher", labels: labels,
                rooms.lifecycle.firstMediaSeconds(role))
        }
        s.add("livesfu_udp_sent_packets_total", .counter, help: "UDP datagrams sent", labels: core,
              value: Double(r.udpSent))
        s.add("livesfu_udp_send_messages_total", .counter,
              help: "Messages the kernel took for those datagrams: a GSO run to one destination is one message",
              labels: core, value: Double(r.udpSendMessages))
        s.add("livesfu_udp_received_packets_total", .counter, help: "UDP datagrams received", labels: core,
              value: Double(r.udpReceived))
        s.add("livesfu_udp_send_dropped_total", .counter, help: "UDP datagrams dropped on send (queue full, ENOBUFS)",
              labels: core, value: Double(r.udpSendDropped))
        s.add("livesfu_buffer_pool_exhausted_total", .counter, help: "Times the packet buffer pool was empty",
              labels: core, value: Double(r.poolExhausted))
        for (reason, value) in [("write_stalled", r.tcpWriteStallAborts), ("write_queue_cap", r.tcpWriteCapAborts)] {
            s.add("livesfu_tcp_connections_aborted_total", .counter,
                  help: "TCP connections aborted: output not read for the write-stall timeout, or over the queue cap",
                  labels: core + [("reason", reason)], value: Double(value))
        }
        s.add("livesfu_tcp_write_queue_peak_bytes", .gauge,
              help: "Largest output queue one TCP connection of the core has held", labels: core,
              value: Double(r.tcpWriteQueuePeakBytes))
        return s
    }
    /// One room on every core: the shards and what crossed between cores; each ring's depth,
    /// messages and drops, reported by the core that reads it.
    static func shardFigures(into s: inout MetricsSnapshot, counters c: RoomCounters, loop: EventLoop) {
        let core = [("core", "\(loop.index)")]
        s.add("livesfu_shards_opened_total", .counter, help: "Rooms of this core that spread viewers to another core (one per core)",
              labels: core, value: Double(c.shardsOpened))
        for (direction, value) in [("out", c.shardPacketsOut), ("in", c.shardPacketsIn)] {
            s.add("livesfu_shard_packets_total", .counter,
                  help: "Packets handed between cores for rooms on several cores: out (owner to shards, one per shard core) and in (read by shards)",
                  labels: core + [("direction", direction)], value: Double(value))
        }
        s.add("livesfu_shard_keyframe_requests_total", .counter, help: "Keyframe requests from shards taken by the room's owner",
              labels: core, value: Double(c.shardKeyframeRequestsIn))
        for ring in loop.rings?.inbound(to: loop.index) ?? [] {
            let pair = [("from", "\(ring.from)"), ("to", "\(ring.to)")]
            s.add("livesfu_core_ring_depth_bytes", .gauge, help: "Bytes waiting in a ring between two cores", labels: pair,
                  value: Double(ring.depthBytes))
            s.add("livesfu_core_ring_messages_total", .counter, help: "Messages written to a ring between two cores", labels: pair,
                  value: Double(ring.messages))
            s.add("livesfu_core_ring_drops_total", .counter, help: "Messages refused by a full ring between two cores (that core missed them)",
                  labels: pair, value: Double(ring.drops))
        }
    }

    /// Edge relays (`CLUSTER_MODE=edge`) and, on an origin, the relays it serves.
    static func relayFigures(into s: inout MetricsSnapshot, snapshots: [RoomSnapshot], counters c: RoomCounters, edge: EdgeRelays?) {
        s.add("livesfu_relay_viewers", .gauge, help: "Edge nodes' relay sessions this node serves as an origin",
              value: Double(snapshots.reduce(0) { $0 + $1.relayViewers.count }))
        guard let edge else { return }
        s.add("livesfu_relay_sessions", .gauge, help: "Rooms this edge relays from their origin, connected",
              value: Double(edge.connectedCount))
        s.add("livesfu_relay_bytes_total", .counter, help: "RTP bytes received over edge relays", value: Double(c.relayBytesIn))
        s.add("livesfu_relay_packets_total", .counter, help: "RTP packets received over edge relays",
              value: Double(c.relayPacketsIn))
        s.add("livesfu_relay_reconnects_total", .counter, help: "Edge relays set up again after one ended or failed",
              value: Double(edge.reconnects))
        for (result, n) in [("ok", edge.setupsSucceeded), ("failed", edge.setupsFailed), ("given_up", edge.givenUp)] {
            s.add("livesfu_relay_setups_total", .counter, help: "Edge relay set-ups (WHEP exchanges with origins) by result",
                  labels: [("result", result)], value: Double(n))
        }
    }
}
