import COpenSSL
import Glibc

/// The hex SHA-256 of a request body, sent as `x-amz-content-sha256`. libcurl's SigV4 signs
/// that header's value as the payload hash when it is present; without it, libcurl 7.88
/// (Debian 12) hashes only in-memory POST data, so a streamed PUT would be signed with the
/// hash of an empty body and refused. Hashing the real bytes (rather than sending
/// `UNSIGNED-PAYLOAD`) also lets S3 refuse a body damaged on the way, over HTTP too; it costs
/// one more read of each part, from the page cache.
enum PayloadHash {
    static let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func of(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { buffer in
            _ = SHA256(buffer.baseAddress, buffer.count, &digest)
        }
        return hex(digest)
    }

    /// SHA-256 of `length` bytes of `fd` from `offset`.
    static func of(fd: Int32, offset: Int64, length: Int64, path: String) throws(S3Error) -> String {
        guard let context = EVP_MD_CTX_new() else { throw .system(call: "EVP_MD_CTX_new", errno: ENOMEM) }
        defer { EVP_MD_CTX_free(context) }
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
        let chunk = 256 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(chunk), length - done))
            let n = pread(fd, buffer, want, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, errno: errno)
            }
            if n == 0 { throw .file(path: path, errno: EIO) }  // the file shrank under us
            EVP_DigestUpdate(context, buffer, n)
            done += Int64(n)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var size: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &size)
        return hex(digest)
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
