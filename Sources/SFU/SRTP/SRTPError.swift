import CSRTP

/// Why an SRTP operation failed. Every case is normal input from the network
/// (count it and drop the packet) except `.badKey` and `.setupFailed`.
public enum SRTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The tag did not verify: wrong key, corrupted or forged packet.
    case authenticationFailed
    /// The packet index was already seen (replay) or, outbound, repeated without `allow_repeat_tx`.
    case replay
    /// The packet index is older than the replay window.
    case tooOld
    /// The length is shorter than the headers it declares, or larger than the buffer.
    case badLength
    /// The buffer has no room after `length` for the trailer `protect` appends.
    case noRoomForTrailer(needed: Int, available: Int)
    /// The key is not `key‖salt` of the profile's length.
    case badKey(expected: Int, got: Int)
    /// libsrtp could not be initialised or a session not created.
    case setupFailed(status: Int32)
    /// Any other libsrtp status (cipher failure, ...).
    case failed(status: Int32)
    /// A packet of a new SSRC while the peer already has `limit` inbound streams
    /// (`SRTPContext.maxInboundStreams`).
    case tooManyStreams(limit: Int)

    /// Maps a libsrtp status that is not `srtp_err_status_ok`.
    init(status: srtp_err_status_t) {
        switch status {
        case srtp_err_status_auth_fail: self = .authenticationFailed
        case srtp_err_status_replay_fail: self = .replay
        case srtp_err_status_replay_old: self = .tooOld
        case srtp_err_status_bad_param, srtp_err_status_parse_err: self = .badLength
        default: self = .failed(status: Int32(bitPattern: status.rawValue))
        }
    }

    public var description: String {
        switch self {
        case .authenticationFailed: "SRTP authentication failed (bad tag or wrong key)"
        case .replay: "SRTP packet replayed (index already seen)"
        case .tooOld: "SRTP packet index older than the replay window"
        case .badLength: "SRTP packet length does not match its headers"
        case .noRoomForTrailer(let needed, let available):
            "SRTP buffer has \(available) spare bytes, \(needed) needed for the tag"
        case .badKey(let expected, let got): "SRTP key is \(got) bytes, expected \(expected) (key‖salt)"
        case .setupFailed(let status): "libsrtp setup failed (status \(status))"
        case .failed(let status): "libsrtp failed (status \(status))"
        case .tooManyStreams(let limit): "SRTP packet of a new SSRC refused: the peer already has \(limit) streams"
        }
    }
}
