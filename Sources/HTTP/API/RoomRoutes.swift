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
    func createLocally(
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
        let answer = answerPath(responder) { (result: Result<SessionCreated, RoomError>?, responder) in
            self.respond(result, room: room, responder)
        }
        guard let (back, box) = answer else { return }
        let cores = self.cores
        let drain = self.drain
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
    func respond(_ result: Result<SessionCreated, RoomError>?, room: RoomName, _ responder: HTTPResponder) {
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

    /// `application/sdp; charset=utf-8` → `application/sdp`.
    static func mediaType(_ value: String?) -> String? {
        guard let value else { return nil }
        return value.split(separator: ";").first.map { $0.trimmingASCIISpaces().lowercased() }
    }
}

extension Substring {
    func trimmingASCIISpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
