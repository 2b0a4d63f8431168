import Reactor
import SFU

/// The load generator's ICE agent: controlling, full ICE over the one candidate pair a
/// loopback client has (its socket ↔ the server's first UDP candidate). It sends
/// connectivity checks with USE-CANDIDATE (aggressive nomination) until one succeeds, then
/// consent checks every few seconds, and answers the server's own checks, so full-ICE
/// servers (Pion) that nominate only after their own check succeeds work as well as
/// ICE-lite ones (livesfu). Sans-IO: it writes into buffers it is handed.
final class ClientICE {
    let localUfrag: String
    let localPassword: [UInt8]
    let remotePassword: [UInt8]
    let username: String  // "remote:local", what our checks carry
    let tieBreaker: UInt64
    let remote: SocketAddress
    private(set) var connected = false
    private(set) var lastResponse: Instant? = nil
    private(set) var nextCheck: Instant
    private var pending: StunTransactionID
    private var attempts = 0
    private var rng: UInt64
    /// Checks sent before giving up while unconnected (≈10 s at the back-off below).
    static let maxAttempts = 60
    static let consentInterval = Duration.milliseconds(2500)

    init(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String,
         remote: SocketAddress, seed: UInt64, now: Instant) {
        self.localUfrag = localUfrag
        self.localPassword = Array(localPassword.utf8)
        self.remotePassword = Array(remotePassword.utf8)
        username = remoteUfrag + ":" + localUfrag
        self.remote = remote
        rng = seed | 1
        tieBreaker = seed &* 0x9E37_79B9_7F4A_7C15
        nextCheck = now
        pending = StunTransactionID(hi: 0, lo: 0)
    }

    var failed: Bool { !connected && attempts >= Self.maxAttempts }

    private func nextRandom() -> UInt64 {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return rng
    }

    /// Writes a check if one is due; returns its length.
    func pollCheck(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard now >= nextCheck, !failed else { return nil }
        attempts += 1
        let r = nextRandom()
        pending = StunTransactionID(hi: UInt32(truncatingIfNeeded: r >> 32), lo: nextRandom())
        var b = StunMessageBuilder(into: buffer, type: .bindingRequest, transactionID: pending)
        b.addUsername(username)
        b.addPriority(0x6E7F_1EFF)  // peer-reflexive priority for a host candidate
        b.addIceControlling(tieBreaker)
        b.addUseCandidate()
        b.addMessageIntegrity(key: remotePassword)
        b.addFingerprint()
        if connected {
            nextCheck = now + Self.consentInterval
        } else {
            // 50 ms, then back off to 200 ms: quick on a healthy server, gentle on a busy one.
            nextCheck = now + .milliseconds(attempts < 10 ? 50 : 200)
        }
        return try? b.finish()
    }

    /// Handles a STUN datagram; returns the length of a response written into `reply`
    /// (for the server's checks), or nil.
    func handle(_ datagram: UnsafeRawBufferPointer, from: SocketAddress, now: Instant,
                reply: UnsafeMutableRawBufferPointer) -> Int? {
        guard let m = try? StunMessage(parsing: datagram), m.method == StunMessageType.bindingMethod else { return nil }
        switch m.messageClass {
        case .successResponse:
            guard m.transactionID == pending else { return nil }
            guard (try? m.validateMessageIntegrity(key: remotePassword)) != nil else { return nil }
            if !connected {
                connected = true
                nextCheck = now + Self.consentInterval
            }
            lastResponse = now
            return nil
        case .request:
            guard (try? m.validateMessageIntegrity(key: localPassword)) != nil else { return nil }
            var b = StunMessageBuilder(into: reply, type: .bindingSuccess, transactionID: m.transactionID)
            b.addXorMappedAddress(from)
            b.addMessageIntegrity(key: localPassword)
            b.addFingerprint()
            return try? b.finish()
        default:
            return nil
        }
    }
}
