/// Which feedback a viewer's bandwidth estimate comes from (`/api/rooms`, `/metrics` label:
/// a fixed set).
public enum BandwidthSignal: String, Sendable, CaseIterable {
    /// Send-side, from the viewer's transport-cc feedback: delay- and loss-based.
    case transportCC = "transport-cc"
    /// The viewer's own estimate (REMB), lowered by the loss its receiver reports give.
    case remb
    /// Only receiver reports: loss-based, from the rate sent to the viewer.
    case receiverReports = "receiver-reports"
}
