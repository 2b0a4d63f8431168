import Cluster
import HTTPTypes
import Reactor
import SFU

/// Several nodes (`CLUSTER_REDIS_URL`): a WHIP claims its room in the directory, a WHEP for a
/// room held elsewhere is redirected or played from this node's relay of it, and an edge's
/// relay is served only by the room's origin.
extension RoomRoutes {
    /// WHIP: the room is claimed in the directory for this node first; another node's room is a
    /// 409 as on one node. While the directory cannot answer the publish is refused (503): a
    /// node that published without it could hold a room another node holds too (split brain).
    func claimThenPublish(
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
    func playHereOrThere(
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
    func playOnEdge(
        room: RoomName, origin: NodeEntry, offer: SessionDescription, request: HTTPServerRequest,
        _ responder: HTTPResponder
    ) {
        let client = request.remoteAddress
        let answer = answerPath(responder) { (result: Result<SessionCreated, EdgePlayError>, responder) in
            switch result {
            case .success(let created): self.respond(.success(created), room: room, responder)
            case .failure(.room(let error)): self.respond(.failure(error), room: room, responder)
            case .failure(.relay(let reason)): responder.respond(.error(.serviceUnavailable, "edge relay: \(reason)"))
            }
        }
        guard let (back, box) = answer else { return }
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
    func watchOnEdge(_ room: RoomName) {
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
    func serveRelay(
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
        guard let (back, box) = answerPath(responder, then: then) else { return }
        directory.submit(request) { reply in
            back.execute { box.value?.deliver(reply) }
        }
    }

    /// `GET /api/cluster/node` (`CLUSTER_TOKEN`): this node as the directory knows it.
    func clusterNode(_ responder: HTTPResponder) {
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
}

/// Why an edge could not take a viewer: the room refused it, or its relay could not be set up.
private enum EdgePlayError: Error {
    case room(RoomError)
    case relay(String)
}
