import COpenSSL

/// A TLS failure with OpenSSL's reason.
public enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The certificate or key could not be loaded (start-up).
    case configuration(String)
    /// The peer broke the protocol or the handshake failed (the connection is dropped).
    case protocolFailure(String)

    public var description: String {
        switch self {
        case .configuration(let why): return "TLS configuration: \(why)"
        case .protocolFailure(let why): return "TLS: \(why)"
        }
    }

    /// Drains OpenSSL's error queue into one line.
    static func openSSLErrors() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
    }
}
