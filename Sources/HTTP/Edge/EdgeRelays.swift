import Cluster
import Reactor
import SFU

/// One core's edge relays (`CLUSTER_MODE=edge`): for each room of this core that another node
/// holds, at most one relay — the room played from its origin by the SFU's client role
/// (`RelaySource`) — however many viewers it has here. This is the I/O around the sans-IO
/// relay: the WHEP exchange with the origin (on `RelayHTTPClient`'s thread, the answer back
/// through this core's mailbox), the relay's UDP socket, and set-ups again with back-off.
///
/// Each relay has a socket of its own on an ephemeral port: the relay's peer is a
/// `DatagramEndpoint` on its own, so the core's media socket and the room's datagram routing
/// (which knows only server sessions) stay as they are, and a relay's origin sees it as one
/// more viewer's address. That is one descriptor per relayed room of this core, bounded by
/// the core's rooms (`MAX_ROOMS`).
///
/// Failures: a relay that ends (the origin closed the session, consent or ICE failed, its
/// set-up timed out) leaves the room without a source — its viewers wait, as for a publisher
/// that left, through the publisher grace period — and is set up again after `RelayBackoff`'s
/// delay, each time from the node the directory names then (a publisher that moved to another
/// node is pulled from there). A room no node holds is asked for again every `watchInterval`
/// while it has viewers here, and so is one while the directory cannot answer; one whose
/// publisher came to this node needs no relay any more. Core-confined.
public final class EdgeRelays {
    /// How a viewer's WHEP for a relayed room goes on.
    public enum Outcome: Sendable {
        /// The room is here (relayed or waiting for its relay to come back): play it here.
        case ready
        /// The relay could not be set up: 503 with the reason.
        case failed(String)
    }

    private enum State {
        case requesting
        case relaying(RelaySource, UDPSocket, sessionURL: String)
        case waiting(TimerHandle)
    }

    private final class Entry {
        /// Nil while no node holds the room (viewers here wait for a publisher anywhere).
        var origin: NodeEntry?
        var state: State = .requesting
        /// Viewers' WHEPs waiting for the relay's first answer (run on this core).
        var waiters: [(Outcome) -> Void] = []
        var backoff = RelayBackoff()
        var reconnects = 0
        /// When the directory was last asked whether a silent relay's room moved.
        var lastMoveCheck: Instant?

        init(origin: NodeEntry?) { self.origin = origin }
    }

    /// Viewers that may wait for one relay's set-up at once; more get 503 until it is up.
    public static let maxWaiters = 256

    /// What the relays talk to off this core: the origins (WHEP exchanges) and the directory.
    /// Each answer is delivered by calling the closure given, from any thread.
    public struct Links {
        /// This node (its ID, `CLUSTER_TOKEN`).
        public var settings: ClusterSettings
        public var exchange: (RelayHTTPClient.Request, @escaping @Sendable (RelayHTTPClient.Outcome) -> Void) -> Void
        public var locate: (String, @escaping @Sendable (DirectoryReply) -> Void) -> Void

        public init(
            settings: ClusterSettings,
            exchange: @escaping (RelayHTTPClient.Request, @escaping @Sendable (RelayHTTPClient.Outcome) -> Void) -> Void,
            locate: @escaping (String, @escaping @Sendable (DirectoryReply) -> Void) -> Void
        ) {
            self.settings = settings
            self.exchange = exchange
            self.locate = locate
        }

        /// The relay client's thread and the directory's.
        public static func live(client: RelayHTTPClient, directory: ClusterDirectory) -> Links {
            Links(
                settings: directory.settings, exchange: { client.submit($0, deliver: $1) },
                locate: { directory.submit(.locate(room: $0), deliver: $1) })
        }
    }

    private unowned let loop: EventLoop
    private let rooms: RoomManager
    private let links: Links
    /// Where relay sockets bind (the media bind address, port 0).
    private let bindIP: String
    private let log: (String) -> Void
    private var entries: [String: Entry] = [:]
    private var stopping = false

    // Figures (plain counters; read at scrape time on this core).
    public private(set) var setupsSucceeded: UInt64 = 0
    public private(set) var setupsFailed: UInt64 = 0
    /// Relays set up again for a room after one ended or failed.
    public private(set) var reconnects: UInt64 = 0
    /// Rooms given up after `RelayBackoff.maxAttempts` failures in a row.
    public private(set) var givenUp: UInt64 = 0

    public init(loop: EventLoop, rooms: RoomManager, links: Links, bindIP: String, log: @escaping (String) -> Void) {
        self.loop = loop
        self.rooms = rooms
        self.links = links
        self.bindIP = bindIP
        self.log = log
        rooms.relayEnded = { [unowned self] relay in relayEnded(relay) }
        // The loop keeps this object alive through the timer, as long as the loop runs.
        var check: TimerHandle?
        check = loop.scheduleTimer(after: Self.stallCheckInterval) { [unowned self] in
            checkSilentRelays()
            if let check { self.loop.reschedule(check, at: self.loop.now + Self.stallCheckInterval) }
        }
    }

    /// A connected relay without media this long asks the directory whether its room moved.
    public static let stallAfter: Duration = .seconds(2)
    static let stallCheckInterval: Duration = .seconds(1)

    /// Relays connected now.
    public var connectedCount: Int {
        entries.values.reduce(0) { n, e in
            if case .relaying(let relay, _, _) = e.state, relay.isConnected { return n + 1 }
            return n
        }
    }

    /// A viewer's WHEP for `room`, which `origin` holds: `then` runs on this core when the
    /// room can take the viewer here (a relay is up, or being set up again), or with why not.
    /// The first viewer waits for the origin's answer (one bounded exchange); `then` runs in
    /// the same job as the relay is attached, so the room cannot go before the viewer is in.
    public func play(room: RoomName, origin: NodeEntry, then: @escaping (Outcome) -> Void) {
        if let e = entries[room.value] {
            switch e.state {
            case .requesting:
                guard e.waiters.count < Self.maxWaiters else {
                    then(.failed("too many viewers waiting for the relay of room \(room.value)"))
                    return
                }
                e.waiters.append(then)
            case .waiting(let timer) where e.origin == nil:
                // Watched until now (no node held it): the room has an origin now, pull at once.
                loop.cancelTimer(timer)
                e.origin = origin
                e.waiters.append(then)
                request(room.value, e)
            case .relaying, .waiting:
                then(.ready)
            }
            return
        }
        guard !stopping else { return then(.failed("server is shutting down")) }
        guard entries.count < rooms.configuration.maxRooms else {
            return then(.failed("this node relays too many rooms (\(rooms.configuration.maxRooms))"))
        }
        let e = Entry(origin: origin)
        e.waiters = [then]
        entries[room.value] = e
        request(room.value, e)
    }

    /// A viewer plays `room` here while no node holds it: when a publisher appears on another
    /// node, the room is pulled from there (the directory is asked every `watchInterval` while
    /// the room has viewers here and no publisher).
    public func watch(room: RoomName) {
        guard !stopping, entries[room.value] == nil, entries.count < rooms.configuration.maxRooms else { return }
        let e = Entry(origin: nil)
        entries[room.value] = e
        waitForOrigin(room.value, e)
    }

    /// How often a room no node holds is looked up again while viewers wait for it here.
    public static let watchInterval: Duration = .seconds(2)

    /// Ends every relay (graceful shutdown): the origins get a DTLS close_notify.
    public func shutdown(now: Instant) {
        stopping = true
        for (room, e) in entries {
            for w in takeWaiters(e) { w(.failed("server is shutting down")) }
            if case .waiting(let timer) = e.state { loop.cancelTimer(timer) }
            if case .relaying = e.state { rooms.closeRelay(room: room, reason: "shutdown", now: now) }
        }
    }

    // MARK: - Set-up

    private func request(_ room: String, _ e: Entry) {
        e.state = .requesting
        guard let origin = e.origin else { return waitForOrigin(room, e) }
        guard let url = origin.url else {
            return failed(room, e, "cannot reach node \(origin.id): \(origin.refusal ?? "no usable URL")")
        }
        let offer: RelayOffer
        do {
            offer = try rooms.makeRelayOffer()
        } catch {
            return failed(room, e, error.description)
        }
        let settings = links.settings
        let exchange = RelayExchange.play(origin: url, room: room, offer: offer.sdp, node: settings.nodeID, token: settings.token)
        let back = loop.handle
        let box = CoreBound(self)
        let entry = CoreBound(e)
        links.exchange(exchange) { outcome in
            back.execute {
                guard let relays = box.value, let e = entry.value else { return }
                relays.answered(room, e, outcome, offer: offer, origin: url)
            }
        }
    }

    private func answered(
        _ room: String, _ e: Entry, _ outcome: RelayHTTPClient.Outcome, offer: RelayOffer, origin url: NodeURL
    ) {
        let who = "origin \(e.origin?.id ?? "?") (\(url))"
        guard entries[room] === e, case .requesting = e.state else {
            // Nobody waits for it any more: leave nothing behind on the origin.
            if case .success(let response) = outcome, case .accepted(_, let session) = RelayExchange.read(response, origin: url) {
                deleteAtOrigin(session)
            }
            return
        }
        let response: RelayHTTPClient.Response
        switch outcome {
        case .failure(let error): return failed(room, e, "\(who): \(error)")
        case .success(let r): response = r
        }
        guard case .accepted(let sdp, let session) = RelayExchange.read(response, origin: url) else {
            if case .refused(let why) = RelayExchange.read(response, origin: url) { failed(room, e, "\(who): \(why)") }
            return
        }
        let queue = loop.makeDatagramQueue()
        let relay: RelaySource
        do {
            relay = try rooms.attachRelay(
                room: RoomName(validating: room), offer: offer, answer: sdp, origin: e.origin?.id ?? "?", output: queue,
                reconnects: e.reconnects, creatingRoom: !e.waiters.isEmpty, now: loop.now)
        } catch {
            deleteAtOrigin(session)
            if case .publisherExists = error as? RoomError {
                // The publisher is on this node now: it is the room's source.
                entries[room] = nil
                for w in takeWaiters(e) { w(.ready) }
                return
            }
            return failed(room, e, "\(who): \(error)")
        }
        do {
            let socket = try loop.openUDP(bind: SocketAddress(ip: bindIP, port: 0) ?? SocketAddress(ip: "0.0.0.0", port: 0)!, endpoint: relay, queue: queue)
            e.state = .relaying(relay, socket, sessionURL: session)
        } catch {
            rooms.closeRelay(room: room, reason: "no socket: \(error)", now: loop.now)
            deleteAtOrigin(session)
            return failed(room, e, "cannot open a relay socket: \(error)")
        }
        setupsSucceeded &+= 1
        for w in takeWaiters(e) { w(.ready) }
    }

    private func takeWaiters(_ e: Entry) -> [(Outcome) -> Void] {
        defer { e.waiters = [] }
        return e.waiters
    }

    /// A set-up failed: the viewers waiting for it get 503; the room, if it still has viewers
    /// here, is tried again after the back-off.
    private func failed(_ room: String, _ e: Entry, _ reason: String) {
        setupsFailed &+= 1
        for w in takeWaiters(e) { w(.failed(reason)) }
        retryLater(room, e, reason)
    }

    private func retryLater(_ room: String, _ e: Entry, _ reason: String) {
        // Viewers that came while the directory was asked again are not kept waiting.
        for w in takeWaiters(e) { w(.failed(reason)) }
        guard !stopping, rooms.wantsRelay(room: room) else {
            entries[room] = nil
            return
        }
        guard let delay = e.backoff.failed() else {
            givenUp &+= 1
            log("edge relay of room \(room) given up after \(RelayBackoff.maxAttempts) attempts: \(reason)")
            entries[room] = nil
            return
        }
        if e.backoff.failures == 1 { log("edge relay of room \(room): \(reason); trying again") }
        e.state = .waiting(loop.scheduleTimer(after: delay) { [unowned self] in retry(room) })
    }

    /// No node holds the room: not a failure (its publisher may come back or start anywhere),
    /// so asked again every `watchInterval` while viewers wait here, without giving up.
    private func waitForOrigin(_ room: String, _ e: Entry) {
        // They wait here, as for a publisher (each joins the room in its `then`, now).
        for w in takeWaiters(e) { w(.ready) }
        guard !stopping, rooms.wantsRelay(room: room) else {
            entries[room] = nil
            return
        }
        e.origin = nil
        e.state = .waiting(loop.scheduleTimer(after: Self.watchInterval) { [unowned self] in retry(room) })
    }

    /// After the back-off: where is the room now? (A publisher that moved is pulled from its
    /// new node.)
    private func retry(_ room: String) {
        guard let e = entries[room], case .waiting = e.state else { return }
        guard rooms.wantsRelay(room: room) else {
            entries[room] = nil
            return
        }
        e.state = .requesting
        let back = loop.handle
        let box = CoreBound(self)
        let entry = CoreBound(e)
        links.locate(room) { reply in
            back.execute {
                guard let relays = box.value, let e = entry.value else { return }
                relays.located(room, e, reply)
            }
        }
    }

    private func located(_ room: String, _ e: Entry, _ reply: DirectoryReply) {
        guard entries[room] === e, case .requesting = e.state else { return }
        switch reply {
        case .located(let origin?) where origin.id != links.settings.nodeID:
            if e.origin != nil || e.backoff.failures > 0 {
                e.reconnects += 1
                reconnects &+= 1
            }
            e.origin = origin
            request(room, e)
        case .located(let origin?):
            _ = origin  // this node holds it now: its publisher is the source
            entries[room] = nil
            for w in takeWaiters(e) { w(.ready) }
        case .located(nil):
            waitForOrigin(room, e)
        case .unavailable(let reason):
            // Not the origin's failure: no attempt is counted; asked again every `watchInterval`.
            for w in takeWaiters(e) { w(.failed(reason)) }
            guard !stopping, rooms.wantsRelay(room: room) else {
                entries[room] = nil
                return
            }
            e.state = .waiting(loop.scheduleTimer(after: Self.watchInterval) { [unowned self] in retry(room) })
        case .claimed, .heldBy, .listing, .routed:
            retryLater(room, e, "unexpected directory answer")
        }
    }

    // MARK: - A room that moved

    /// A relay that brings nothing (its origin's publisher left) may be pulling from the wrong
    /// node: the publisher may have come back on another one. The directory is asked (at most
    /// once per `stallAfter` per room); a room now held elsewhere is pulled from there.
    private func checkSilentRelays() {
        let now = loop.now
        for (room, e) in entries {
            guard case .relaying(let relay, _, _) = e.state, relay.isConnected else { continue }
            let since = relay.lastPacketAt ?? relay.connectedAt ?? relay.createdAt
            guard now - since >= Self.stallAfter, e.lastMoveCheck.map({ now - $0 >= Self.stallAfter }) ?? true else { continue }
            e.lastMoveCheck = now
            let back = loop.handle
            let box = CoreBound(self)
            let entry = CoreBound(e)
            let previous = relay.origin
            links.locate(room) { reply in
                back.execute {
                    guard let relays = box.value, let e = entry.value else { return }
                    relays.moved(room, e, reply, from: previous)
                }
            }
        }
    }

    private func moved(_ room: String, _ e: Entry, _ reply: DirectoryReply, from previous: String) {
        guard entries[room] === e, case .relaying(let relay, _, _) = e.state, relay.origin == previous,
            case .located(let origin?) = reply, origin.id != previous
        else { return }
        // Ended here; `relayEnded` sets it up again, from the node the directory names then.
        rooms.closeRelay(room: room, reason: "room \(room) is held by node \(origin.id) now", now: loop.now)
    }

    // MARK: - End of a relay

    /// From the room layer: a relay ended (origin closed it, ICE/DTLS/consent failed, set-up
    /// timed out, the room emptied, a publisher arrived here).
    private func relayEnded(_ relay: RelaySource) {
        guard let e = entries[relay.room], case .relaying(let current, let socket, let session) = e.state,
            current === relay
        else { return }
        // Not from within the socket's own receive handler; the relay lives until then.
        loop.executeSoon { _ = relay; socket.close() }
        deleteAtOrigin(session)
        if relay.isConnected { e.backoff.connected() }
        retryLater(relay.room, e, "relay from \(relay.origin) ended: \(relay.endReason ?? "?")")
    }

    private func deleteAtOrigin(_ session: String) {
        let settings = links.settings
        links.exchange(RelayExchange.delete(sessionURL: session, node: settings.nodeID, token: settings.token)) { _ in }
    }
}
