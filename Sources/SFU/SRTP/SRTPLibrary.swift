import CSRTP

/// libsrtp's process-wide `srtp_init()`, run exactly once.
enum SRTPLibrary {
    /// A Swift global is initialised lazily under `swift_once`, so the first caller on any
    /// core runs `srtp_init()` and every other caller waits for it: thread-safe and once.
    /// This is the one global of the SRTP code; libsrtp itself keeps process-wide tables.
    static let initStatus: Int32 = Int32(bitPattern: srtp_init().rawValue)

    /// Runs `srtp_init()` on first use; throws if it failed.
    static func ensureInitialized() throws(SRTPError) {
        let status = initStatus
        if status != 0 { throw .setupFailed(status: status) }
    }
}
