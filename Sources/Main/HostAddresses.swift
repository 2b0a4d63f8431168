import Glibc

/// The machine's IPv4 interface addresses and the one of its default route, for
/// `MediaAddressPlan` (which candidates to advertise and where the media sockets bind).
enum HostAddresses {
    /// IPv4 addresses of the interfaces that are up, loopback included, by interface name.
    static func ipv4ByInterface() -> [(interface: String, ip: String)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [("lo", "127.0.0.1")] }
        defer { freeifaddrs(list) }
        var found: [(String, String)] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr, Int32(addr.pointee.sa_family) == AF_INET,
                entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
            else { continue }
            var sin = sockaddr_in()
            memcpy(&sin, addr, MemoryLayout<sockaddr_in>.size)
            found.append((String(cString: entry.pointee.ifa_name), SocketAddressText.ipv4(sin.sin_addr)))
        }
        return found
    }

    /// The IPv4 address of the interface that holds the IPv4 default route (from
    /// `/proc/net/route`: destination 00000000), nil when there is none (e.g. a
    /// loopback-only network namespace).
    static func defaultRouteIPv4(_ interfaces: [(interface: String, ip: String)]) -> String? {
        guard let file = fopen("/proc/net/route", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" })
            guard fields.count > 2, fields[1] == "00000000" else { continue }
            if let match = interfaces.first(where: { $0.interface == fields[0] }) { return match.ip }
        }
        return nil
    }
}

enum SocketAddressText {
    static func ipv4(_ a: in_addr) -> String {
        let v = UInt32(bigEndian: a.s_addr)
        return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
    }
}
