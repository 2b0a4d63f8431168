import Glibc
import HTTP
import Logging
import Reactor
import SFU
import Storage
import Synchronization
import Telemetry

/// SIGTERM/SIGINT. The first signal (read by core 0's signalfd) flips `drain` — `/healthz`
/// and new offers answer 503 from then on — and wakes the main thread, which runs `drain(…)`:
/// every core ends its sessions with an RTCP BYE and a DTLS close_notify and finishes its
/// recordings (a job on its mailbox; the results come back through atomics, no lock), the
/// writer completes the files, uploads go on for what is left of `timeout`, then the cores
/// stop and the process exits 0. A watchdog exits with status 1 at the deadline should
/// anything hang; a second signal exits at once, also with status 1.
final class GracefulShutdown: Sendable {
    let drain: DrainState
    let timeout: Duration
    let logger: Logger
    /// The main thread sleeps in a read of `wakeRead` until a signal (or a failed start)
    /// writes one byte to `wakeWrite`: 1 = drain, 0 = stop without draining.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let signalNumber = Atomic<Int32>(0)

    init(timeout: Duration, logger: Logger) throws {
        drain = DrainState()
        self.timeout = timeout
        self.logger = logger
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ConfigurationError.invalid("SHUTDOWN_TIMEOUT_SECONDS", "cannot make the shutdown pipe (errno \(errno))")
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    /// Core 0's signalfd callback.
    func signal(_ number: Int32) {
        switch drain.signalReceived() {
        case .drain:
            signalNumber.store(number, ordering: .relaxed)
            wake(1)
        case .exitNow:
            logger.critical("second stop signal: exiting at once", metadata: ["signal": "\(Self.name(number))"])
            _exit(1)
        }
    }

    /// Stops without a drain (a core could not listen at start).
    func fail() { wake(0) }

    private func wake(_ byte: UInt8) {
        var b = byte
        _ = write(wakeWrite, &b, 1)
    }

    /// Blocks the calling (main) thread until a stop signal or `fail`; true for a signal.
    func waitForRequest() -> Bool {
        var b: UInt8 = 0
        while true {
            let n = read(wakeRead, &b, 1)
            if n == 1 { return b == 1 }
            if n < 0, errno == EINTR { continue }
            return false
        }
    }

    /// The drain, on the main thread; returns once the cores have stopped.
    func drain(group: ReactorGroup, recording: RecordingService?, tracer: Tracer?) {
        let start = Instant.now()
        let deadline = start + timeout
        startWatchdog(deadline: deadline)
        logger.notice(
            "draining: new sessions are refused, /healthz answers 503",
            metadata: [
                "signal": "\(Self.name(signalNumber.load(ordering: .relaxed)))",
                "timeoutSeconds": "\(timeout.nanoseconds / 1_000_000_000)",
            ])

        let tally = DrainTally()
        for handle in group.handles {
            let posted = handle.execute { (loop: EventLoop) in
                tally.add((loop.context as? CoreContext)?.rooms.drain(now: loop.now) ?? DrainSummary())
            }
            if !posted { tally.add(DrainSummary()) }
        }
        // The cores answer within a loop turn; the BYEs and close_notifies leave at its end.
        while tally.answered < group.count, Instant.now() < deadline { usleep(1000) }
        let s = tally.summary
        logger.notice(
            "drained",
            metadata: [
                "rooms": "\(s.rooms)", "publishers": "\(s.publishers)", "viewers": "\(s.viewers)",
                "rtcpBye": "\(s.byesSent)", "recordingsFinished": "\(s.recordingsFinished)",
                "coresAnswered": "\(tally.answered)/\(group.count)",
            ])

        if let recording {
            // The writer completes the files; uploads get what is left, less a second for
            // the cores to stop and the process to exit. What is cut off resumes at the next
            // start (its state is in the sidecars).
            let reserve = Duration.seconds(1)
            recording.writer.stop(timeout: Self.remaining(until: deadline, less: reserve))
            let grace = Self.remaining(until: deadline, less: reserve)
            recording.uploads?.stop(grace: .nanoseconds(Int64(grace.nanoseconds)))
            let u = recording.uploads?.counters
            logger.notice(
                "recordings closed",
                metadata: [
                    "uploaded": "\(u?.uploaded ?? 0)", "interrupted": "\(u?.interrupted ?? 0)",
                    "failed": "\(u?.failed ?? 0)",
                ])
        }
        if let tracer {
            // The sessions' ends were queued by the drain: their spans go out now.
            let flushed = tracer.shutdown(timeout: Self.remaining(until: deadline, less: .milliseconds(500)))
            logger.notice(
                "traces flushed",
                metadata: ["complete": "\(flushed)", "spans": "\(tracer.exportedSpans)", "dropped": "\(tracer.droppedMessages)"])
        }
        group.stop()
        group.wait()
        logger.notice("livesfu stopped", metadata: ["drainMillis": "\((Instant.now() - start).milliseconds)"])
    }

    /// Time left until `deadline`, less `reserve` (zero when none is left).
    static func remaining(until deadline: Instant, less reserve: Duration) -> Duration {
        let now = Instant.now() + reserve
        return deadline > now ? deadline - now : .seconds(0)
    }

    /// Exits with status 1 at `deadline` if the drain has not finished by then.
    private func startWatchdog(deadline: Instant) {
        let logger = self.logger
        _ = try? OSThread.spawn {
            while Instant.now() < deadline { usleep(50_000) }
            logger.critical("shutdown did not finish within SHUTDOWN_TIMEOUT_SECONDS: exiting")
            _exit(1)
        }
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        default: return "\(signal)"
        }
    }
}

/// The cores' drain results, added up lock-free as each core answers.
private final class DrainTally: Sendable {
    private let rooms = Atomic<Int>(0)
    private let publishers = Atomic<Int>(0)
    private let viewers = Atomic<Int>(0)
    private let byes = Atomic<Int>(0)
    private let recordings = Atomic<Int>(0)
    private let cores = Atomic<Int>(0)

    func add(_ s: DrainSummary) {
        rooms.add(s.rooms, ordering: .relaxed)
        publishers.add(s.publishers, ordering: .relaxed)
        viewers.add(s.viewers, ordering: .relaxed)
        byes.add(s.byesSent, ordering: .relaxed)
        recordings.add(s.recordingsFinished, ordering: .relaxed)
        cores.add(1, ordering: .releasing)
    }

    var answered: Int { cores.load(ordering: .acquiring) }

    var summary: DrainSummary {
        var s = DrainSummary()
        s.rooms = rooms.load(ordering: .relaxed)
        s.publishers = publishers.load(ordering: .relaxed)
        s.viewers = viewers.load(ordering: .relaxed)
        s.byesSent = byes.load(ordering: .relaxed)
        s.recordingsFinished = recordings.load(ordering: .relaxed)
        return s
    }
}
