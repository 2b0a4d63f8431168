import CSRTP

/// libsrtp's process-wide `srtp_init()`, run exactly once.
enum SRTPLibrary {
    /// A Swift global is initialised lazily under `swift_once`, so the first caller on any
    /// core runs `srtp_init()` and every other caller waits for it: thread-safe and once.
    /// This is the one global of the SRTP code; libsrtp itself keeps process-wide tables.
    static let initStatus: Int32 = {
        let status = srtp_init()
        // libsrtp's default event handler prints SSRC collisions and key-limit warnings to
        // stderr; a peer could make that log noise at will. Errors reach callers as throws.
        _ = srtp_install_event_handler { _ in }
        return Int32(bitPattern: status.rawValue)
    }()

    /// Runs `srtp_init()` on first use; throws if it failed.
    static func ensureInitialized() throws(SRTPError) {
        let status = initStatus
        if status != 0 { throw .setupFailed(status: status) }
    }
}
