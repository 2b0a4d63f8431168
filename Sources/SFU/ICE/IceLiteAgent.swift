import Reactor

/// The server side of ICE for one session: an ICE-lite agent (RFC 8445 §2.5).
///
/// It answers the peer's binding requests after checking the short-term credentials,
/// remembers which source addresses passed a check, selects the address the controlling peer
/// nominates with USE-CANDIDATE, and tracks consent freshness (RFC 7675): media may only go
/// to `selectedAddress` while `consentExpired(now:)` is false.
///
/// The first nomination is taken at once (unless `reachableAddress` says otherwise). Moving an
/// existing selection to a new address
/// takes more than a nominating check from there: a check proves only that someone sent the
/// peer's signed bytes, and anyone who saw one on the path can replay it with a forged source
/// address to aim the session's media at a victim. So the agent confirms the new address with
/// a binding request of its own (`pollProbe`), signed with the peer's password and carrying a
/// fresh random transaction ID; only a correctly signed answer to it, from that address,
/// moves the selection. That is a consent check of our own in the sense of RFC 7675 §5.1;
/// waiting for further checks from the new address would prove nothing, since those could be
/// replays too. Moves are rate-limited (`maxAddressChanges` per `addressChangeWindow`), and a
/// check whose transaction ID was just seen from another address is not answered (a replay).
/// Core-confined: not `Sendable`.
public final class IceLiteAgent {
    /// What `handle` did with one datagram.
    public struct Result: Equatable {
        /// Bytes of `reply` to send back to the source address; 0 when nothing is sent.
        public var replyLength: Int
        /// True when this check nominated a new `selectedAddress`.
        public var selectedAddressChanged: Bool
        /// Why the datagram was not answered with a success, for counters and logs.
        public var rejection: Rejection?
        /// True when the peer nominated (or confirmed) a new address but the rate limit on
        /// address changes kept media where it is.
        public var moveRateLimited = false
    }

    /// Reasons a datagram was not a valid check.
    public enum Rejection: Equatable, Sendable, CustomStringConvertible {
        /// Not parseable as STUN.
        case malformed(StunError)
        /// FINGERPRINT present and wrong: not ours to answer (RFC 7983 demux safety).
        case badFingerprint
        /// Not a Binding request (responses and indications are ignored).
        case notARequest
        /// USERNAME or MESSAGE-INTEGRITY missing: answered 400.
        case missingCredentials
        /// USERNAME names another session or peer: answered 401.
        case unknownUsername
        /// MESSAGE-INTEGRITY wrong: answered 401.
        case badIntegrity
        /// Unknown comprehension-required attributes: answered 420.
        case unknownAttributes
        /// The peer also claims the controlled role: answered 487.
        case roleConflict
        /// The reply did not fit the caller's buffer.
        case replyTooLarge
        /// A valid check whose transaction ID recently came from another address: a replay,
        /// not answered.
        case replayedTransaction
        /// The peer refused our confirmation request for a new address (an error response).
        case probeRefused

        public var description: String {
            switch self {
            case .malformed(let e): "malformed STUN: \(e)"
            case .badFingerprint: "STUN FINGERPRINT mismatch"
            case .notARequest: "STUN message is not a Binding request"
            case .missingCredentials: "STUN request without USERNAME or MESSAGE-INTEGRITY"
            case .unknownUsername: "STUN USERNAME does not match this session"
            case .badIntegrity: "STUN MESSAGE-INTEGRITY does not match the session password"
            case .unknownAttributes: "STUN request has unknown comprehension-required attributes"
            case .roleConflict: "ICE role conflict: peer is not controlling"
            case .replyTooLarge: "STUN reply does not fit the buffer"
            case .replayedTransaction: "STUN transaction ID replayed from another address"
            case .probeRefused: "the peer refused the check that confirms its new address"
            }
        }
    }

    /// How long consent lasts after the last valid check (RFC 7675 §5.1).
    public static let consentTimeout = Duration.seconds(30)
    /// How many distinct validated source addresses are remembered.
    static let maxValidatedAddresses = 8
    /// At most this many confirmed moves of `selectedAddress` per `addressChangeWindow` (a
    /// NAT rebinding or a network change is a move; a peer that moves faster is refused until
    /// the window has passed and keeps its current address).
    public static let maxAddressChanges = 4
    public static let addressChangeWindow = Duration.seconds(60)
    /// A confirmation request is sent again after this long without an answer, at most
    /// `probeAttempts` times in all; then the move is dropped until the peer nominates the
    /// address again. One address is confirmed at a time, and each request is no larger than
    /// the check that caused it, so a replayed check cannot make the server amplify anything.
    public static let probeInterval = Duration.milliseconds(250)
    public static let probeAttempts = 5
    /// Transaction IDs remembered (with their source) to refuse replays from other addresses.
    static let recentTransactionCount = 8
    /// PRIORITY of our own checks: a host candidate (RFC 8445 §5.1.2.1).
    static let localPriority: UInt32 = 126 << 24 | 65535 << 8 | 255

    /// A confirmation of a new address that is in progress.
    private struct Probe {
        var address: SocketAddress
        var transactionID: StunTransactionID
        var sentAt: Instant
        var sends: Int
    }

    public private(set) var localUfrag: String
    private var localUfragBytes: [UInt8]
    private var localPasswordBytes: [UInt8]
    private var remoteUfragBytes: [UInt8]
    private var remoteUfrag: String
    /// The peer's password, from its SDP: it signs our confirmation requests (and the peer's
    /// answers to them are checked with it).
    public private(set) var remotePassword: String?
    private var remotePasswordBytes: [UInt8]
    /// ICE-CONTROLLED of our requests (a lite agent never has a role conflict to break).
    private let tieBreaker = RandomToken.value(in: 0 ... UInt64.max)

    /// The address media goes to: the last one nominated by a valid USE-CANDIDATE check.
    public private(set) var selectedAddress: SocketAddress?
    /// Time of the last valid check from `selectedAddress`.
    public private(set) var lastConsent: Instant?
    private var validated: [SocketAddress]
    private var validatedNext = 0
    private var probe: Probe?
    /// An address already proven to reach the peer by a round trip of another protocol: the
    /// owner sets it when DTLS completes before any nomination. From then on a first
    /// nomination of any other address is confirmed like a move, so a peer cannot finish DTLS
    /// from its own address and then nominate someone else's (with a forged source) to have
    /// the media sent there at once.
    public var reachableAddress: SocketAddress?
    /// Times of the recent confirmed moves, oldest first (at most `maxAddressChanges`).
    private var recentMoves: [Instant] = []
    private var recentTransactions: [(id: StunTransactionID, source: SocketAddress)] = []
    private var recentTransactionsNext = 0

    /// `remoteUfrag` empty means "not known yet": the remote half of USERNAME is not checked.
    public init(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String?) {
        self.localUfrag = localUfrag
        localUfragBytes = Array(localUfrag.utf8)
        localPasswordBytes = Array(localPassword.utf8)
        remoteUfragBytes = Array(remoteUfrag.utf8)
        self.remoteUfrag = remoteUfrag
        self.remotePassword = remotePassword
        remotePasswordBytes = Array((remotePassword ?? "").utf8)
        validated = []
        validated.reserveCapacity(Self.maxValidatedAddresses)
    }

    /// ICE restart (RFC 8445 §9): new credentials from a renegotiation. The selected address
    /// stays in use until the peer nominates again with the new credentials, so media does
    /// not stop during the restart. A restart after a network change nominates from a new
    /// address: that move is confirmed with the new credentials like any other.
    public func restart(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String?) {
        self.localUfrag = localUfrag
        localUfragBytes = Array(localUfrag.utf8)
        localPasswordBytes = Array(localPassword.utf8)
        remoteUfragBytes = Array(remoteUfrag.utf8)
        self.remoteUfrag = remoteUfrag
        self.remotePassword = remotePassword
        remotePasswordBytes = Array((remotePassword ?? "").utf8)
        probe = nil  // signed with the old credentials: the peer would no longer answer it
    }

    /// The address being confirmed before media moves there, if any.
    public var probeAddress: SocketAddress? { probe?.address }

    /// The confirmation request that is due (its first send or a retry), written into `out`
    /// for the returned address; nil when none is due. Call after `handle` and at
    /// `nextProbeTime`.
    public func pollProbe(now: Instant, out: UnsafeMutableRawBufferPointer) -> (length: Int, to: SocketAddress)? {
        guard var p = probe else { return nil }
        if p.sends > 0, now < p.sentAt + Self.probeInterval { return nil }
        guard p.sends < Self.probeAttempts else {
            probe = nil  // unanswered: the peer can nominate the address again
            return nil
        }
        var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: p.transactionID)
        // USERNAME "peer:ours", signed with the peer's password (RFC 8445 §7.2.2).
        b.addUsername(remoteUfrag + ":" + localUfrag)
        b.addPriority(Self.localPriority)
        b.addIceControlled(tieBreaker)
        b.addMessageIntegrity(key: remotePasswordBytes)
        b.addFingerprint()
        guard let length = try? b.finish() else {
            probe = nil
            return nil
        }
        p.sends += 1
        p.sentAt = now
        probe = p
        return (length, p.address)
    }

    /// When `pollProbe` next has something to do (a retry, or dropping an unanswered probe).
    public var nextProbeTime: Instant? { probe.map { $0.sentAt + Self.probeInterval } }

    /// Where media may be sent now: the selected address while consent is fresh, else nil.
    public func sendAddress(now: Instant) -> SocketAddress? {
        consentExpired(now: now) ? nil : selectedAddress
    }

    /// True when `address` has sent a valid check (media may go there).
    public func isAddressValidated(_ address: SocketAddress) -> Bool {
        validated.contains(address)
    }

    /// True once a selected address has gone `consentTimeout` without a valid check.
    /// Before any nomination there is no consent to expire (the session's own setup timeout
    /// covers peers that never connect).
    public func consentExpired(now: Instant) -> Bool {
        guard selectedAddress != nil, let last = lastConsent else { return false }
        return !(now - last < Self.consentTimeout)
    }

    /// Handles one STUN datagram from `source`, writing any answer into `reply`.
    public func handle(
        stun bytes: UnsafeRawBufferPointer, from source: SocketAddress, now: Instant,
        reply: UnsafeMutableRawBufferPointer
    ) -> Result {
        let message: StunMessage
        do { message = try StunMessage(parsing: bytes) } catch {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .malformed(error))
        }
        if message.fingerprintOffset != nil {
            do { try message.validateFingerprint() } catch {
                return Result(replyLength: 0, selectedAddressChanged: false, rejection: .badFingerprint)
            }
        }
        if message.type == .bindingSuccess || message.type == .bindingError {
            return handleProbeResponse(message, from: source, now: now)
        }
        guard message.type == .bindingRequest else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .notARequest)
        }
        // RFC 8489 §9.1.3: credentials first, then unknown attributes.
        guard let user = message.usernameBytes, message.messageIntegrityOffset != nil else {
            return errorReply(400, "Bad Request", to: message, source: source, reply: reply, signed: false,
                         rejection: .missingCredentials)
        }
        guard usernameMatches(user) else {
            return errorReply(401, "Unauthorized", to: message, source: source, reply: reply, signed: false,
                         rejection: .unknownUsername)
        }
        do { try message.validateMessageIntegrity(key: localPasswordBytes) } catch {
            return errorReply(401, "Unauthorized", to: message, source: source, reply: reply, signed: false,
                         rejection: .badIntegrity)
        }
        // Only authenticated checks get here, so only the peer's own (or replayed) transaction
        // IDs fill the list. A retransmission from the same address is answered again.
        guard !isReplay(message.transactionID, from: source) else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .replayedTransaction)
        }
        if message.unknownComprehensionRequiredCount > 0 {
            return errorReply(420, "Unknown Attribute", to: message, source: source, reply: reply, signed: true,
                         rejection: .unknownAttributes)
        }
        // A lite agent is always controlled (RFC 8445 §6.1.1); a peer that is controlled
        // too must switch, which a 487 tells it.
        if message.iceControlled != nil && message.iceControlling == nil {
            return errorReply(487, "Role Conflict", to: message, source: source, reply: reply, signed: true,
                         rejection: .roleConflict)
        }

        var b = StunMessageBuilder(into: reply, type: .bindingSuccess, transactionID: message.transactionID)
        b.addXorMappedAddress(source)
        b.addMessageIntegrity(key: localPasswordBytes)
        b.addFingerprint()
        let length: Int
        do { length = try b.finish() } catch {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .replyTooLarge)
        }

        remember(source)
        var changed = false
        var rateLimited = false
        if message.useCandidate, selectedAddress != source {
            if selectedAddress == nil, reachableAddress == nil || reachableAddress == source {
                // The first nomination: nothing to redirect yet, and DTLS must still complete
                // with this address (its answers go here) before any media flows.
                selectedAddress = source
                changed = true
            } else {
                rateLimited = !startProbe(of: source, now: now)
            }
        }
        if selectedAddress == source { lastConsent = now }
        return Result(
            replyLength: length, selectedAddressChanged: changed, rejection: nil, moveRateLimited: rateLimited)
    }

    /// A nominating check from a new address: confirm it before media moves there. False
    /// when the rate limit refuses the move.
    private func startProbe(of address: SocketAddress, now: Instant) -> Bool {
        // One address at a time; the peer keeps checking, so a later one gets its turn.
        guard probe == nil else { return true }
        // Without the peer's credentials nothing can be confirmed: media stays where it is.
        guard !remoteUfragBytes.isEmpty, !remotePasswordBytes.isEmpty else { return true }
        guard moveAllowed(now: now) else { return false }
        var rng = RandomToken.Source()
        probe = Probe(address: address, transactionID: StunTransactionID(using: &rng), sentAt: now, sends: 0)
        return true
    }

    /// The peer's answer to a confirmation request: a signed success from the probed address
    /// moves the selection there.
    private func handleProbeResponse(_ message: StunMessage, from source: SocketAddress, now: Instant) -> Result {
        guard let p = probe, message.transactionID == p.transactionID, source == p.address else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .notARequest)
        }
        guard message.messageIntegrityOffset != nil,
            (try? message.validateMessageIntegrity(key: remotePasswordBytes)) != nil
        else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .badIntegrity)
        }
        probe = nil
        guard message.type == .bindingSuccess else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: .probeRefused)
        }
        guard moveAllowed(now: now) else {
            return Result(replyLength: 0, selectedAddressChanged: false, rejection: nil, moveRateLimited: true)
        }
        if recentMoves.count == Self.maxAddressChanges { recentMoves.removeFirst() }
        recentMoves.append(now)
        selectedAddress = source
        lastConsent = now
        return Result(replyLength: 0, selectedAddressChanged: true, rejection: nil)
    }

    /// Fewer than `maxAddressChanges` moves in the last `addressChangeWindow`.
    private func moveAllowed(now: Instant) -> Bool {
        guard recentMoves.count == Self.maxAddressChanges, let oldest = recentMoves.first else { return true }
        return !(now - oldest < Self.addressChangeWindow)
    }

    /// True when `id` was recently seen from another address; else notes it from `source`.
    private func isReplay(_ id: StunTransactionID, from source: SocketAddress) -> Bool {
        for entry in recentTransactions where entry.id == id { return entry.source != source }
        if recentTransactions.count < Self.recentTransactionCount {
            recentTransactions.append((id, source))
        } else {
            recentTransactions[recentTransactionsNext] = (id, source)
            recentTransactionsNext = (recentTransactionsNext + 1) % Self.recentTransactionCount
        }
        return false
    }

    /// USERNAME must be "<our ufrag>:<peer ufrag>" (RFC 8445 §7.2.2).
    private func usernameMatches(_ user: UnsafeRawBufferPointer) -> Bool {
        let l = localUfragBytes.count
        guard user.count > l, user[l] == UInt8(ascii: ":") else { return false }
        for i in 0..<l where user[i] != localUfragBytes[i] { return false }
        if remoteUfragBytes.isEmpty { return true }
        guard user.count - l - 1 == remoteUfragBytes.count else { return false }
        for i in 0..<remoteUfragBytes.count where user[l + 1 + i] != remoteUfragBytes[i] { return false }
        return true
    }

    private func remember(_ address: SocketAddress) {
        if validated.contains(address) { return }
        if validated.count < Self.maxValidatedAddresses {
            validated.append(address)
        } else {
            // Overwrite the oldest entry, but never the selected address.
            if validated[validatedNext] == selectedAddress {
                validatedNext = (validatedNext + 1) % Self.maxValidatedAddresses
            }
            validated[validatedNext] = address
            validatedNext = (validatedNext + 1) % Self.maxValidatedAddresses
        }
    }

    private func errorReply(
        _ code: Int, _ reason: StaticString, to request: StunMessage, source: SocketAddress,
        reply: UnsafeMutableRawBufferPointer, signed: Bool, rejection: Rejection
    ) -> Result {
        var b = StunMessageBuilder(into: reply, type: .bindingError, transactionID: request.transactionID)
        b.addErrorCode(code, reason: reason)
        if code == 420 { b.addUnknownAttributes(of: request) }
        // A 400/401 is not signed: the request could not be authenticated (RFC 8489 §9.1.3).
        if signed { b.addMessageIntegrity(key: localPasswordBytes) }
        b.addFingerprint()
        let length = (try? b.finish()) ?? 0
        return Result(replyLength: length, selectedAddressChanged: false, rejection: rejection)
    }

    /// The local (server) ufrag in a request's USERNAME "serverUfrag:clientUfrag", to route
    /// a first packet from an unknown address to its session. Allocates; first packet only.
    public static func localUfrag(in message: StunMessage) -> Substring? {
        guard let user = message.username, let colon = user.firstIndex(of: ":") else { return nil }
        return user[..<colon]
    }

    /// Non-allocating form of `localUfrag(in:)`: the bytes before the first ':' of USERNAME.
    public static func localUfragBytes(in message: StunMessage) -> UnsafeRawBufferPointer? {
        guard let user = message.usernameBytes else { return nil }
        for i in 0..<user.count where user[i] == UInt8(ascii: ":") {
            return UnsafeRawBufferPointer(rebasing: user[0..<i])
        }
        return nil
    }
}
