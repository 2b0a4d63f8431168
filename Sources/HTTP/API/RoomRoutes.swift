import Cluster
import HTTPTypes
import Reactor
import SFU
import Storage
import Telemetry

/// The room endpoints: WHIP publish, WHEP play, session DELETE/PATCH, `/api/rooms`,
/// `/api/records` (`RecordingRoutes`) and the admin close. A request is parsed, rate-limited and authenticated
/// on the core that accepted it; the room's own core (by `RoomPlacement`) does the work and
/// the answer comes back through this core's mailbox.
public struct RoomRoutes {
    /// This core's index.
    public let coreIndex: Int
    /// `Link` header values for the configured STUN/TURN servers (RFC 9725 §4.6).
    public let iceServerLinks: [String]
    /// The recordings for `/api/records` (nil when `RECORD_ENABLED` is off).
    public let recordings: RecordingCatalog?
    /// Decides which rooms `/api/rooms` shows to whom (`Authenticator.mayList`).
    public let authenticator: Authenticator
    /// The graceful shutdown's state: while draining, offers get 503 + `Retry-After`.
    public let drain: DrainState?
    /// Each new session's span (a child of its offer's request span); nil: no tracing.
    public let tracer: Tracer?

    public init(
        coreIndex: Int, iceServerLinks: [String], recordings: RecordingCatalog?, authenticator: Authenticator,
        drain: DrainState? = nil, tracer: Tracer? = nil
    ) {
        self.tracer = tracer
        self.coreIndex = coreIndex
        self.iceServerLinks = iceServerLinks
        self.recordings = recordings
        self.authenticator = authenticator
        self.drain = drain
    }

    static let sessionPrefix = "/api/session"

    /// Every core's handle, by index: the only way to reach another core. Set on each core
    /// once the group has started; empty before that (requests then get a 503).
    var cores: [EventLoopHandle] { (EventLoop.current?.context as? CoreContext)?.cores ?? [] }
    /// The cluster directory (`CLUSTER_REDIS_URL`), nil on a node alone.
    var directory: ClusterDirectory? { (EventLoop.current?.context as? CoreContext)?.directory }

    public func register(on router: Router) {
        let media = RoutePolicy(auth: .room(parameter: "room"), rateLimited: true, acceptPost: "application/sdp")
        router.add(.post, "/api/whip/publish/:room", policy: media) { request, responder in
            self.createSession(.publisher, request, responder)
        }
        router.add(.post, "/api/whep/play/:room", policy: media) { request, responder in
            self.createSession(.viewer, request, responder)
        }
        let session = RoutePolicy(auth: .room(parameter: "room"), rateLimited: true)
        router.add(.delete, "\(Self.sessionPrefix)/:room/:id", policy: session) { request, responder in
            self.deleteSession(request, responder)
        }
        router.add(.patch, "\(Self.sessionPrefix)/:room/:id", policy: session) { request, responder in
            self.patchSession(request, responder)
        }
        router.add(.post, "\(Self.sessionPrefix)/:room/:id/layer", policy: session) { request, responder in
            self.selectLayer(request, responder)
        }
        let listing = RoutePolicy(auth: .global, rateLimited: true)
        router.add(.get, "/api/rooms", policy: listing) { request, responder in
            self.listRooms(identity: request.identity ?? AuthIdentity(credential: .open), responder)
        }
        RecordingRoutes(catalog: recordings, authenticator: authenticator).register(on: router)
        router.add(.post, "/api/admin/rooms/:room/close", policy: RoutePolicy(auth: .admin, rateLimited: true)) {
            request, responder in
            self.closeRoom(request, responder)
        }
        router.add(.get, "/api/cluster/node", policy: RoutePolicy(auth: .cluster, rateLimited: true)) { _, responder in
            self.clusterNode(responder)
        }
    }

    // MARK: - WHIP / WHEP

    private func createSession(_ role: PeerSession.Role, _ request: HTTPServerRequest, _ responder: HTTPResponder) {
        if let drain, drain.isDraining {
            responder.respond(drain.refusal)
            return
        }
        guard Self.mediaType(request.head.headerFields[.contentType]) == "application/sdp" else {
            responder.respond(.error(.unsupportedMediaType, "Content-Type must be application/sdp"))
            return
        }
        let room: RoomName
        do {
            room = try RoomName(validating: request.pathParameters["room"] ?? "")
        } catch {
            responder.respond(.error(.badRequest, error.description))
            return
        }
        guard let text = String(validating: request.body, as: UTF8.self), !text.isEmpty else {
            responder.respond(.error(.badRequest, "the SDP offer is empty or not UTF-8"))
            return
        }
        // Parsing is pure, so it runs here and spreads the work over the accepting cores.
        let offer: SessionDescription
        do {
            offer = try SDPParser.parse(text)
        } catch {
            responder.respond(.error(.badRequest, "malformed SDP offer: \(error)"))
            return
        }
        if let edge = request.head.headerFields[Authenticator.relayHeader] {
            serveRelay(role, for: edge, room: room, offer: offer, request: request, responder)
            return
        }
        guard let directory else {
            createLocally(role, room: room, offer: offer, request: request, responder)
            return
        }
        if role == .publisher {
            claimThenPublish(directory, room: room, offer: offer, request: request, responder)
        } else {
            playHereOrThere(directory, room: room, offer: offer, request: request, responder)
        }
    }

    /// The session on this node, as on a node alone.
    private func createLocally(
        _ role: PeerSession.Role, room: RoomName, offer: SessionDescription, request: HTTPServerRequest,
        relayFor: String? = nil, _ responder: HTTPResponder
    ) {
        // The TCP peer's address: the per-IP cap on sessions in set-up counts against it (a
        // reverse proxy in front makes every client one IP; see MAX_PENDING_SESSIONS_PER_IP).
        let client = request.remoteAddress
        let drain = self.drain
        let tracer = self.tracer
        let trace = request.trace
        let traceStart = request.traceStartUnixNanos
        let traced: @Sendable (RoomManager, Result<SessionCreated, RoomError>, Instant) -> Void = { rooms, result, now in
            // Opened on the session's core, before any of the session's milestones.
            if let tracer, let trace, trace.sampled, case .success(let created) = result {
                SessionTracing.started(
                    tracer: tracer, request: trace, startUnixNanos: traceStart, sessionID: created.sessionID, room: room.value,
                    role: role, core: rooms.coreIndex, answeredAt: now)
            }
        }
        if role == .viewer {
            playPlaced(room: room, offer: offer, client: client, relayFor: relayFor, traced: traced, responder)
            return
        }
        onOwner(of: room.value, creating: true, responder) { rooms, now -> Result<SessionCreated, RoomError>? in
            // Checked again on the room's core: the drain's jobs reach each core after the
            // flag was set, so an offer that passed the first check cannot follow them in.
            if drain?.isDraining == true { return nil }
            let result = Result { () throws(RoomError) in try rooms.publish(room: room, offer: offer, client: client, now: now) }
            traced(rooms, result, now)
            return result
        } then: { result, responder in
            self.respond(result, room: room, responder)
        }
    }

    /// WHEP: the room's owner places the viewer (`RoomManager.placeViewer`): on its own core,
    /// or on a shard core that it asks itself, so that core hears of the room before any later
    /// change from the owner (both go through that core's mailbox from the owner, in order).
    private func playPlaced(
        room: RoomName, offer: SessionDescription, client: SocketAddress?, relayFor: String?,
        traced: @escaping @Sendable (RoomManager, Result<SessionCreated, RoomError>, Instant) -> Void,
        _ responder: HTTPResponder
    ) {
        let cores = self.cores
        guard cores.count > coreIndex else {
            responder.respond(.error(.serviceUnavailable, "server is starting"))
            return
        }
        let drain = self.drain
        let back = cores[coreIndex]
        let box = CoreBound(ResultHandler<Result<SessionCreated, RoomError>?>(responder: responder) { result, responder in
            self.respond(result, room: room, responder)
        })
        let posted = viaOwner(of: room.value, creating: true) { loop, rooms, ticket in
            // Checked again on the room's core: the drain's jobs reach each core after the
            // flag was set, so an offer that passed the first check cannot follow them in.
            if drain?.isDraining == true {
                rooms.handledPlaced(room.value, ticket)
                back.execute { box.value?.deliver(nil) }
                return
            }
            switch rooms.placeViewer(room: room, relay: relayFor != nil, now: loop.now) {
            case .here:
                let result = Result { () throws(RoomError) in
                    try rooms.play(room: room, offer: offer, client: client, relayFor: relayFor, now: loop.now)
                }
                rooms.handledPlaced(room.value, ticket)
                traced(rooms, result, loop.now)
                back.execute { box.value?.deliver(result) }
            case .shard(let core, let open):
                let sent = cores[core].execute { (loop: EventLoop) in
                    guard let shard = (loop.context as? CoreContext)?.rooms else { return }
                    let result = Result { () throws(RoomError) in
                        try shard.playOnShard(open, offer: offer, client: client, now: loop.now)
                    }
                    traced(shard, result, loop.now)
                    back.execute { box.value?.deliver(result) }
                }
                rooms.handledPlaced(room.value, ticket)
                if !sent {
                    rooms.shardPlacementFailed(open, core: core)
                    back.execute { box.value?.deliver(nil) }
                }
            }
        }
        if !posted { responder.respond(.error(.serviceUnavailable, "server is shutting down")) }
    }

    /// The answer to a WHIP/WHEP as the room gave it: 201 with the SDP and the session URL.
    private func respond(_ result: Result<SessionCreated, RoomError>?, room: RoomName, _ responder: HTTPResponder) {
        let links = iceServerLinks
        switch result {
        case nil:
            // Refused on the room's core: the server started draining meanwhile.
            responder.respond(drain?.refusal ?? .error(.serviceUnavailable, "server is shutting down"))
        case .success(let created):
            guard responder.isConnectionAlive else {
                // The client left while the session was made: leave nothing behind.
                self.onSessionCore(room: room.value, id: created.sessionID, nil) { rooms, now in
                    rooms.endSession(room: room.value, id: created.sessionID, now: now)
                } then: { _, _ in }
                return
            }
            var fields = HTTPFields()
            fields[.contentType] = "application/sdp"
            fields[.location] = "\(Self.sessionPrefix)/\(room.value)/\(created.sessionID)"
            fields[.eTag] = created.etag
            fields[HTTPField.Name("Accept-Patch")!] = "application/trickle-ice-sdpfrag"
            for link in links { fields.append(HTTPField(name: HTTPField.Name("Link")!, value: link)) }
            responder.respond(HTTPServerResponse(status: .created, headerFields: fields, body: Array(created.answer.utf8)))
        case .failure(let error):
            responder.respond(Self.response(for: error))
        }
    }

    /// A room error as the client sees it: its status, its one-line reason and, for a busy
    /// core, `Retry-After` (RFC 9110 §10.2.3) so a client or a load balancer backs off.
    static func response(for error: RoomError) -> HTTPServerResponse {
        var response = HTTPServerResponse.error(HTTPResponse.Status(code: error.status), error.description)
        if let seconds = error.retryAfterSeconds { response.head.headerFields[.retryAfter] = "\(seconds)" }
        return response
    }

    // MARK: - Several nodes (CLUSTER_REDIS_URL)

    /// WHIP: the room is claimed in the directory for this node first; another node's room is a
    /// 409 as on one node. While the directory cannot answer the publish is refused (503): a
    /// node that published without it could hold a room another node holds too (split brain).
    private func claimThenPublish(
        _ directory: ClusterDirectory, room: RoomName, offer: SessionDescription, request: HTTPServerRequest,
        _ responder: HTTPResponder
    ) {
        ask(directory, .claim(room: room.value), responder) { reply, responder in
            switch reply {
            case .claimed:
                self.createLocally(.publisher, room: room, offer: offer, request: request, responder)
            case .heldBy(let node):
                responder.respond(.error(.conflict, "room already has a publisher (on node \(node))"))
            case .unavailable(let reason):
                responder.respond(.error(.serviceUnavailable, "\(reason); publishing needs the directory to confirm the room is free"))
            case .located, .listing, .routed:
                responder.respond(.error(.internalServerError, "unexpected directory answer"))
            }
        }
    }

    /// WHEP: a room with its publisher here plays here without the directory; otherwise the
    /// directory says where it is. Nobody holds it: the viewer waits here, as on one node. Another
    /// node holds it: `CLUSTER_MODE=redirect` answers 307 to the `NODE_URL` + this path of the
    /// least loaded node that carries it (its origin or an edge relaying it, `RedirectChoice`);
    /// `edge` plays it here from this node's relay of it (`playOnEdge`).
    private func playHereOrThere(
        _ directory: ClusterDirectory, room: RoomName, offer: SessionDescription, request: HTTPServerRequest,
        _ responder: HTTPResponder
    ) {
        let settings = directory.settings
        onOwner(of: room.value, responder) { rooms, _ in
            rooms.hasPublisher(room: room.value)
        } then: { here, responder in
            if here {
                self.createLocally(.viewer, room: room, offer: offer, request: request, responder)
                return
            }
            let question: DirectoryRequest = settings.mode == .redirect ? .route(room: room.value) : .locate(room: room.value)
            self.ask(directory, question, responder) { reply, responder in
                switch reply {
                case .located(nil), .routed(nil, _):
                    self.createLocally(.viewer, room: room, offer: offer, request: request, responder)
                    // An edge pulls the room once a publisher appears on another node.
                    if settings.mode == .edge { self.watchOnEdge(room) }
                case .located(let origin?) where origin.id == settings.nodeID,
                    .routed(let origin?, _) where origin.id == settings.nodeID:
                    self.createLocally(.viewer, room: room, offer: offer, request: request, responder)
                case .located(let origin?) where settings.mode == .edge:
                    self.playOnEdge(room: room, origin: origin, offer: offer, request: request, responder)
                case .located(let origin?):
                    responder.respond(Self.redirect(to: origin, request: request))
                case .routed(let origin?, let carriers):
                    let target = RedirectChoice.target(origin: origin, carriers: carriers, excluding: settings.nodeID)
                    responder.respond(Self.redirect(to: target, request: request))
                case .unavailable(let reason):
                    responder.respond(.error(.serviceUnavailable, "\(reason); room \(room.value) is not held on this node"))
                case .claimed, .heldBy, .listing:
                    responder.respond(.error(.internalServerError, "unexpected directory answer"))
                }
            }
        }
    }

    /// `CLUSTER_MODE=redirect`'s answer to a WHEP for a room `node` carries: 307 to it.
    static func redirect(to node: NodeEntry, request: HTTPServerRequest) -> HTTPServerResponse {
        guard let url = node.url else {
            return .error(.serviceUnavailable, "cannot send you to the room's node: \(node.refusal ?? "no usable URL")")
        }
        var response = HTTPServerResponse.text(.temporaryRedirect, "room is on node \(node.id)")
        response.head.headerFields[.location] = url.location(path: request.path, query: request.query)
        return response
    }

    /// `CLUSTER_MODE=edge`: the viewer plays here, the room pulled from `origin` by this
    /// node's one relay of it (`EdgeRelays`, on the room's core). A relay that cannot be set
    /// up (origin unreachable, refusing, answering garbage: one bounded exchange) is a 503.
    private func playOnEdge(
        room: RoomName, origin: NodeEntry, offer: SessionDescription, request: HTTPServerRequest,
        _ responder: HTTPResponder
    ) {
        let cores = self.cores
        guard cores.count > coreIndex else {
            responder.respond(.error(.serviceUnavailable, "server is starting"))
            return
        }
        let client = request.remoteAddress
        let back = cores[coreIndex]
        let box = CoreBound(ResultHandler<Result<SessionCreated, EdgePlayError>>(responder: responder) { result, responder in
            switch result {
            case .success(let created): self.respond(.success(created), room: room, responder)
            case .failure(.room(let error)): self.respond(.failure(error), room: room, responder)
            case .failure(.relay(let reason)): responder.respond(.error(.serviceUnavailable, "edge relay: \(reason)"))
            }
        })
        let posted = viaOwner(of: room.value, creating: true) { loop, rooms, ticket in
            guard let context = loop.context as? CoreContext, let edge = context.edge else {
                rooms.handledPlaced(room.value, ticket)
                back.execute { box.value?.deliver(.failure(.relay("this node is not an edge"))) }
                return
            }
            edge.play(room: room, origin: origin) { outcome in
                // The relay (and with it the room) is made now, not when `play` returned.
                defer { rooms.handledPlaced(room.value, ticket) }
                let result: Result<SessionCreated, EdgePlayError>
                switch outcome {
                case .ready:
                    do throws(RoomError) {
                        result = .success(try context.rooms.play(room: room, offer: offer, client: client, now: loop.now))
                    } catch {
                        result = .failure(.room(error))
                    }
                case .failed(let reason):
                    result = .failure(.relay(reason))
                }
                back.execute { box.value?.deliver(result) }
            }
        }
        if !posted { responder.respond(.error(.serviceUnavailable, "server is shutting down")) }
    }

    /// Asks the room's core to pull `room` when another node comes to hold it (`EdgeRelays.watch`).
    private func watchOnEdge(_ room: RoomName) {
        let cores = self.cores
        guard cores.count > coreIndex else { return }
        _ = viaOwner(of: room.value, creating: false) { loop, rooms, ticket in
            (loop.context as? CoreContext)?.edge?.watch(room: room)
            rooms.handledPlaced(room.value, ticket)
        }
    }

    /// An edge node's relay of `room` (`RelayExchange`; the request passed `CLUSTER_TOKEN`):
    /// served only by the room's origin — the node with its publisher — and never relayed on,
    /// so a relay loop (A pulls from B pulls from A) is refused at its first hop.
    private func serveRelay(
        _ role: PeerSession.Role, for edge: String, room: RoomName, offer: SessionDescription,
        request: HTTPServerRequest, _ responder: HTTPResponder
    ) {
        guard role == .viewer, ClusterSettings.isValidNodeID(edge) else {
            responder.respond(.error(.badRequest, "a relay request is a WHEP from a node (\(RelayExchange.header): <NODE_ID>)"))
            return
        }
        onOwner(of: room.value, responder) { rooms, _ in
            rooms.hasPublisher(room: room.value)
        } then: { held, responder in
            guard held else {
                responder.respond(
                    .error(
                        HTTPResponse.Status(code: RelayExchange.loopStatus),
                        "this node does not hold room \(room.value) (no publisher here): it relays only rooms it holds"))
                return
            }
            self.createLocally(.viewer, room: room, offer: offer, request: request, relayFor: edge, responder)
        }
    }

    /// Asks the directory thread; `then` runs back on this core with its answer.
    func ask(
        _ directory: ClusterDirectory, _ request: DirectoryRequest, _ responder: HTTPResponder,
        then: @escaping (DirectoryReply, HTTPResponder) -> Void
    ) {
        let cores = self.cores
        guard cores.count > coreIndex else {
            responder.respond(.error(.serviceUnavailable, "server is starting"))
            return
        }
        let back = cores[coreIndex]
        let box = CoreBound(ResultHandler(responder: responder, then: then))
        directory.submit(request) { reply in
            back.execute { box.value?.deliver(reply) }
        }
    }

    /// `GET /api/cluster/node` (`CLUSTER_TOKEN`): this node as the directory knows it.
    private func clusterNode(_ responder: HTTPResponder) {
        guard let directory else {
            responder.respond(.error(.notFound, "this node is not in a cluster (CLUSTER_REDIS_URL is not set)"))
            return
        }
        let f = directory.metrics.current
        var o = JSONWriter()
        o.beginObject()
        o.field("node", directory.settings.nodeID)
        o.field("url", directory.settings.nodeURL.text)
        o.field("mode", directory.settings.mode.rawValue)
        o.field("connected", f.linkUp)
        o.field("registered", f.registered)
        o.field("claims", f.claims)
        o.endObject()
        responder.respond(.json(.ok, o.text))
    }

    // MARK: - Sessions

    private func deleteSession(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        let room = request.pathParameters["room"] ?? ""
        let id = request.pathParameters["id"] ?? ""
        // A publisher that leaves lets its room go in the directory at once, not at the next beat.
        let directory = self.directory
        onSessionCore(room: room, id: id, responder) { rooms, now in
            rooms.endSession(room: room, id: id, now: now)
        } then: { found, responder in
            if found { directory?.beatSoon() }
            responder.respond(found ? .text(.ok, "session ended") : .error(.notFound, "no such session"))
        }
    }

    /// RFC 9725 §4.3: trickle candidates (204) or an ICE restart (200 with new credentials).
    private func patchSession(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        guard Self.mediaType(request.head.headerFields[.contentType]) == "application/trickle-ice-sdpfrag" else {
            responder.respond(.error(.unsupportedMediaType, "Content-Type must be application/trickle-ice-sdpfrag"))
            return
        }
        let fragment: TrickleFragment
        do {
            fragment = try TrickleFragment.parse(String(decoding: request.body, as: UTF8.self))
        } catch {
            responder.respond(.error(.badRequest, "malformed trickle fragment: \(error)"))
            return
        }
        let room = request.pathParameters["room"] ?? ""
        let id = request.pathParameters["id"] ?? ""
        let ifMatch = request.head.headerFields[.ifMatch]
        onSessionCore(room: room, id: id, responder) { rooms, now in
            rooms.patch(room: room, id: id, fragment: fragment, ifMatch: ifMatch, now: now)
        } then: { result, responder in
            switch result {
            case .success(.trickleAccepted):
                responder.respond(HTTPServerResponse(status: .noContent))
            case .success(.restarted(let answer, let etag)):
                var fields = HTTPFields()
                fields[.contentType] = "application/trickle-ice-sdpfrag"
                fields[.eTag] = etag
                responder.respond(HTTPServerResponse(status: .ok, headerFields: fields, body: Array(answer.utf8)))
            case .failure(let error):
                responder.respond(.error(HTTPResponse.Status(code: error.status), error.description))
            }
        }
    }

    /// Simulcast: the body names a layer by RID, or `auto`, and/or a temporal cap
    /// (`temporal=0`-`3`, `temporal=auto`; `LayerSelection`); the answer names what the viewer
    /// is moving to (a layer at its next keyframe) or is on.
    private func selectLayer(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        // Parsed (and a bad one counted) on the session's core: `LayerSelection`.
        let body = request.body.count <= LayerSelection.maximumBytes ? String(decoding: request.body, as: UTF8.self) : ""
        let room = request.pathParameters["room"] ?? ""
        let id = request.pathParameters["id"] ?? ""
        onSessionCore(room: room, id: id, responder) { rooms, now in
            rooms.selectLayers(room: room, id: id, body: body, now: now)
        } then: { result, responder in
            switch result {
            case .success(let rid): responder.respond(.text(.ok, rid))
            case .failure(let error): responder.respond(.error(HTTPResponse.Status(code: error.status), error.description))
            }
        }
    }

    // MARK: - Listing and admin

    /// Rooms with a `ROOM_TOKENS` entry of their own are left out unless `identity` opens them.
    private func listRooms(identity: AuthIdentity, _ responder: HTTPResponder) {
        let authenticator = self.authenticator
        let directory = self.directory
        gather({ rooms, now in rooms.snapshot(now: now) }) { perCore in
            let listed = RoomSnapshot.merged(Array(perCore.joined())).sorted(by: { $0.name < $1.name }).filter {
                authenticator.mayList(room: $0.name, to: identity)
            }
            guard let directory else {
                responder.respond(.json(.ok, RoomListingJSON.text(rooms: listed)))
                return
            }
            // With a directory: each room's origin, the rooms held elsewhere, the nodes.
            self.ask(directory, .listing, responder) { reply, responder in
                var view = RoomListingJSON.ClusterView(node: directory.settings.nodeID)
                switch reply {
                case .listing(let listing):
                    view.listing = listing
                    view.listing?.origins = listing.origins.filter { authenticator.mayList(room: $0.key, to: identity) }
                case .unavailable(let reason):
                    view.unavailable = reason
                default:
                    view.unavailable = "unexpected directory answer"
                }
                responder.respond(.json(.ok, RoomListingJSON.text(rooms: listed, cluster: view)))
            }
        }
    }

    private func closeRoom(_ request: HTTPServerRequest, _ responder: HTTPResponder) {
        let room = request.pathParameters["room"] ?? ""
        onOwner(of: room, responder) { rooms, now in
            rooms.closeRoom(room, now: now)
        } then: { found, responder in
            responder.respond(found ? .text(.ok, "room closed") : .error(.notFound, "no such room"))
        }
    }

    // MARK: - Cross-core plumbing

    /// Runs `work` on the core that owns `room` and `then` back on this core; `creating`: the
    /// request may make the room (placed by load when new). A room that is nowhere and not made
    /// runs `work` on its home core, which answers as for a room that does not exist. When a
    /// core's loop is gone (shutdown) the client gets a 503.
    func onOwner<T: Sendable>(
        of room: String, creating: Bool = false, _ responder: HTTPResponder?,
        _ work: @escaping @Sendable (RoomManager, Instant) -> T,
        then: @escaping (T, HTTPResponder) -> Void
    ) {
        let cores = self.cores
        guard cores.count > coreIndex else {
            responder?.respond(.error(.serviceUnavailable, "server is starting"))
            return
        }
        let back = cores[coreIndex]
        let box = CoreBound(ResultHandler(responder: responder, then: then))
        let posted = viaOwner(of: room, creating: creating) { loop, rooms, ticket in
            let result = work(rooms, loop.now)
            rooms.handledPlaced(room, ticket)
            back.execute { box.value?.deliver(result) }
        }
        if !posted { responder?.respond(.error(.serviceUnavailable, "server is shutting down")) }
    }

    /// Runs `body` on the core that owns `room`, reached through the room's home core
    /// (`RoomManager.owner(ofRoom:creating:)`: one mailbox hop there, one on), with the
    /// request's ticket, which `body` hands back (`handledPlaced`) once the request made or
    /// left the room. Without a placement (and not `creating`) `body` runs on the home with
    /// none. False when the home's loop is gone.
    func viaOwner(
        of room: String, creating: Bool,
        _ body: @escaping @Sendable (EventLoop, RoomManager, RoomTicket?) -> Void
    ) -> Bool {
        let cores = self.cores
        guard cores.count > coreIndex else { return false }
        return cores[RoomPlacement.core(forRoom: room, cores: cores.count)].execute { (loop: EventLoop) in
            guard let home = (loop.context as? CoreContext)?.rooms else { return }
            let ticket = home.owner(ofRoom: room, creating: creating)
            guard let ticket, ticket.core != loop.index else {
                body(loop, home, ticket)
                return
            }
            let sent = cores[ticket.core].execute { (loop: EventLoop) in
                guard let owner = (loop.context as? CoreContext)?.rooms else { return }
                body(loop, owner, ticket)
            }
            if !sent { home.placementUnreachable(room, ticket) }
        }
    }

    /// Runs `work` on core `core`'s rooms and `then` back on this core (503 when that core's
    /// loop is gone).
    func on<T: Sendable>(
        core: Int, _ responder: HTTPResponder?,
        _ work: @escaping @Sendable (RoomManager, Instant) -> T,
        then: @escaping (T, HTTPResponder) -> Void
    ) {
        let cores = self.cores
        let back = cores[coreIndex]
        let box = CoreBound(ResultHandler(responder: responder, then: then))
        let posted = cores[core].execute { (loop: EventLoop) in
            guard let rooms = (loop.context as? CoreContext)?.rooms else { return }
            let result = work(rooms, loop.now)
            back.execute { box.value?.deliver(result) }
        }
        if !posted { responder?.respond(.error(.serviceUnavailable, "server is shutting down")) }
    }

    /// Runs `work` on the core a session is on (its ID names it: a shard's viewer is not on its
    /// room's owner), and `then` back on this core; an ID naming no core goes to the owner,
    /// which answers 404.
    func onSessionCore<T: Sendable>(
        room: String, id: String, _ responder: HTTPResponder?,
        _ work: @escaping @Sendable (RoomManager, Instant) -> T,
        then: @escaping (T, HTTPResponder) -> Void
    ) {
        let cores = self.cores
        guard let core = RoomManager.core(ofSession: id), core < cores.count else {
            onOwner(of: room, responder, work, then: then)
            return
        }
        on(core: core, responder, work, then: then)
    }

    /// Runs `work` on every core's rooms and calls `done` on this core with all results.
    func gather<T: Sendable>(
        _ work: @escaping @Sendable (RoomManager, Instant) -> T, done: @escaping ([T]) -> Void
    ) {
        let cores = self.cores
        guard cores.count > coreIndex else { return done([]) }
        CoreGather.gather(handles: cores, origin: cores[coreIndex], { loop in
            (loop.context as? CoreContext).map { work($0.rooms, loop.now) }
        }, done: done)
    }

    /// `application/sdp; charset=utf-8` → `application/sdp`.
    static func mediaType(_ value: String?) -> String? {
        guard let value else { return nil }
        return value.split(separator: ";").first.map { $0.trimmingASCIISpaces().lowercased() }
    }
}

/// Why an edge could not take a viewer: the room refused it, or its relay could not be set up.
private enum EdgePlayError: Error {
    case room(RoomError)
    case relay(String)
}

/// Holds a cross-core request's continuation on its home core.
private final class ResultHandler<T> {
    let responder: HTTPResponder?
    let then: (T, HTTPResponder) -> Void

    init(responder: HTTPResponder?, then: @escaping (T, HTTPResponder) -> Void) {
        self.responder = responder
        self.then = then
    }

    func deliver(_ value: T) {
        then(value, responder ?? HTTPResponder.detached { _ in })
    }
}

extension Substring {
    func trimmingASCIISpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
