import Reactor

/// Instant starts of the whole core, under one budget (`CatchUpBudget`): each turn first
/// sends what is left of every start's keyframe, then the later packets of the starts that are
/// due, earliest start first, until the budget is spent. A storm of joiners thus gets its
/// first pictures first and the rest later, and the live stream keeps its share of the core.
extension RoomManager {
    /// Sends viewers being started what their pace and the core's budget allow; one whose
    /// keyframe left the history first needs a fresh one (a last resort: a start that falls
    /// behind moves on to the next keyframe, `TrackFanout.jumpCatchUpsToLatestKeyframe`).
    func sendInstantStarts(now: Instant) {
        var due: [(Room, TrackFanout)] = []
        for room in rooms.values {
            for f in room.videoLayers where !f.viewersCatchingUp.isEmpty { due.append((room, f)) }
        }
        guard !due.isEmpty else { return }
        catchUpBudget.beginTurn(now: now, bytesPerSecond: configuration.instantStartBytesPerSecond)
        // Rooms take turns at being served first, so one room's storm starves no other start.
        let first = Int(catchUpBudget.turn % UInt64(due.count))
        var aborted: [(Room, TrackFanout)] = []
        for keyframeOnly in [true, false] {
            for k in 0..<due.count {
                let (room, f) = due[(first + k) % due.count]
                if f.sendDueCatchUps(now: now, keyframeOnly: keyframeOnly, budget: &catchUpBudget, output: output) > 0 {
                    aborted.append((room, f))
                }
            }
        }
        for (room, f) in aborted where rooms[room.name] === room { requestKeyframe(room: room, layer: f.layer, now: now) }
        noteCatchUpBudgetFigures()
    }

    /// Brings the budget up to `now` before a start outside the turns (a viewer that has just
    /// connected, a simulcast move) takes its keyframe from it.
    func refillCatchUpBudget(now: Instant) {
        catchUpBudget.refill(now: now, bytesPerSecond: configuration.instantStartBytesPerSecond)
    }

    /// The budget's figures into the core's counters (`/metrics`).
    func noteCatchUpBudgetFigures() {
        counters.instantStartBudgetBytes = catchUpBudget.spentBytes
        counters.instantStartBudgetHeldBack = catchUpBudget.sendsHeldBack
        counters.instantStartBudgetLimitedTurns = catchUpBudget.limitedTurns
    }
}
