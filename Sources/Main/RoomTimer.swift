import Reactor
import SFU

/// One core's rooms on its loop's clock: `RoomManager.tick` runs at the rooms' own
/// `nextTimeout` rather than at a fixed rate, and moves forward when an input makes
/// something due sooner (`deadlineLowered`). Never sooner than 1 ms from now (a deadline
/// already past is run at once, not in a loop), never later than a second.
final class RoomTimer {
    static let soonest: Duration = .milliseconds(1)
    static let latest: Duration = .seconds(1)
    private unowned let manager: RoomManager
    private unowned let loop: EventLoop
    private var timer: TimerHandle?
    private var scheduledAt: Instant

    init(_ manager: RoomManager, on loop: EventLoop) {
        self.manager = manager
        self.loop = loop
        scheduledAt = loop.now + Self.latest
        // The loop keeps this object alive through its timer, as long as the loop runs.
        timer = loop.scheduleTimer(at: scheduledAt) { self.fire() }
        manager.deadlineLowered = { [unowned self] t in moveForward(to: t) }
    }

    private func fire() {
        let now = loop.now
        manager.tick(now: now)
        manager.board?.setLoad(manager.coreIndex, loop.load.busyFraction)
        schedule(at: manager.nextTimeout ?? now + Self.latest, now: now)
    }

    private func moveForward(to t: Instant) {
        guard t < scheduledAt else { return }
        schedule(at: t, now: loop.now)
    }

    private func schedule(at t: Instant, now: Instant) {
        let soonest = now + Self.soonest
        let latest = now + Self.latest
        scheduledAt = t < soonest ? soonest : (latest < t ? latest : t)
        if let timer { loop.reschedule(timer, at: scheduledAt) }
    }
}
