import Reactor
import SFU

/// The load generator's ICE: the SFU's `IceClientAgent` (controlling, aggressive nomination,
/// answering a full-ICE server's own checks, as Pion sends them) on the one candidate pair a
/// loopback client has, its socket ↔ the answer's first UDP candidate, paced for load.
enum LoadICE {
    /// Checks sent before giving up while unconnected (≈10.7 s at the pacing below).
    static let maxAttempts = 60

    static func agent(
        localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String,
        remote: SocketAddress, seed: UInt64
    ) -> IceClientAgent {
        let ice = IceClientAgent(
            localUfrag: localUfrag, localPassword: localPassword, remoteUfrag: remoteUfrag,
            remotePassword: remotePassword, remoteCandidates: [remote], tieBreaker: seed &* 0x9E37_79B9_7F4A_7C15)
        // 50 ms between the first ten checks, then 200 ms: quick on a healthy server, gentle
        // on a busy one that thousands of joining viewers are checking at once.
        ice.checkPacing = .milliseconds(50)
        ice.retransmitInterval = .milliseconds(50)
        ice.backoffAfter = 10
        ice.backoffInterval = .milliseconds(200)
        ice.maxAttempts = maxAttempts
        ice.checkTimeout = .seconds(15)  // the tries run out first
        ice.consentInterval = .milliseconds(2500)
        // A connected session is never dropped for unanswered consent checks: the load
        // generator counts what arrives, and a server too busy to answer shows in those figures.
        ice.consentTimeout = .seconds(365 * 86_400)
        return ice
    }
}
