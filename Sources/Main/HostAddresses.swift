import Glibc

/// The machine's IPv4 interface addresses, for host ICE candidates when `PUBLIC_IP` is unset.
enum HostAddresses {
    /// Non-loopback IPv4 addresses that are up, then loopback (for clients on this machine,
    /// and the only one in a loopback-only namespace).
    static func ipv4() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return ["127.0.0.1"] }
        // (loopback is appended last below)
        defer { freeifaddrs(list) }
        var found: [String] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr, Int32(addr.pointee.sa_family) == AF_INET,
                entry.pointee.ifa_flags & UInt32(IFF_UP) != 0,
                entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0
            else { continue }
            var sin = sockaddr_in()
            memcpy(&sin, addr, MemoryLayout<sockaddr_in>.size)
            let ip = SocketAddressText.ipv4(sin.sin_addr)
            if !found.contains(ip) { found.append(ip) }
        }
        return found + ["127.0.0.1"]
    }
}

enum SocketAddressText {
    static func ipv4(_ a: in_addr) -> String {
        let v = UInt32(bigEndian: a.s_addr)
        return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
    }
}
