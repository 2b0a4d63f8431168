import CSRTP

/// A plain-value handle on an outbound `SRTPSession` that protects RTP in place: the
/// fan-out's per-copy path, where reaching the session through `PeerSession.srtp` cost a
/// reference-count pair and an exclusivity check per copy. It does not keep the libsrtp
/// context alive: valid only while the `SRTPContext` it came from lives (`PeerSession` keeps
/// both and replaces them together).
struct SRTPProtector {
    private let context: srtp_t
    /// Bytes `protectRTP` appends (`SRTPProfile.rtpTrailerLength`).
    let trailer: Int

    init(context: srtp_t, trailer: Int) {
        self.context = context
        self.trailer = trailer
    }

    /// Encrypts and authenticates the RTP packet in `buffer[0..<length]`; returns the new
    /// length, or 0 when the length is bad, the buffer has no room for the trailer, or
    /// libsrtp refused the packet. Same checks as `SRTPSession.protectRTP`, no error value.
    @inline(__always)
    func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        // libsrtp trusts the length it is given and writes the trailer past it unchecked.
        guard length > 0, length <= Int(Int32.max) - 256, buffer.count - length >= trailer,
            let base = buffer.baseAddress
        else { return 0 }
        var newLength = Int32(truncatingIfNeeded: length)
        return srtp_protect(context, base, &newLength) == srtp_err_status_ok ? Int(newLength) : 0
    }
}
