import CShim
import Glibc
import Reactor
import Synchronization

/// This node's link to the cluster directory in Redis. All Redis traffic runs on one thread
/// of its own (`OSThread`, like the upload workers), never on a core: cores `submit` a
/// request and get the reply through their own mailbox (the `deliver` closure they pass
/// posts it there). The thread also registers the node and beats (`DirectoryState` decides
/// what, `DirectoryScripts` say how).
///
/// Every request is one bounded attempt: a command has `redisTimeout` (connect included),
/// replies are bounded (`RedisValue.Limits`, `ClusterSettings.maxRoomsListed/maxNodesListed`),
/// a request that waited in the queue past its deadline is refused, the queue holds at most
/// `maxQueued`. While Redis is unreachable requests are refused at once (503) and the thread
/// reconnects with back-off; the node registers again as soon as it is back.
public final class ClusterDirectory: Sendable {
    /// One core's figures for a heartbeat, taken on that core.
    public struct CoreFigures: Sendable, Equatable {
        /// Rooms with a publisher on the core.
        public var published: [String]
        public var viewers: Int
        /// The core's smoothed busy fraction.
        public var load: Double
        /// Rooms the core relays from their origin (an edge's), connected.
        public var relayed: [String]
        /// Each room's viewers on the core (relay sessions to edges not counted).
        public var roomViewers: [String: Int]

        public init(published: [String], viewers: Int, load: Double, relayed: [String] = [], roomViewers: [String: Int] = [:]) {
            self.published = published
            self.viewers = viewers
            self.load = load
            self.relayed = relayed
            self.roomViewers = roomViewers
        }
    }

    public let settings: ClusterSettings
    public let metrics = DirectoryMetrics()
    /// Requests waiting for the thread at most.
    public static let maxQueued = 1024

    private struct Job: Sendable {
        var request: DirectoryRequest
        var deadline: Instant
        var deliver: @Sendable (DirectoryReply) -> Void
    }

    private struct Inbox: Sendable {
        var jobs: [Job] = []
        var reports: [Int: CoreFigures] = [:]
        var beatSoon = false
        var stopping = false
        var cores: [EventLoopHandle] = []
    }

    private let inbox = Mutex(Inbox())
    private let thread = Mutex<OSThread?>(nil)
    private let wakeFD: Int32
    private let figures: @Sendable (EventLoop) -> CoreFigures?
    private let log: @Sendable (String) -> Void
    private let signer: NodeSignature?

    /// - Parameters:
    ///   - figures: takes one core's figures, on that core (its rooms).
    ///   - log: one line for the operator's log (connection lost and back, conflicts).
    public init(
        settings: ClusterSettings, figures: @escaping @Sendable (EventLoop) -> CoreFigures?,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.figures = figures
        self.log = log
        signer = settings.token.map { NodeSignature(token: $0) }
        wakeFD = lsfu_eventfd()
        precondition(wakeFD >= 0, "eventfd failed")
    }

    deinit { close(wakeFD) }

    /// Starts the thread; `cores` are asked for their figures at each heartbeat.
    public func start(cores: [EventLoopHandle]) throws(ReactorError) {
        inbox.withLock { $0.cores = cores }
        let started = try OSThread.spawn { [self] in run() }
        thread.withLock { $0 = started }
    }

    /// Leaves the directory (the claims and the node entry are deleted, one bounded attempt)
    /// and ends the thread.
    public func stop() {
        inbox.withLock { $0.stopping = true }
        lsfu_eventfd_signal(wakeFD)
        let running = thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }
        running?.join()
    }

    /// Asks the directory; `deliver` runs once with the answer, on the directory thread (or on
    /// the caller's, when refused at once): it should post to the caller's core.
    public func submit(_ request: DirectoryRequest, deliver: @escaping @Sendable (DirectoryReply) -> Void) {
        let deadline = Instant.now() + Self.queueBound(settings.redisTimeout)
        let accepted = inbox.withLock { box -> Bool in
            guard !box.stopping, box.jobs.count < Self.maxQueued else { return false }
            box.jobs.append(Job(request: request, deadline: deadline, deliver: deliver))
            return true
        }
        guard accepted else {
            metrics.error("busy")
            deliver(.unavailable(reason: "cluster directory is busy (\(Self.maxQueued) requests queued)"))
            return
        }
        lsfu_eventfd_signal(wakeFD)
    }

    /// A publisher ended on this node: beat soon so its room is released without waiting.
    public func beatSoon() {
        inbox.withLock { $0.beatSoon = true }
        lsfu_eventfd_signal(wakeFD)
    }

    /// How long a request may wait in the queue: four command timeouts.
    static func queueBound(_ timeout: Duration) -> Duration {
        Duration(nanoseconds: timeout.nanoseconds &* 4)
    }

    private func report(_ figures: CoreFigures?, core: Int) {
        guard let figures else { return }
        inbox.withLock { $0.reports[core] = figures }
        lsfu_eventfd_signal(wakeFD)
    }

    // MARK: - The directory thread

    private func run() {
        var state = DirectoryState(interval: settings.heartbeatInterval, now: Instant.now())
        var connection: RedisConnection?
        var collecting: Instant?  // deadline of the figures being collected
        var reports: [Int: CoreFigures] = [:]
        while true {
            let now = Instant.now()
            let taken = inbox.withLock { box -> (jobs: [Job], reports: [Int: CoreFigures], soon: Bool, stopping: Bool, cores: [EventLoopHandle]) in
                defer {
                    box.jobs = []
                    box.reports = [:]
                    box.beatSoon = false
                }
                return (box.jobs, box.reports, box.beatSoon, box.stopping, box.cores)
            }
            if taken.stopping { break }
            if taken.soon { state.beatSoon(now: now) }
            reports.merge(taken.reports) { _, new in new }

            if state.shouldConnect(now: now) {
                let start = Instant.now()
                do {
                    connection = try RedisConnection.open(settings.redis, timeout: settings.redisTimeout, limits: Self.replyLimits)
                    metrics.observe(seconds: Self.seconds(Instant.now() - start))
                    state.connected(now: now)
                    log("cluster directory: connected to \(settings.redis)")
                } catch {
                    metrics.error(Self.kind(error))
                    // Once per outage in the log, not at every attempt.
                    if state.link != .down(reason: error.description) { log("cluster directory: \(error); retrying") }
                    state.failed(error.description, now: now)
                }
                metrics.update(state)
            }

            for job in taken.jobs {
                let reply = answer(job, state: &state, connection: &connection, now: Instant.now())
                job.deliver(reply)
            }

            if state.heartbeatDue(now: now), collecting == nil {
                collecting = now + Self.collectBound(settings.heartbeatInterval)
                reports = [:]
                for core in taken.cores {
                    let index = core.index
                    let take = figures
                    core.execute { [self] (loop: EventLoop) in report(take(loop), core: index) }
                }
            }
            if let deadline = collecting, reports.count >= taken.cores.count || Instant.now() >= deadline {
                collecting = nil
                beat(reports: reports, complete: reports.count >= taken.cores.count, state: &state, connection: &connection)
                reports = [:]
            }

            sleep(until: Instant.earliest(collecting, state.nextWake) ?? now)
        }
        if let connection { leave(connection, state: state) }
        let rest = inbox.withLock { box -> [Job] in
            defer { box.jobs = [] }
            return box.jobs
        }
        for job in rest { job.deliver(.unavailable(reason: "server is shutting down")) }
    }

    /// Every reply's bound: a listing at its bounds (1 000 rooms, 100 nodes, 1 000 per-room
    /// viewer counts, names at their longest) is under 512 KiB and 8 192 elements.
    static let replyLimits = RedisValue.Limits(maxBytes: 512 * 1024)

    /// Figures are awaited at most a quarter interval (a core busy that long is reported
    /// incomplete, which releases nothing).
    static func collectBound(_ interval: Duration) -> Duration {
        Duration(nanoseconds: max(interval.nanoseconds / 4, 50_000_000))
    }

    private func sleep(until wake: Instant) {
        let now = Instant.now()
        let millis = wake > now ? Int32(min((wake - now).milliseconds + 1, 60_000)) : 0
        var fd = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, millis)
        lsfu_eventfd_drain(wakeFD)
    }

    /// One Redis command, timed and counted; a broken connection is dropped and the state told.
    private func call(
        _ arguments: [String], state: inout DirectoryState, connection: inout RedisConnection?
    ) throws(RedisError) -> RedisValue {
        guard let live = connection else { throw .io("not connected") }
        let start = Instant.now()
        do {
            let value = try live.command(arguments).checked()
            metrics.observe(seconds: Self.seconds(Instant.now() - start))
            return value
        } catch {
            metrics.observe(seconds: Self.seconds(Instant.now() - start))
            metrics.error(Self.kind(error))
            if error.breaksConnection {
                connection = nil
                state.failed(error.description, now: Instant.now())
                log("cluster directory: \(error); requests that need it get 503 until it is back")
            }
            metrics.update(state)
            throw error
        }
    }

    private func answer(_ job: Job, state: inout DirectoryState, connection: inout RedisConnection?, now: Instant) -> DirectoryReply {
        let name: String
        switch job.request {
        case .claim: name = "claim"
        case .locate: name = "locate"
        case .listing: name = "listing"
        case .route: name = "route"
        }
        let reply = reply(to: job, state: &state, connection: &connection, now: now)
        let result: String
        switch reply {
        case .claimed: result = "claimed"
        case .heldBy: result = "held_elsewhere"
        case .located(let entry): result = entry == nil ? "unknown" : "found"
        case .listing: result = "ok"
        case .routed(let origin, _): result = origin == nil ? "unknown" : "found"
        case .unavailable: result = "unavailable"
        }
        metrics.answered(name, result)
        return reply
    }

    private func reply(to job: Job, state: inout DirectoryState, connection: inout RedisConnection?, now: Instant) -> DirectoryReply {
        if now > job.deadline {
            metrics.error("busy")
            return .unavailable(reason: "cluster directory is busy (the request waited too long)")
        }
        if let immediate = state.immediateAnswer(to: job.request) { return immediate }
        let id = settings.nodeID
        let ttl = "\(settings.nodeTTL.milliseconds)"
        do {
            switch job.request {
            case .claim(let room):
                let value = try call(
                    ["EVAL", DirectoryScripts.claim, "2", DirectoryScripts.roomsIndex, DirectoryScripts.roomKey(room), id, ttl, room],
                    state: &state, connection: &connection)
                guard let first = value.elements?.first, value.elements?.count == 1 else {
                    throw RedisError.badReply("claim answered \(Self.shape(value))")
                }
                if first.integer == 1 {
                    state.claimAnswered(room: room, holder: nil, now: now)
                    metrics.update(state)
                    return .claimed
                }
                let holder = first.text ?? ""
                state.claimAnswered(room: room, holder: holder, now: now)
                metrics.update(state)
                return .heldBy(node: ClusterSettings.isValidNodeID(holder) ? holder : "another node")

            case .locate(let room):
                let value = try call(
                    ["EVAL", DirectoryScripts.locate, "1", DirectoryScripts.roomKey(room), DirectoryScripts.nodeKey("")],
                    state: &state, connection: &connection)
                if value == .null { return .located(nil) }
                guard let f = value.elements, f.count == 5 else { throw RedisError.badReply("locate answered \(Self.shape(value))") }
                return .located(
                    NodeEntry.checked(
                        id: f[0].text ?? "", url: f[1].text ?? "", load: f[2].text ?? "", viewers: f[3].text ?? "",
                        signature: f[4].text ?? "", signer: signer))

            case .listing:
                let value = try call(
                    [
                        "EVAL", DirectoryScripts.listing, "2", DirectoryScripts.roomsIndex, DirectoryScripts.nodesIndex,
                        DirectoryScripts.roomKey(""), DirectoryScripts.nodeKey(""), "\(ClusterSettings.maxRoomsListed)",
                        "\(ClusterSettings.maxNodesListed)", DirectoryScripts.viewsKey(""), "\(RoomViewers.maxListed)",
                        "\(RoomViewers.maxReported)",
                    ], state: &state, connection: &connection)
                return .listing(try Self.listing(from: value, signer: signer))

            case .route(let room):
                let value = try call(
                    [
                        "EVAL", DirectoryScripts.route, "2", DirectoryScripts.roomKey(room), DirectoryScripts.edgesKey(room),
                        DirectoryScripts.nodeKey(""), "\(ClusterSettings.maxNodesListed)",
                    ], state: &state, connection: &connection)
                let (origin, carriers) = try Self.route(from: value, signer: signer)
                return .routed(origin: origin, carriers: carriers)
            }
        } catch {
            return .unavailable(reason: "cluster directory: \(error)")
        }
    }

    /// A short picture of an unexpected reply for an error text.
    static func shape(_ value: RedisValue) -> String { RedisError.cut("\(value)") }

    /// `{{room, holder}…, {id, url, load, viewers, sig}…, {room, node, viewers}…}` → a listing;
    /// over the bounds or malformed → `badReply`; a per-room figure that is not a count is
    /// skipped.
    static func listing(from value: RedisValue, signer: NodeSignature?) throws(RedisError) -> DirectoryListing {
        guard let parts = value.elements, parts.count == 3, let rooms = parts[0].elements, let nodes = parts[1].elements,
            let views = parts[2].elements, rooms.count % 2 == 0, nodes.count % 5 == 0, views.count % 3 == 0,
            rooms.count / 2 <= ClusterSettings.maxRoomsListed, nodes.count / 5 <= ClusterSettings.maxNodesListed,
            views.count / 3 <= RoomViewers.maxListed
        else { throw .badReply("listing of an unexpected shape") }
        var listing = DirectoryListing()
        for i in stride(from: 0, to: rooms.count, by: 2) {
            guard let room = rooms[i].text, let holder = rooms[i + 1].text else { continue }
            listing.origins[room] = ClusterSettings.isValidNodeID(holder) ? holder : ""
        }
        for i in stride(from: 0, to: nodes.count, by: 5) {
            let t = (0..<5).map { nodes[i + $0].text ?? "" }
            listing.nodes.append(NodeEntry.checked(id: t[0], url: t[1], load: t[2], viewers: t[3], signature: t[4], signer: signer))
        }
        for i in stride(from: 0, to: views.count, by: 3) {
            guard let room = views[i].text, let node = views[i + 1].text, ClusterSettings.isValidNodeID(node),
                let count = views[i + 2].text.flatMap({ Int($0) }), count >= 0
            else { continue }
            listing.viewers[room, default: [:]][node] = count
        }
        return listing
    }

    /// `{holder, carriers}` (see `DirectoryScripts.route`) → the holder's entry and the
    /// carriers'; over the bounds or malformed → `badReply`.
    static func route(from value: RedisValue, signer: NodeSignature?) throws(RedisError) -> (NodeEntry?, [NodeEntry]) {
        guard let parts = value.elements, parts.count == 2, let holder = parts[0].elements, let edges = parts[1].elements,
            holder.count == 0 || holder.count == 5, edges.count % 5 == 0, edges.count / 5 <= ClusterSettings.maxNodesListed
        else { throw .badReply("route of an unexpected shape") }
        func entry(_ f: ArraySlice<RedisValue>) -> NodeEntry {
            let t = f.map { $0.text ?? "" }
            return NodeEntry.checked(id: t[0], url: t[1], load: t[2], viewers: t[3], signature: t[4], signer: signer)
        }
        let origin = holder.isEmpty ? nil : entry(holder[0..<5])
        let carriers = stride(from: 0, to: edges.count, by: 5).map { entry(edges[$0..<$0 + 5]) }
        return (origin, carriers)
    }

    /// Registers (or refreshes) the node and reconciles its claims with the cores' reports.
    private func beat(reports: [Int: CoreFigures], complete: Bool, state: inout DirectoryState, connection: inout RedisConnection?) {
        guard state.isUp else { return }
        let now = Instant.now()
        let live = Set(reports.values.flatMap(\.published))
        let viewers = reports.values.reduce(0) { $0 + $1.viewers }
        let load = reports.isEmpty ? 0 : reports.values.reduce(0) { $0 + $1.load } / Double(reports.count)
        let plan = state.plan(now: now, live: live, complete: complete)
        let id = settings.nodeID
        let url = settings.nodeURL.text
        let ttl = "\(settings.nodeTTL.milliseconds)"
        do {
            _ = try call(
                [
                    "EVAL", DirectoryScripts.heartbeat, "2", DirectoryScripts.nodeKey(id), DirectoryScripts.nodesIndex, id, url,
                    "\((load * 1000).rounded() / 1000)", "\(viewers)", ttl, signer?.sign(id: id, url: url) ?? "",
                ], state: &state, connection: &connection)
            var lost: Set<String> = []
            for chunk in Self.chunks(plan.refresh) {
                let value = try call(
                    ["EVAL", DirectoryScripts.claim, "\(chunk.count + 1)", DirectoryScripts.roomsIndex]
                        + chunk.map(DirectoryScripts.roomKey) + [id, ttl] + chunk,
                    state: &state, connection: &connection)
                guard let answers = value.elements, answers.count == chunk.count else {
                    throw RedisError.badReply("claim answered \(Self.shape(value))")
                }
                for (room, answer) in zip(chunk, answers) where answer.integer != 1 {
                    lost.insert(room)
                    log("cluster directory: room \(room) is held by node \(answer.text ?? "?") although it has a publisher here")
                }
            }
            // An edge names the rooms it relays, so redirects can send viewers to it.
            for chunk in Self.chunks(Set(reports.values.flatMap(\.relayed)).sorted()) {
                _ = try call(
                    ["EVAL", DirectoryScripts.carry, "\(chunk.count)"] + chunk.map(DirectoryScripts.edgesKey) + [id, ttl],
                    state: &state, connection: &connection)
            }
            for chunk in Self.chunks(plan.release) {
                _ = try call(
                    ["EVAL", DirectoryScripts.release, "\(chunk.count + 1)", DirectoryScripts.roomsIndex]
                        + chunk.map(DirectoryScripts.roomKey) + [id] + chunk,
                    state: &state, connection: &connection)
            }
            let wasRegistered = state.registered
            state.heartbeatDone(plan, lost: lost, now: Instant.now())
            if !wasRegistered { log("cluster directory: registered node \(id) at \(url)") }
            // The per-node view of rooms, last: it is for people, so its failure (counted in the
            // directory's errors by `call`) leaves the claims' beat done. An incomplete report
            // keeps the last view (it expires with the TTL).
            if complete {
                try? writeViews(RoomViewers.report(reports.values.map(\.roomViewers)), state: &state, connection: &connection)
            }
        } catch {
            if state.isUp { state.heartbeatFailed(now: Instant.now()) }
        }
        metrics.update(state, beat: true)
    }

    /// Replaces this node's per-room viewers (`DirectoryScripts.views`), in chunks.
    private func writeViews(
        _ report: [(room: String, viewers: Int)], state: inout DirectoryState, connection: inout RedisConnection?
    ) throws(RedisError) {
        let id = settings.nodeID
        let ttl = "\(settings.nodeTTL.milliseconds)"
        let chunks = report.isEmpty ? [report[...]] : stride(from: 0, to: report.count, by: Self.chunkSize).map {
            report[$0..<min($0 + Self.chunkSize, report.count)]
        }
        for (i, chunk) in chunks.enumerated() {
            _ = try call(
                ["EVAL", DirectoryScripts.views, "2", DirectoryScripts.viewsStagingKey(id), DirectoryScripts.viewsKey(id), ttl,
                 i == 0 ? "1" : "0", i == chunks.count - 1 ? "1" : "0"] + chunk.flatMap { [$0.room, "\($0.viewers)"] },
                state: &state, connection: &connection)
        }
    }

    /// The graceful leave: this node's rooms and entry go at once instead of at TTL.
    private func leave(_ connection: RedisConnection, state: DirectoryState) {
        let id = settings.nodeID
        let rooms = state.claims.keys.sorted()
        for chunk in Self.chunks(rooms) {
            _ = try? connection.command(
                ["EVAL", DirectoryScripts.release, "\(chunk.count + 1)", DirectoryScripts.roomsIndex]
                    + chunk.map(DirectoryScripts.roomKey) + [id] + chunk)
        }
        _ = try? connection.command(["EVAL", DirectoryScripts.leave, "2", DirectoryScripts.nodeKey(id), DirectoryScripts.nodesIndex, id])
        _ = try? connection.command(["DEL", DirectoryScripts.viewsKey(id)])
    }

    /// Rooms per script call: keeps each command and its reply small.
    static let chunkSize = 100

    static func chunks(_ rooms: [String]) -> [ArraySlice<String>] {
        stride(from: 0, to: rooms.count, by: chunkSize).map { rooms[$0..<min($0 + chunkSize, rooms.count)] }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.nanoseconds) / 1e9 }

    static func kind(_ error: RedisError) -> String {
        switch error {
        case .io: "io"
        case .server: "server"
        case .replyTooLarge, .badReply: "reply"
        }
    }
}
