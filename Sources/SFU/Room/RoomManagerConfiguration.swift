import Reactor

/// Limits and timings of the rooms on one core. Every limit is explicit (README lists them).
public struct RoomManagerConfiguration: Sendable {
    /// Connected viewers per room; 0 = unlimited (`MAX_SUBS_PER_ROOM`). Viewers still setting
    /// up count only within `viewerSetupAllowance`: a new viewer is admitted while fewer than
    /// this many are connected and connected + setting-up < this + the allowance; one that
    /// connects when this many are already connected is ended, so the limit is never passed.
    public var maxViewersPerRoom = 0
    /// `SHARD_MIN_VIEWERS`: a room's viewers beyond this many may be placed on other cores
    /// (fan-out shards fed by the owner through a `CoreRing`), on the lightest core by
    /// `CoreBoard`; 0 keeps every room on its one core. Below it a room costs no cross-core
    /// work: at 2 Mbit/s, 100 viewers take ≈7 % of a core, and a shard costs its core about
    /// what one more viewer does (perf/RESULTS.md, "One room on every core").
    public var shardMinViewers = 100
    /// Another core takes a room's next viewer only when it is lighter than the owner by more
    /// than this many viewers, or than `shardMinViewers` when that is lower (`CoreBoard.lightest`):
    /// no shard for a difference of a few.
    public var shardMargin = 16
    /// Sessions being set up (answer sent, not yet connected) per client IP on this core;
    /// 0 = unlimited (`MAX_PENDING_SESSIONS_PER_IP`). Per core: rooms live on different cores,
    /// so one IP can have this many on each core.
    public var maxPendingSessionsPerIP = 50
    /// The `Retry-After` (seconds) of a refusal by `maxPendingSessionsPerIP`: a set-up takes
    /// about a second, so a slot is usually free by then.
    public var pendingRetryAfterSeconds = 2
    /// Rooms per core.
    public var maxRooms = 10_000
    /// Sessions (publishers + viewers) per core.
    public var maxSessions = 20_000
    /// How long viewers wait in a room without a publisher before they are ended; 0 = forever.
    public var publisherGrace: Duration = .seconds(60)
    /// ICE + DTLS must complete within this time after the answer.
    public var setupTimeout: Duration = .seconds(20)
    /// IP addresses advertised as host candidates (the core's UDP port is added).
    public var candidateIPs: [String] = ["127.0.0.1"]
    /// The bitrate announced to publishers in REMB (bits/s), so browsers ramp up.
    public var publisherMaxBitrate: UInt64 = 4_000_000
    /// Negotiate transport-cc with publishers and send them transport-wide feedback (their
    /// congestion controller then ramps as against a browser peer); REMB is sent either way.
    public var sendTransportCC = true
    /// Negotiate transport-cc with viewers (`VIEWER_TRANSPORT_CC`): every copy to a viewer
    /// then carries a transport-wide sequence number and its feedback drives the viewer's
    /// send-side bandwidth estimate; off, viewers' estimates come from REMB and receiver
    /// reports only.
    public var viewerTransportCC = true
    /// Debug: called with a line per transport-cc feedback from a viewer, with what was sent
    /// for each packet it reports (`BANDWIDTH_TRACE_FILE`; `ViewerBandwidth.traceLine`), to
    /// record real traces for the estimator's tests. Nil (the default): nothing is built.
    public var bandwidthTrace: (@Sendable (String) -> Void)?
    /// The NACK history a video track starts with, before its packet rate is measured (it is
    /// then sized to ~2.5 s of that rate).
    public var videoHistoryStartBytes = 256 * 1024
    /// Instant start (`INSTANT_START_MAX_BYTES`): a viewer that connects is sent the video
    /// since the latest keyframe when that is at most this many bytes (the history grows to
    /// hold a keyframe interval up to this size); else a keyframe is asked for. 0 = off.
    public var instantStartMaxBytes = 4 << 20
    /// What every instant start of the core may send together, bytes per second
    /// (`INSTANT_START_BYTES_PER_SECOND`; `CatchUpBudget`): keyframes first, then the rest,
    /// earliest start first; a storm of joiners then starts later rather than overloading the
    /// core. 0 = no shared bound (each start is paced on its own only).
    public var instantStartBytesPerSecond = 50_000_000
    /// Admission control: a new viewer, or a publisher that would create a room, is refused
    /// (503 + `Retry-After`) while the core's smoothed busy fraction is above this (0…1);
    /// 0 = off (`MAX_CORE_LOAD`). Sessions already admitted are never affected.
    public var maxCoreLoad: Double = 0
    /// The `Retry-After` (seconds) given with a refusal for a busy core: about twice the
    /// load estimate's time constant, so a retry sees a fresh estimate.
    public var coreBusyRetryAfterSeconds = 2
    /// Record every publication (`RECORD_ENABLED`); nil = off.
    public var recording: RecordingSettings?

    public init() {}

    /// How many viewers may be setting up beyond the room's free places: max(2, 10 % of
    /// `maxViewersPerRoom`). Viewers that never connect thus keep no one out unless they hold
    /// more than the allowance, and only until they time out; a room holds at most
    /// `maxViewersPerRoom + viewerSetupAllowance` viewers, connected or not.
    public var viewerSetupAllowance: Int { max(2, maxViewersPerRoom / 10) }
}
