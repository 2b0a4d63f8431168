import ArgumentParser
import Glibc
import Reactor
import SFU

/// `livesfu-load`: one publisher per room over WHIP, N viewers over WHEP with real ICE,
/// DTLS and SRTP, and a report of what they received.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livesfu-load",
        abstract: "WebRTC load generator for WHIP/WHEP servers (livesfu, or any full-ICE server such as Pion).",
        discussion: """
            One publisher per room sends a synthetic VP8 stream (frame-sized bursts, periodic keyframes) \
            and Opus-like audio; viewers join over WHEP at --join-rate, each with its own UDP socket, ICE, \
            DTLS and SRTP. Every viewer counts packets from the clear RTP header; a sample (--verify-sample) \
            also decrypts and reads the publisher's send stamp for one-way latency. Exits 1 when a \
            threshold is missed, 2 on a setup error.
            """)

    @Option(help: "Server base URL.") var server = "http://127.0.0.1:8080"
    @Option(name: .customLong("viewer-server"), help: ArgumentHelp(
        "Viewers play from this server instead (repeat it: viewer i goes to the (i mod n)-th); publishers stay on --server.",
        discussion: "For a cluster: publisher on the origin, viewers on the origin and on edges, interleaved; the report gives each server's viewers' packets and steady latency."))
    var viewerServers: [String] = []
    @Option(name: .customLong("node-pid"), help: "A cluster node's pid (repeatable): its CPU time in the steady window is reported (per-thread run time, ns).")
    var nodePids: [Int32] = []
    @Option(help: "A label for the report (livesfu, pion, …).") var target = "livesfu"
    @Option(help: "Room name (with --rooms > 1: the prefix, rooms are <room>-<i>).") var room = "load"
    @Option(help: "Rooms, one publisher each; viewers are spread over them.") var rooms = 1
    @Option(help: "Viewers in total.") var viewers = 10
    @Option(help: "Viewers started per second (0: all at once, a burst).") var joinRate: Double = 200
    @Option(help: "Seconds of media after the last viewer started joining.") var duration: Double = 10
    @Option(help: "Video bitrate in bit/s (k and M suffixes work).") var videoBitrate = "2M"
    @Option(help: "Video frames per second.") var fps = 30
    @Option(help: "Seconds between keyframes (0: only on request).") var keyframeInterval: Double = 2
    @Option(help: "Keyframe size as a multiple of a delta frame.") var keyframeRatio = 8
    @Option(help: ArgumentHelp(
        "Pace video at this multiple of its bitrate, as a WebRTC sender's pacer does (libwebrtc: 2.5); 0 sends each frame as one burst.",
        discussion: "Paced packets are stamped when they leave the pacer, so latency figures stay the server's."))
    var pacing: Double = 0
    @Option(help: ArgumentHelp(
        "With --pacing: sending the pacer may do in one burst, in ms at its rate (libwebrtc's pacer: 40; 0 spaces every packet).",
        discussion: "libwebrtc's PacingController sends up to 40 ms of its rate at once (kDefaultBurstInterval): a headless Chromium publisher's delta frames reach the server whole (a frame's packets 0.13 ms apart at the median, perf/RESULTS.md)."))
    var pacingBurstMs = 40
    @Option(help: ArgumentHelp(
        "Publish this many simulcast layers (2-4; 0: one layer), as a browser with sendEncodings: RIDs r0 (best), r1, …",
        discussion: "Each layer is its own unsignalled SSRC carrying the RID extension, with its own keyframes and a quarter of the bitrate of the one above (full, 1/4, 1/16 of --video-bitrate), VP8 picture IDs in every descriptor."))
    var simulcast = 0
    @Flag(help: "With --simulcast: viewer i asks for layer i mod layers once connected (POST /api/session/{room}/{id}/layer).")
    var spreadLayers = false
    @Flag(help: "Send no audio.") var noAudio = false
    @Option(help: "Replay this VP8 IVF file (looped, at --fps) instead of the synthetic video.") var ivf: String?
    @Option(help: "Fraction of viewers that decrypt every packet and measure latency (at least one).") var verifySample: Double = 0.1
    @Option(help: "Event loops for the viewers (publishers have their own loop).") var loops = 1
    @Option(help: "Pin every thread of the load generator to this CPU.") var cpu: Int?
    @Option(help: "The server's pid, to report its CPU time and RSS from /proc.") var serverPid: Int32?
    @Option(help: "Write the final report as JSON to this file.") var json: String?
    @Option(help: "Threads for the HTTP signalling requests.") var httpConcurrency = 8
    @Option(help: "WHIP path template.") var whipPath = "/api/whip/publish/{room}"
    @Option(help: "WHEP path template.") var whepPath = "/api/whep/play/{room}"
    @Flag(help: "Viewers send no NACK for gaps.") var noNack = false
    @Flag(help: "Viewers send no PLI on join.") var noPli = false
    @Option(help: "Times a viewer refused with 503 + Retry-After offers again after that wait, as a WHEP client may (0: never).")
    var retryRefused = 0
    @Flag(help: "Receive with UDP_GRO.") var gro = false
    @Option(help: "Event loop backend: epoll or iouring.") var backend = "epoll"
    @Option(help: "Local IP the client sockets bind to.") var bind = "127.0.0.1"
    @Option(help: "Seconds to let the publishers' media flow before viewers join.") var settle: Double = 1
    @Flag(help: "No per-second lines.") var quiet = false
    @Flag(help: "Viewers join before the publishers (a server should still give them media).") var viewersFirst = false
    @Flag(help: "Check the load generator's own pure parts (no server needed) and exit.") var selfTest = false

    @Option(help: "Fail if overall delivery (received/expected) is below this, e.g. 0.999.") var minDelivery: Double?
    @Option(help: "Fail if the steady-state p99 one-way latency (after every viewer joined) exceeds this (ms).") var maxP99LatencyMs: Double?
    @Option(help: "Fail if the join span (first POST → last viewer's first packet) exceeds this (s).") var maxJoinSeconds: Double?
    @Option(help: "Viewers allowed to fail.") var maxFailed = 0
    @Option(help: "Viewers allowed to stall (no media in the run's last second).") var maxStalled = 0

    static func parseRate(_ s: String) -> Int? {
        var t = Substring(s)
        var mult = 1.0
        if t.hasSuffix("M") || t.hasSuffix("m") { mult = 1e6; t = t.dropLast() }
        else if t.hasSuffix("k") || t.hasSuffix("K") { mult = 1e3; t = t.dropLast() }
        guard let v = Double(t), v > 0 else { return nil }
        return Int(v * mult)
    }

    func validate() throws {
        guard Self.parseRate(videoBitrate) != nil else { throw ValidationError("--video-bitrate: a number like 2000000, 2M or 500k") }
        guard viewers >= 0, rooms >= 1, loops >= 1, fps >= 1, fps <= 120 else { throw ValidationError("counts must be positive") }
        guard verifySample >= 0, verifySample <= 1 else { throw ValidationError("--verify-sample is a fraction in 0...1") }
        guard backend == "epoll" || backend == "iouring" else { throw ValidationError("--backend is epoll or iouring") }
        guard pacing == 0 || pacing >= 1 else { throw ValidationError("--pacing is 0 (bursts) or a factor ≥ 1") }
        guard (0...1000).contains(pacingBurstMs) else { throw ValidationError("--pacing-burst-ms is 0…1000") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard simulcast == 0 || (2...LoadCounters.maxLayers).contains(simulcast) else {
            throw ValidationError("--simulcast is 0 (one layer) or 2...\(LoadCounters.maxLayers) layers")
        }
        guard simulcast == 0 || ivf == nil else { throw ValidationError("--simulcast sends synthetic video; not with --ivf") }
        guard !spreadLayers || simulcast > 0 else { throw ValidationError("--spread-layers needs --simulcast") }
    }

    func run() throws {
        if selfTest {
            if !SelfTest.run() { throw ExitCode(1) }
            return
        }
        let runner: LoadRunner
        do { runner = try LoadRunner(self) } catch {
            print("livesfu-load: setup failed: \(error)")
            throw ExitCode(2)
        }
        let report = runner.run()
        print(report.text, terminator: "")
        if let json {
            if !LoadRunner.write(report.json, to: json) {
                print("livesfu-load: cannot write \(json)")
                throw ExitCode(2)
            }
        }
        if !report.misses.isEmpty { throw ExitCode(1) }
    }
}
