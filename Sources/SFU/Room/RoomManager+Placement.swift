import Reactor

/// Which core owns a room: chosen by load when the room is new, and remembered by the room's
/// home core (the core its name hashes to, `RoomPlacement`), which every request for the room
/// passes through (a lookup through the mailbox: one hop more than hashing, a few microseconds,
/// for requests that make sessions, never for media). The home numbers each request it sends
/// on (`RoomTicket.seq`); the owner reports a room it forgot with the number of the last request
/// it handled for it, and the home forgets the placement only when no later request is on its
/// way, so a room never has two owners.
extension RoomManager {
    /// The cores rooms are placed over (1 without a `CoreBoard`).
    var placementCores: Int { board?.cores ?? 1 }

    /// On a room's home core: the core that owns `name` and this request's number; a new room
    /// (`creating`) goes to the lightest core (`CoreBoard`, the home on a tie). Nil: the room is
    /// nowhere and the request does not make it (it is answered as for a room that does not exist).
    public func owner(ofRoom name: String, creating: Bool) -> RoomTicket? {
        if var ticket = placements[name] {
            ticket.seq &+= 1
            placements[name] = ticket
            return ticket
        }
        guard creating else { return nil }
        let core = board?.lightest(owner: coreIndex, margin: 0, maxLoad: configuration.maxCoreLoad) ?? coreIndex
        let ticket = RoomTicket(core: core, seq: 1)
        placements[name] = ticket
        board?.add(core, CoreBoard.roomWeight)
        counters.roomsPlaced &+= 1
        if core != coreIndex { counters.roomsPlacedElsewhere &+= 1 }
        return ticket
    }

    /// On the owner, after a request the home sent on: the room keeps the request's number, or,
    /// when the request left no room here, the home is told it may forget the placement. Nil: a
    /// request for a room placed nowhere, run on its home (nothing to remember).
    public func handledPlaced(_ name: String, _ ticket: RoomTicket?) {
        guard let ticket else { return }
        if let room = rooms[name], room.shardSource == nil {
            room.placementSeq = ticket.seq
        } else {
            tellHome(forgot: name, seq: ticket.seq)
        }
    }

    /// The owner could not be reached (it is stopping): the placement goes.
    public func placementUnreachable(_ name: String, _ ticket: RoomTicket) {
        roomForgotten(name, seq: ticket.seq, by: ticket.core)
    }

    func tellHome(forgot name: String, seq: UInt64) {
        let home = RoomPlacement.core(forRoom: name, cores: placementCores)
        if home == coreIndex {
            roomForgotten(name, seq: seq, by: coreIndex)
        } else {
            shardControl?(home, .roomForgotten(name: name, seq: seq))
        }
    }

    /// On the home: `core` no longer has the room after request `seq`; the placement goes unless
    /// a later request is on its way there (which makes the room again, or reports again).
    func roomForgotten(_ name: String, seq: UInt64, by core: Int) {
        guard let ticket = placements[name], ticket.core == core, ticket.seq == seq else { return }
        placements[name] = nil
        board?.add(core, -CoreBoard.roomWeight)
    }
}

/// A request for a room, sent on by its home core: the owner core and the request's number.
public struct RoomTicket: Sendable {
    public let core: Int
    var seq: UInt64
}
