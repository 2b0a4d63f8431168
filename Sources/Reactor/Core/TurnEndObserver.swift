/// Called by its loop at the end of every turn, before the loop waits (a UDP socket ends its
/// receive batch and flushes its send queue there).
protocol TurnEndObserver: AnyObject {
    /// Returns true if work is left that the kernel pushed back (the loop then waits briefly).
    func turnEnded() -> Bool
}
