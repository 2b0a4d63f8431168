import Reactor

/// A full ICE agent in the controlling role (RFC 8445), for the load generator and tests.
///
/// It has one local socket (one host candidate) and checks each remote candidate in turn,
/// paced by `Ta`, with aggressive nomination: every check carries USE-CANDIDATE, and the
/// first pair that succeeds is selected. It answers the peer's own checks (a full-ICE peer
/// such as Pion sends them), keeps consent alive every `consentInterval` once connected
/// (RFC 7675), and fails when nothing succeeds within `checkTimeout` or consent lapses.
/// Drive it with `poll(now:out:)` until it returns nil, `handle(stun:from:now:reply:)` for each
/// STUN datagram, and wake it at `nextWakeUp`. Core-confined: not `Sendable`.
public final class IceClientAgent {
    public enum State: Equatable, Sendable {
        case checking, connected, failed
    }

    private enum PairState { case waiting, inProgress, succeeded, failed }

    private struct Pair {
        var remote: SocketAddress
        var state: PairState = .waiting
        var transactionID = StunTransactionID(hi: 0, lo: 0)
        var lastSent = Instant(nanoseconds: 0)
        var attempts = 0
    }

    /// Pacing between checks (RFC 8445 §14.2 default).
    public var checkPacing = Duration.milliseconds(50)
    /// Retransmission interval of an unanswered check.
    public var retransmitInterval = Duration.milliseconds(250)
    /// Once a pair has been tried this many times, its checks are retransmitted every
    /// `backoffInterval` instead: quick on a healthy server, gentler on a busy one. Never, by default.
    public var backoffAfter = Int.max
    public var backoffInterval = Duration.milliseconds(250)
    /// Tries per pair before it fails.
    public var maxAttempts = 20
    /// Give up if no pair succeeds within this time of the first poll.
    public var checkTimeout = Duration.seconds(10)
    /// Consent refresh period once connected (RFC 7675 §5.1: 4-6 s).
    public var consentInterval = Duration.seconds(5)
    /// Consent is lost after this long without a response (RFC 7675 §5.1).
    public var consentTimeout = Duration.seconds(30)
    /// Checks carry USE-CANDIDATE (aggressive nomination). False sends plain checks, as a peer
    /// using regular nomination does before it nominates (tests of a server that must not
    /// treat a checked pair as nominated); set it back to nominate with the next check.
    public var nominates = true

    public private(set) var state = State.checking
    /// The server address media goes to once connected.
    public private(set) var selectedAddress: SocketAddress?
    public let tieBreaker: UInt64

    private var localUfrag: [UInt8]
    private var localPassword: [UInt8]
    private var remoteUfrag: [UInt8]
    private var remotePassword: [UInt8]
    /// USERNAME of our checks: "remoteUfrag:localUfrag" (RFC 8445 §7.2.2).
    private var outgoingUsername: [UInt8]
    private var pairs: [Pair]
    private var rng: SplitMixRandom
    private var startedAt: Instant?
    private var nextCheckAllowed = Instant(nanoseconds: 0)
    private var consentTransaction: StunTransactionID?
    private var lastConsentSent = Instant(nanoseconds: 0)
    private var lastConsentReceived = Instant(nanoseconds: 0)

    /// PRIORITY of a peer-reflexive candidate from our host socket (RFC 8445 §5.1.2.1).
    static let peerReflexivePriority: UInt32 = 110 << 24 | 65535 << 8 | 255

    public init(
        localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String,
        remoteCandidates: [SocketAddress], tieBreaker: UInt64
    ) {
        self.localUfrag = Array(localUfrag.utf8)
        self.localPassword = Array(localPassword.utf8)
        self.remoteUfrag = Array(remoteUfrag.utf8)
        self.remotePassword = Array(remotePassword.utf8)
        outgoingUsername = Array(remoteUfrag.utf8) + [UInt8(ascii: ":")] + Array(localUfrag.utf8)
        pairs = remoteCandidates.map { Pair(remote: $0) }
        self.tieBreaker = tieBreaker
        rng = SplitMixRandom(seed: tieBreaker ^ 0x5EED)
        if pairs.isEmpty { state = .failed }
    }

    /// ICE restart (RFC 8445 §9, WHIP/WHEP PATCH): both sides' credentials change and the
    /// checks start again on the same candidates. Media stays on the selected address until
    /// a check with the new credentials succeeds and nominates (again) a pair.
    public func restart(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String) {
        self.localUfrag = Array(localUfrag.utf8)
        self.localPassword = Array(localPassword.utf8)
        self.remoteUfrag = Array(remoteUfrag.utf8)
        self.remotePassword = Array(remotePassword.utf8)
        outgoingUsername = Array(remoteUfrag.utf8) + [UInt8(ascii: ":")] + Array(localUfrag.utf8)
        pairs = pairs.map { Pair(remote: $0.remote) }
        consentTransaction = nil
        startedAt = nil
        state = pairs.isEmpty ? .failed : .checking
    }

    /// Produces the next datagram to send, if one is due; call until it returns nil.
    /// The first call starts the check timers.
    public func poll(now: Instant, out: UnsafeMutableRawBufferPointer) -> (length: Int, to: SocketAddress)? {
        if startedAt == nil { startedAt = now }
        switch state {
        case .failed:
            return nil
        case .checking:
            if let start = startedAt, !(now - start < checkTimeout) {
                state = .failed
                return nil
            }
            guard !(now < nextCheckAllowed) else { return nil }
            // A due retransmission first, then the next waiting pair.
            var pick: Int? = nil
            for i in pairs.indices where pairs[i].state == .inProgress {
                if !(now < pairs[i].lastSent + retransmitDelay(pairs[i])) {
                    if pairs[i].attempts >= maxAttempts {
                        pairs[i].state = .failed
                    } else if pick == nil {
                        pick = i
                    }
                }
            }
            if pick == nil { pick = pairs.firstIndex { $0.state == .waiting } }
            if pairs.allSatisfy({ $0.state == .failed }) {
                state = .failed
                return nil
            }
            guard let i = pick else { return nil }
            if pairs[i].state == .waiting {
                pairs[i].transactionID = StunTransactionID(using: &rng)
                pairs[i].state = .inProgress
            }
            pairs[i].attempts += 1
            pairs[i].lastSent = now
            nextCheckAllowed = now + checkPacing
            guard let n = writeCheck(id: pairs[i].transactionID, into: out) else { return nil }
            return (n, pairs[i].remote)
        case .connected:
            guard let selected = selectedAddress else { return nil }
            if !(now - lastConsentReceived < consentTimeout) {
                state = .failed
                return nil
            }
            guard !(now < lastConsentSent + consentInterval) else { return nil }
            let id = StunTransactionID(using: &rng)
            consentTransaction = id
            lastConsentSent = now
            guard let n = writeCheck(id: id, into: out) else { return nil }
            return (n, selected)
        }
    }

    /// When `poll` next has something to do; nil once failed (or before the first poll).
    public var nextWakeUp: Instant? {
        guard let start = startedAt else { return nil }
        switch state {
        case .failed:
            return nil
        case .checking:
            var t = start + checkTimeout
            if pairs.contains(where: { $0.state == .waiting }) { t = min(t, nextCheckAllowed) }
            for p in pairs where p.state == .inProgress {
                t = min(t, max(nextCheckAllowed, p.lastSent + retransmitDelay(p)))
            }
            return t
        case .connected:
            return min(lastConsentSent + consentInterval, lastConsentReceived + consentTimeout)
        }
    }

    /// Handles a STUN datagram from `source`: responses to our checks, and the peer's own
    /// checks (answered into `reply`). Returns the reply length to send back to `source`.
    public func handle(
        stun bytes: UnsafeRawBufferPointer, from source: SocketAddress, now: Instant,
        reply: UnsafeMutableRawBufferPointer
    ) -> Int {
        guard let m = try? StunMessage(parsing: bytes), m.method == StunMessageType.bindingMethod else { return 0 }
        if m.fingerprintOffset != nil {
            guard (try? m.validateFingerprint()) != nil else { return 0 }
        }
        switch m.messageClass {
        case .request:
            return answer(m, from: source, reply: reply)
        case .successResponse, .errorResponse:
            handleResponse(m, from: source, now: now)
            return 0
        case .indication:
            return 0
        }
    }

    private func retransmitDelay(_ p: Pair) -> Duration {
        p.attempts < backoffAfter ? retransmitInterval : backoffInterval
    }

    private func handleResponse(_ m: StunMessage, from source: SocketAddress, now: Instant) {
        guard (try? m.validateMessageIntegrity(key: remotePassword)) != nil else { return }
        if let id = consentTransaction, id == m.transactionID, source == selectedAddress {
            consentTransaction = nil
            if m.messageClass == .successResponse { lastConsentReceived = now }
            return
        }
        guard let i = pairs.firstIndex(where: { $0.state == .inProgress && $0.transactionID == m.transactionID })
        else { return }
        // Checks must be symmetric: the answer comes from where the check went (RFC 8445 §7.2.5.2.1).
        guard pairs[i].remote == source else { return }
        if m.messageClass == .errorResponse {
            // 487 would mean the peer also wants to control; a lite server never says that.
            pairs[i].state = .failed
            if pairs.allSatisfy({ $0.state == .failed }) { state = .failed }
            return
        }
        pairs[i].state = .succeeded
        if state == .checking {
            selectedAddress = source
            state = .connected
            lastConsentReceived = now
            lastConsentSent = now
        }
    }

    private func answer(_ m: StunMessage, from source: SocketAddress, reply: UnsafeMutableRawBufferPointer) -> Int {
        guard let user = m.usernameBytes, usernameIsOurs(user),
            (try? m.validateMessageIntegrity(key: localPassword)) != nil
        else { return 0 }
        // Both controlling: the larger tie-breaker keeps the role (RFC 8445 §7.3.1.1).
        let conflict = m.iceControlling.map { tieBreaker >= $0 } ?? false
        var b = StunMessageBuilder(
            into: reply, type: conflict ? .bindingError : .bindingSuccess, transactionID: m.transactionID)
        if conflict {
            b.addErrorCode(487, reason: "Role Conflict")
        } else {
            b.addXorMappedAddress(source)
        }
        localPassword.withUnsafeBytes { b.addMessageIntegrity(key: $0) }
        b.addFingerprint()
        return (try? b.finish()) ?? 0
    }

    /// The peer's checks carry "localUfrag:remoteUfrag" from our point of view.
    private func usernameIsOurs(_ user: UnsafeRawBufferPointer) -> Bool {
        let l = localUfrag.count
        guard user.count == l + 1 + remoteUfrag.count, user[l] == UInt8(ascii: ":") else { return false }
        for i in 0..<l where user[i] != localUfrag[i] { return false }
        for i in 0..<remoteUfrag.count where user[l + 1 + i] != remoteUfrag[i] { return false }
        return true
    }

    private func writeCheck(id: StunTransactionID, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: id)
        outgoingUsername.withUnsafeBytes { b.addUsername($0) }
        b.addPriority(Self.peerReflexivePriority)
        b.addIceControlling(tieBreaker)
        if nominates { b.addUseCandidate() }
        remotePassword.withUnsafeBytes { b.addMessageIntegrity(key: $0) }
        b.addFingerprint()
        return try? b.finish()
    }
}
