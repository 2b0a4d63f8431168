import COpenSSL
import Reactor

/// One peer's DTLS 1.2 association over OpenSSL, sans-IO: feed received datagrams with
/// `handle(datagram:now:)`, drain `pollDatagram(into:)` and `pollEvent()`, and call
/// `handleTimeout(now:)` at `nextTimeout`. Core-confined (not Sendable).
///
/// Timers: OpenSSL 3.0 schedules DTLS retransmissions on its own clock (`gettimeofday`) and
/// has no way to be handed a time. We reconcile by reading the time left with
/// `DTLSv1_get_timeout` after every call and publishing `nextTimeout = now + left` on the
/// caller's clock; when the caller's timer fires, `handleTimeout` runs
/// `DTLSv1_handle_timeout`, which retransmits if OpenSSL agrees the time is up, and otherwise
/// `nextTimeout` moves by the few ms left. With the Reactor's monotonic clock both agree to
/// within a tick. OpenSSL may also retransmit by itself while reading a datagram that arrives
/// after its deadline (which is what the timer wanted anyway). A simulation on a virtual
/// clock therefore gets retransmissions only as real time passes: its driver must wait for
/// the real clock to reach a deadline it jumps to (see `DTLSTestLink` in the tests). Making
/// OpenSSL 3.0 obey another clock would mean writing its private timer state; not done.
/// Retransmissions start at 50 ms (`DTLS_set_timer_cb`; OpenSSL's default is 1 s), double up
/// to 3.2 s, and the 13th expiry without an answer (≈25 s) fails with `.timedOut`.
///
/// Memory: once connected, the transport frees its `SSL` (≈40 KB in OpenSSL 3.0) and keeps a
/// `DTLSRecordLayer` (the key block) to send close_notify and read the peer's alerts, plus,
/// as the server, its last flight to resend if the client retransmits its Finished.
public final class DTLSTransport {
    /// Where the association is.
    public enum State: Sendable, Hashable {
        case handshaking
        case connected
        case closed
        case failed(DTLSError)
    }

    /// What the owner must act on, drained with `pollEvent()`.
    public enum Event: Sendable, Hashable {
        /// The handshake finished, the peer matched its fingerprint; SRTP can start.
        case connected(SRTPKeys)
        /// The peer sent close_notify.
        case closed
        /// Server: the client sent its Finished again, so it had not received ours: nothing
        /// sent under the new keys before now could be read (a keyframe among it is lost to it).
        /// Our last flight went out again.
        case peerMissedFinished
        /// The handshake failed or the peer stopped answering; the transport is dead.
        case failed(DTLSError)
    }

    /// What was received and dropped, for the session's counters.
    public struct Counters: Sendable, Hashable {
        /// Datagrams that were not well-framed DTLS records (dropped before OpenSSL).
        public var garbageDatagrams = 0
        /// Datagrams received after the transport closed or failed.
        public var datagramsAfterClose = 0
        /// Application-data records received and ignored (WebRTC without data channels).
        public var applicationDataRecords = 0
        /// Flights retransmitted because a timer expired.
        public var retransmissions = 0
        /// Outgoing datagrams dropped because the caller's buffer was too small.
        public var droppedOutgoing = 0
    }

    /// Largest datagram we send: the DTLS MTU. Handshake records are fragmented to fit 1200
    /// bytes so they pass any path that carries media (and TURN's overhead) unfragmented.
    public static let mtu = 1200
    /// Larger than any UDP payload; anything bigger is not a datagram we could have received.
    static let maxReceivedDatagram = 65_535
    static let firstRetransmitMicroseconds: UInt32 = 50_000
    static let maxRetransmitMicroseconds: UInt32 = 3_200_000

    public let role: DTLSRole
    public private(set) var state: State = .handshaking
    /// When to call `handleTimeout(now:)`, on the caller's clock; nil when no timer runs.
    public private(set) var nextTimeout: Instant?
    public private(set) var counters = Counters()

    /// Kept so the shared `SSL_CTX` and BIO method outlive this transport's `SSL`.
    private let identity: DTLSIdentity
    private let remoteFingerprint: DTLSFingerprint
    /// SSL*, nil once connected and compacted into `recordLayer`; internal for tests.
    private(set) var ssl: OpaquePointer?
    private var readBIO: OpaquePointer?  // mem BIO; owned by ssl
    /// After the handshake: what is left of DTLS (see the type's comment).
    private(set) var recordLayer: DTLSRecordLayer?
    /// Whether a connected transport frees its `SSL` (tests turn it off to play a peer that
    /// keeps OpenSSL's own record layer).
    var compactsWhenConnected = true
    /// Server: our last flight (ChangeCipherSpec, Finished), resent when the client's
    /// Finished comes again after we freed the `SSL`. Client: empty.
    private var finalFlight: [[UInt8]] = []
    /// The latest datagrams OpenSSL sent with a ChangeCipherSpec / an encrypted record, and
    /// the next sequence number in that epoch: what `compact` needs. Dropped once connected.
    private var lastChangeCipherSpec: [UInt8]?
    /// The highest record sequence number of the peer's that a compacted transport accepted:
    /// an older or repeated one (a replay) is dropped, as OpenSSL's replay window would.
    private var peerSequence: UInt64?
    private var lastEncrypted: [UInt8]?
    private var writeEpoch: UInt16 = 0
    private var nextWriteSequence: UInt64 = 0
    private var outgoing: [[UInt8]] = []
    private var events: [Event] = []
    /// Whether `releaseBuffersIfIdle` freed OpenSSL's record buffers.
    private var buffersReleased = false
    /// Set by the verify callback so a failed handshake reports why.
    private var verifyFailure: DTLSError?

    /// Creates a transport; `remoteFingerprint` is the peer's SDP `a=fingerprint`
    /// (e.g. `("sha-256", "AB:CD:..")`). A `.server` waits for the ClientHello; a `.client`
    /// sends it on `startHandshake(now:)`.
    public init(identity: DTLSIdentity, role: DTLSRole, remoteFingerprint: (algorithm: String, value: String))
        throws(DTLSError)
    {
        self.identity = identity
        self.role = role
        self.remoteFingerprint = try DTLSFingerprint(
            algorithm: remoteFingerprint.algorithm, value: remoteFingerprint.value)
        ERR_clear_error()
        guard let ssl = SSL_new(identity.context) else { throw .setupFailed(DTLSIdentity.openSSLError()) }
        guard let rbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw .setupFailed(DTLSIdentity.openSSLError())
        }
        guard let wbio = BIO_new(identity.datagramWriteMethod) else {
            BIO_free(rbio)
            SSL_free(ssl)
            throw .setupFailed(DTLSIdentity.openSSLError())
        }
        // An empty read BIO means "no datagram yet" (retry), not end of stream.
        _ = lsfu_BIO_set_mem_eof_return(rbio, -1)
        SSL_set_bio(ssl, rbio, wbio)  // ssl owns both from here
        self.ssl = ssl
        self.readBIO = rbio
        // The callbacks reach this object through these unretained pointers; both die with
        // `ssl` in deinit, before self is gone.
        let me = Unmanaged.passUnretained(self).toOpaque()
        BIO_set_data(wbio, me)
        _ = lsfu_SSL_set_app_data(ssl, me)
        _ = SSL_set_options(ssl, lsfu_SSL_OP_NO_QUERY_MTU())
        _ = lsfu_SSL_set_mtu(ssl, Self.mtu)
        _ = lsfu_DTLS_set_link_mtu(ssl, Self.mtu)
        DTLS_set_timer_cb(ssl) { _, previous in
            previous == 0
                ? DTLSTransport.firstRetransmitMicroseconds
                : min(previous &* 2, DTLSTransport.maxRetransmitMicroseconds)
        }
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client: SSL_set_connect_state(ssl)
        }
    }

    deinit { if let ssl { SSL_free(ssl) } }

    /// Client role: sends the ClientHello. Does nothing for a server or once started.
    public func startHandshake(now: Instant) {
        guard role == .client, state == .handshaking, let ssl, SSL_in_before(ssl) == 1 else { return }
        advanceHandshake()
        updateTimer(now: now)
    }

    /// Feeds one received datagram (first byte 20...63, RFC 7983). Garbage is counted and
    /// dropped; a record OpenSSL rejects fails the handshake only if it cannot continue.
    public func handle(datagram: UnsafeRawBufferPointer, now: Instant) {
        guard state == .handshaking || state == .connected else {
            counters.datagramsAfterClose += 1
            return
        }
        guard datagram.count <= Self.maxReceivedDatagram,
            let summary = DTLSRecordScanner.scan(datagram, minimumEncryptedRecord: minimumEncryptedRecord),
            let base = datagram.baseAddress
        else {
            counters.garbageDatagrams += 1
            return
        }
        counters.applicationDataRecords += summary.applicationDataRecords
        guard let readBIO else {
            readCompacted(datagram)
            return
        }
        restoreBuffersIfReleased()
        _ = BIO_write(readBIO, base, Int32(datagram.count))
        if state == .handshaking {
            advanceHandshake()
        } else {
            readRecords()
        }
        // OpenSSL reads a whole datagram at a time; drop whatever a rejected record left.
        _ = lsfu_BIO_reset(readBIO)
        releaseBuffersIfIdle()
        updateTimer(now: now)
        if state == .connected, compactsWhenConnected { compact(lastReceived: datagram) }
    }

    /// Once connected, DTLS carries almost nothing (an alert, a retransmitted Finished), but
    /// OpenSSL keeps ≈35 KB of record buffers per association. Freeing them between calls
    /// keeps a connected transport near 10 KB. OpenSSL 3.0 reallocates the read buffer by
    /// itself but writes through a NULL write buffer, so every call into a connected `SSL`
    /// is bracketed by `restoreBuffersIfReleased()` / `releaseBuffersIfIdle()`.
    private func releaseBuffersIfIdle() {
        guard state == .connected, !buffersReleased, let ssl else { return }
        buffersReleased = SSL_free_buffers(ssl) == 1
    }

    private func restoreBuffersIfReleased() {
        guard buffersReleased, let ssl else { return }
        buffersReleased = SSL_alloc_buffers(ssl) != 1
    }

    /// Retransmits the current flight if its timer expired; call at `nextTimeout`.
    public func handleTimeout(now: Instant) {
        guard state == .handshaking || state == .connected, let deadline = nextTimeout, now >= deadline, let ssl else {
            return
        }
        ERR_clear_error()
        restoreBuffersIfReleased()
        let result = lsfu_DTLSv1_handle_timeout(ssl)
        if result < 0 {
            fail(.timedOut)
            return
        }
        if result > 0 { counters.retransmissions += 1 }
        releaseBuffersIfIdle()
        updateTimer(now: now)
    }

    /// Copies the next datagram to send into `buffer` and returns its length, or nil when
    /// none is queued. `buffer` should hold `DTLSTransport.mtu` bytes; a datagram that does
    /// not fit is dropped and counted (the peer's retransmission recovers it).
    public func pollDatagram(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while !outgoing.isEmpty {
            let datagram = outgoing.removeFirst()
            guard datagram.count <= buffer.count, let base = buffer.baseAddress else {
                counters.droppedOutgoing += 1
                continue
            }
            datagram.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return datagram.count
        }
        return nil
    }

    /// The next event, or nil.
    public func pollEvent() -> Event? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// Sends close_notify (if connected) and stops; no event is raised for a local close.
    public func close() {
        guard state == .handshaking || state == .connected else { return }
        if state == .connected, var layer = recordLayer {
            // close_notify: a warning-level alert, description 0.
            if let record = layer.seal(type: 21, plaintext: [1, 0]) { outgoing.append(record) }
            recordLayer = layer
        } else if state == .connected, let ssl {
            ERR_clear_error()
            restoreBuffersIfReleased()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            _ = SSL_free_buffers(ssl)
        }
        state = .closed
        nextTimeout = nil
    }

    // MARK: - Driving OpenSSL

    private func advanceHandshake() {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            finishHandshake()
            if state == .connected { readRecords() }
            releaseBuffersIfIdle()
            return
        }
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            ERR_clear_error()
        default:
            fail(verifyFailure ?? .handshakeFailed(DTLSTransport.reason(code)))
        }
    }

    /// Checks the peer once more, then exports the SRTP keys.
    private func finishHandshake() {
        guard let ssl else { return }
        guard let peer = SSL_get1_peer_certificate(ssl) else { return abandon(.noPeerCertificate) }
        let matches = remoteFingerprint.matches(certificate: peer)
        X509_free(peer)
        guard matches else { return abandon(.fingerprintMismatch) }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
            let profile = SRTPProfile(dtlsProfileID: UInt(selected.pointee.id))
        else { return abandon(.noSRTPProfile) }
        var material = [UInt8](repeating: 0, count: 2 * profile.keyingMaterialLength)
        let label = "EXTRACTOR-dtls_srtp"
        let exported = SSL_export_keying_material(ssl, &material, material.count, label, label.utf8.count, nil, 0, 0)
        let keysRole: SRTPKeys.Role = role == .client ? .client : .server
        guard exported == 1, let keys = SRTPKeys(profile: profile, role: keysRole, exported: material) else {
            return abandon(.keyExportFailed)
        }
        state = .connected
        events.append(.connected(keys))
    }

    /// Fails a handshake that OpenSSL completed but we cannot use: close_notify tells the
    /// peer at once instead of leaving it to wait for media that never comes.
    private func abandon(_ error: DTLSError) {
        guard let ssl else { return fail(error) }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        fail(error)
    }

    /// After the handshake: lets OpenSSL answer retransmitted flights, notices close_notify
    /// and alerts, and throws away application data (no data channels here).
    private func readRecords() {
        guard let ssl else { return }
        withUnsafeTemporaryAllocation(byteCount: 2048, alignment: 16) { scratch in
            while true {
                ERR_clear_error()
                let n = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
                if n > 0 { continue }
                switch SSL_get_error(ssl, n) {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                    ERR_clear_error()
                case SSL_ERROR_ZERO_RETURN:
                    state = .closed
                    nextTimeout = nil
                    events.append(.closed)
                case let code:
                    fail(.handshakeFailed(DTLSTransport.reason(code)))
                }
                return
            }
        }
    }

    /// The shortest record the negotiated AEAD can produce (explicit nonce + tag). OpenSSL
    /// 3.0 treats a shorter record in an encrypted epoch as fatal, so one forged datagram
    /// could kill the association; we drop those first. Before a cipher is chosen no
    /// encrypted record is legitimate at all.
    private var minimumEncryptedRecord: Int {
        if let recordLayer { return recordLayer.overhead }
        guard let ssl else { return Int.max }
        // During the handshake the peer's epoch-1 Finished uses the pending cipher.
        let cipher =
            state == .handshaking
            ? (SSL_get_pending_cipher(ssl) ?? SSL_get_current_cipher(ssl))
            : (SSL_get_current_cipher(ssl) ?? SSL_get_pending_cipher(ssl))
        guard let cipher else { return Int.max }
        guard SSL_CIPHER_is_aead(cipher) == 1 else { return 0 }
        // ChaCha20-Poly1305 has an implicit nonce (RFC 7905); AES-GCM an 8-byte explicit one.
        return SSL_CIPHER_get_cipher_nid(cipher) == NID_chacha20_poly1305 ? 16 : 8 + 16
    }

    private func updateTimer(now: Instant) {
        guard state == .handshaking || state == .connected, let ssl else {
            nextTimeout = nil
            return
        }
        var left = timeval()
        if lsfu_DTLSv1_get_timeout(ssl, &left) == 1 {
            let ns = UInt64(max(0, left.tv_sec)) * 1_000_000_000 + UInt64(max(0, left.tv_usec)) * 1_000
            nextTimeout = now + Duration(nanoseconds: ns)
        } else {
            nextTimeout = nil
        }
    }

    /// OpenSSL's reason for a failed call, with the `SSL_get_error` class when the queue is empty.
    private static func reason(_ code: Int32) -> String {
        if ERR_peek_error() != 0 { return DTLSIdentity.openSSLError() }
        return code == SSL_ERROR_SYSCALL ? "I/O error (SSL_ERROR_SYSCALL)" : "SSL_get_error \(code)"
    }

    // MARK: - After the handshake without OpenSSL

    /// Remembers what `compact` needs from what OpenSSL sends: the epoch and next sequence
    /// number of encrypted records, and the datagrams of the last flight.
    private func noteSent(_ datagram: [UInt8]) {
        guard state == .handshaking else { return }
        datagram.withUnsafeBytes { bytes in
            for record in DTLSRecordHeader.records(in: bytes) {
                if record.contentType == 20 { lastChangeCipherSpec = datagram }
                guard record.epoch > 0 else { continue }
                lastEncrypted = datagram
                if record.epoch != writeEpoch || record.sequenceNumber >= nextWriteSequence {
                    writeEpoch = record.epoch
                    nextWriteSequence = record.sequenceNumber + 1
                }
            }
        }
    }

    /// Frees the `SSL` of a connected transport once the derived record keys open the
    /// encrypted records of the handshake itself (ours, and the peer's in `lastReceived` when
    /// it has one); keeps the `SSL` if anything does not check out.
    private func compact(lastReceived: UnsafeRawBufferPointer) {
        guard recordLayer == nil, let ssl, let ours = lastEncrypted, writeEpoch > 0,
            let layer = DTLSRecordLayer(
                ssl: ssl, role: role, epoch: writeEpoch, nextWriteSequence: nextWriteSequence)
        else { return }
        let verified = ours.withUnsafeBytes {
            layer.open($0, recordAt: firstRecord(epoch: writeEpoch, in: $0)?.offset ?? -1, withWriteKey: true)
        } != nil
        guard verified else { return }
        if let record = firstRecord(epoch: writeEpoch, in: lastReceived) {
            guard layer.open(lastReceived, recordAt: record.offset) != nil else { return }
            peerSequence = record.sequenceNumber
        }
        if role == .server {
            // One datagram when OpenSSL sent ChangeCipherSpec and Finished together.
            finalFlight = lastChangeCipherSpec.map { $0 == ours ? [ours] : [$0, ours] } ?? [ours]
        }
        lastChangeCipherSpec = nil
        lastEncrypted = nil
        recordLayer = layer
        self.ssl = nil
        readBIO = nil
        nextTimeout = nil
        SSL_free(ssl)
        if outgoing.isEmpty { outgoing = [] }
        if events.isEmpty { events = [] }
    }

    private func firstRecord(epoch: UInt16, in datagram: UnsafeRawBufferPointer) -> DTLSRecordHeader? {
        DTLSRecordHeader.records(in: datagram).first { $0.epoch == epoch }
    }

    /// A datagram for a compacted transport: authentic alerts end it, an authentic
    /// retransmitted Finished (the client missed ours) gets our last flight again, anything
    /// else is dropped (already framed by `DTLSRecordScanner`).
    private func readCompacted(_ datagram: UnsafeRawBufferPointer) {
        guard let layer = recordLayer else { return }
        var resend = false
        for record in DTLSRecordHeader.records(in: datagram) {
            let type = record.contentType
            if type == 21 || (type == 22 && role == .server),
                let (_, plaintext) = layer.open(datagram, recordAt: record.offset),
                peerSequence.map({ record.sequenceNumber > $0 }) ?? true
            {
                peerSequence = record.sequenceNumber
                if type == 22 {
                    resend = true
                } else if plaintext.count >= 2, plaintext[1] == 0 {
                    state = .closed
                    nextTimeout = nil
                    events.append(.closed)
                    return
                } else if plaintext.count >= 2, plaintext[0] == 2 {
                    fail(.handshakeFailed("the peer sent fatal alert \(plaintext[1])"))
                    return
                }
            }
        }
        if resend, !finalFlight.isEmpty {
            outgoing.append(contentsOf: finalFlight)
            counters.retransmissions += 1
            events.append(.peerMissedFinished)
        }
    }

    /// Tests: sends a record of any type (application data as a peer with data channels
    /// would, an alert) on a compacted transport.
    func sendRecord(type: UInt8, plaintext bytes: [UInt8]) {
        guard var layer = recordLayer, let record = layer.seal(type: type, plaintext: bytes) else { return }
        recordLayer = layer
        outgoing.append(record)
    }

    private func fail(_ error: DTLSError) {
        state = .failed(error)
        nextTimeout = nil
        events.append(.failed(error))
    }

    // MARK: - C callbacks (no captures: they find the transport through ex-data pointers)

    static func enqueueDatagram(bio: OpaquePointer, data: UnsafeRawBufferPointer) {
        guard let me = BIO_get_data(bio) else { return }
        let transport = Unmanaged<DTLSTransport>.fromOpaque(me).takeUnretainedValue()
        let datagram = Array(data)
        transport.outgoing.append(datagram)
        transport.noteSent(datagram)
    }

    /// Accepts the peer's certificate only if it hashes to the SDP fingerprint. Self-signed
    /// certificates arrive with a chain error at depth 0, which the match overrides.
    static func verifyPeerCertificate(store: OpaquePointer?) -> Bool {
        guard let store,
            let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
            let me = lsfu_SSL_get_app_data(OpaquePointer(sslPointer))
        else { return false }
        let transport = Unmanaged<DTLSTransport>.fromOpaque(me).takeUnretainedValue()
        // Only the leaf is compared; WebRTC certificates are self-signed, so a chain adds nothing.
        guard X509_STORE_CTX_get_error_depth(store) == 0 else { return true }
        guard let cert = X509_STORE_CTX_get_current_cert(store),
            transport.remoteFingerprint.matches(certificate: cert)
        else {
            transport.verifyFailure = .fingerprintMismatch
            return false
        }
        return true
    }
}
