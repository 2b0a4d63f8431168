import CShim
import Glibc

/// An IPv4 or IPv6 address and port, stored inline (no heap), hashable so sessions can be
/// found by source address on the media path.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4 in the low 4 bytes of `hi` (network order) when `isIPv6` is false.
    public private(set) var hi: UInt64
    public private(set) var lo: UInt64
    public private(set) var port: UInt16
    public private(set) var isIPv6: Bool

    public init(ipv4 bytes: (UInt8, UInt8, UInt8, UInt8), port: UInt16) {
        hi = UInt64(bytes.0) << 24 | UInt64(bytes.1) << 16 | UInt64(bytes.2) << 8 | UInt64(bytes.3)
        lo = 0
        self.port = port
        isIPv6 = false
    }

    /// Parses a numeric IPv4 or IPv6 literal; nil for anything else (no DNS).
    public init?(ip: String, port: UInt16) {
        var a4 = in_addr()
        var a6 = in6_addr()
        if inet_pton(AF_INET, ip, &a4) == 1 {
            self.init(sockaddrIn: sockaddr_in(
                sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian, sin_addr: a4,
                sin_zero: (0, 0, 0, 0, 0, 0, 0, 0)))
        } else if inet_pton(AF_INET6, ip, &a6) == 1 {
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = port.bigEndian
            s.sin6_addr = a6
            self.init(sockaddrIn6: s)
        } else {
            return nil
        }
    }

    public init(sockaddrIn s: sockaddr_in) {
        hi = UInt64(UInt32(bigEndian: s.sin_addr.s_addr))
        lo = 0
        port = UInt16(bigEndian: s.sin_port)
        isIPv6 = false
    }

    public init(sockaddrIn6 s: sockaddr_in6) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        withUnsafeBytes(of: s.sin6_addr) { raw in
            for i in 0..<8 { h = h << 8 | UInt64(raw[i]) }
            for i in 8..<16 { l = l << 8 | UInt64(raw[i]) }
        }
        hi = h
        lo = l
        port = UInt16(bigEndian: s.sin6_port)
        isIPv6 = true
    }

    /// Reads a `sockaddr_in`/`sockaddr_in6` from raw storage; nil for other families.
    public init?(storage: UnsafeRawPointer, length: Int) {
        guard length >= MemoryLayout<sa_family_t>.size else { return nil }
        let family = Int32(storage.loadUnaligned(as: sa_family_t.self))
        if family == AF_INET, length >= MemoryLayout<sockaddr_in>.size {
            self.init(sockaddrIn: storage.loadUnaligned(as: sockaddr_in.self))
        } else if family == AF_INET6, length >= MemoryLayout<sockaddr_in6>.size {
            self.init(sockaddrIn6: storage.loadUnaligned(as: sockaddr_in6.self))
        } else {
            return nil
        }
    }

    /// The four IPv4 octets; meaningless for IPv6.
    public var ipv4Octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: hi >> 24), UInt8(truncatingIfNeeded: hi >> 16),
         UInt8(truncatingIfNeeded: hi >> 8), UInt8(truncatingIfNeeded: hi))
    }

    /// The 16 address bytes of an IPv6 address.
    public var ipv6Bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64($0))) }
    }

    /// Calls `body` with a `sockaddr` for this address and its length.
    @inlinable
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var storage = sockaddr_storage()
        let len = write(to: &storage)
        return try withUnsafePointer(to: &storage) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, len) }
        }
    }

    /// Writes this address into `storage`; returns its length.
    @inlinable
    public func write(to storage: inout sockaddr_storage) -> socklen_t {
        if isIPv6 {
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &s.sin6_addr) { raw in
                for i in 0..<8 { raw[i] = UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64(i))) }
                for i in 0..<8 { raw[8 + i] = UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64(i))) }
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: s, as: sockaddr_in6.self) }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            let s = sockaddr_in(
                sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian,
                sin_addr: in_addr(s_addr: UInt32(truncatingIfNeeded: hi).bigEndian),
                sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: s, as: sockaddr_in.self) }
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        }
    }

    /// The address without the port, e.g. `127.0.0.1` or `::1`.
    public var ipString: String {
        if isIPv6 {
            var storage = sockaddr_storage()
            _ = write(to: &storage)
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            return withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s6 in
                    var a = s6.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                }
            }
        }
        let o = ipv4Octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    public var description: String { isIPv6 ? "[\(ipString)]:\(port)" : "\(ipString):\(port)" }
}
