import Glibc

/// A response body that is a part of an open file, streamed by the connection as its output
/// drains (`sendfile(2)` on plain TCP, bounded `pread`s through the TLS write path
/// otherwise), so a large file never sits in memory. Owns the descriptor: it is
/// closed when the last reference goes, that is when the body has been sent, or the
/// connection ended, or the response was dropped (a HEAD answer, a client that left).
/// `Sendable`: immutable, and the descriptor is only read with positioned reads.
public final class HTTPFileBody: Sendable {
    public let fd: Int32
    /// First byte of the file to send.
    public let offset: Int
    /// Bytes to send from `offset`.
    public let length: Int

    /// Takes ownership of `fd`.
    public init(adopting fd: Int32, offset: Int, length: Int) {
        precondition(offset >= 0 && length >= 0)
        self.fd = fd
        self.offset = offset
        self.length = length
    }

    deinit { close(fd) }
}
