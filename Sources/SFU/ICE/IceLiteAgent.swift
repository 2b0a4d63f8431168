import Reactor

/// The server side of ICE for one session: an ICE-lite agent (RFC 8445 §2.5).
///
/// It never sends checks. It answers the peer's binding requests after checking the
/// short-term credentials, remembers which source addresses passed a check, selects the
/// address the controlling peer nominates with USE-CANDIDATE (and follows it to a new
/// address only after a valid nominating check from there), and tracks consent freshness
/// (RFC 7675): media may only go to `selectedAddress` while `consentExpired(now:)` is false.
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
            }
        }
    }

    /// How long consent lasts after the last valid check (RFC 7675 §5.1).
    public static let consentTimeout = Duration.seconds(30)
    /// How many distinct validated source addresses are remembered.
    static let maxValidatedAddresses = 8

    public private(set) var localUfrag: String
    private var localUfragBytes: [UInt8]
    private var localPasswordBytes: [UInt8]
    private var remoteUfragBytes: [UInt8]
    /// The peer's password, from its SDP; a lite agent has no use for it but keeps it for
    /// ICE restarts and diagnostics.
    public private(set) var remotePassword: String?

    /// The address media goes to: the last one nominated by a valid USE-CANDIDATE check.
    public private(set) var selectedAddress: SocketAddress?
    /// Time of the last valid check from `selectedAddress`.
    public private(set) var lastConsent: Instant?
    private var validated: [SocketAddress]
    private var validatedNext = 0

    /// `remoteUfrag` empty means "not known yet": the remote half of USERNAME is not checked.
    public init(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String?) {
        self.localUfrag = localUfrag
        localUfragBytes = Array(localUfrag.utf8)
        localPasswordBytes = Array(localPassword.utf8)
        remoteUfragBytes = Array(remoteUfrag.utf8)
        self.remotePassword = remotePassword
        validated = []
        validated.reserveCapacity(Self.maxValidatedAddresses)
    }

    /// ICE restart (RFC 8445 §9): new credentials from a renegotiation. The selected address
    /// stays in use until the peer nominates again with the new credentials, so media does
    /// not stop during the restart.
    public func restart(localUfrag: String, localPassword: String, remoteUfrag: String, remotePassword: String?) {
        self.localUfrag = localUfrag
        localUfragBytes = Array(localUfrag.utf8)
        localPasswordBytes = Array(localPassword.utf8)
        remoteUfragBytes = Array(remoteUfrag.utf8)
        self.remotePassword = remotePassword
    }

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
        if message.useCandidate, selectedAddress != source {
            selectedAddress = source
            changed = true
        }
        if selectedAddress == source { lastConsent = now }
        return Result(replyLength: length, selectedAddressChanged: changed, rejection: nil)
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
