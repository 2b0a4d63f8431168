import HTTPTypes
import Reactor
import SFU

/// How a request reaches the core that does its work and comes back: through the room's home
/// core to its owner, to the core a session is on, or to every core; the answer returns
/// through this core's mailbox.
extension RoomRoutes {
    /// Runs `work` on the core that owns `room` and `then` back on this core; `creating`: the
    /// request may make the room (placed by load when new). A room that is nowhere and not made
    /// runs `work` on its home core, which answers as for a room that does not exist. When a
    /// core's loop is gone (shutdown) the client gets a 503.
    func onOwner<T: Sendable>(
        of room: String, creating: Bool = false, _ responder: HTTPResponder?,
        _ work: @escaping @Sendable (RoomManager, Instant) -> T,
        then: @escaping (T, HTTPResponder) -> Void
    ) {
        guard let (back, box) = answerPath(responder, then: then) else { return }
        let posted = viaOwner(of: room, creating: creating) { loop, rooms, ticket in
            let result = work(rooms, loop.now)
            rooms.handledPlaced(room, ticket)
            back.execute { box.value?.deliver(result) }
        }
        if !posted { responder?.respond(.error(.serviceUnavailable, "server is shutting down")) }
    }

    /// Where a cross-core request's answer comes back: this core's handle, and `then` boxed
    /// for it there. Nil before the group has started (the client got a 503).
    func answerPath<T>(
        _ responder: HTTPResponder?, then: @escaping (T, HTTPResponder) -> Void
    ) -> (back: EventLoopHandle, box: CoreBound<ResultHandler<T>>)? {
        let cores = self.cores
        guard cores.count > coreIndex else {
            responder?.respond(.error(.serviceUnavailable, "server is starting"))
            return nil
        }
        return (cores[coreIndex], CoreBound(ResultHandler(responder: responder, then: then)))
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
}

/// Holds a cross-core request's continuation on its home core.
final class ResultHandler<T> {
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
