/// Which IP the ICE candidates advertise and which one the media UDP sockets bind to, from
/// the configuration and the machine's interfaces (given, so the choice is a pure function).
///
/// Advertising every local address told every client the server's internal addresses
/// (container bridges, VPNs, management networks), and a socket bound to all of them took
/// media on any. So one address is advertised: `PUBLIC_IP` when set; else the HTTP address
/// when it names one; else the address of the interface that holds the default route (the
/// one clients elsewhere reach); loopback only when that is all there is or the HTTP address
/// is loopback. The sockets bind to that address when it is one of this machine's; a
/// `PUBLIC_IP` that is not (a NAT's outside address) keeps the wildcard bind.
public struct MediaAddressPlan: Sendable, Equatable {
    /// The IPs put in host candidates (one today; a list for dual-stack later).
    public var candidateIPs: [String]
    /// The IP the media sockets bind to; "0.0.0.0" for every interface.
    public var bindIP: String

    /// - Parameters:
    ///   - publicIP: `PUBLIC_IP`, if set.
    ///   - httpBindIP: the IP of `HTTP_ADDR` ("0.0.0.0" when its host is empty).
    ///   - localIPs: every IPv4 address of the machine's interfaces that are up, loopback included.
    ///   - defaultRouteIP: the IPv4 address of the interface of the default route, if any.
    public init(publicIP: String?, httpBindIP: String, localIPs: [String], defaultRouteIP: String?) {
        // The media sockets are IPv4: an IPv6 HTTP address counts as its IPv4 counterpart.
        let httpIP = httpBindIP == "::1" ? "127.0.0.1" : httpBindIP
        let wildcard = httpIP == "0.0.0.0" || httpIP.contains(":")
        let advertised: String
        if let publicIP {
            advertised = publicIP
        } else if !wildcard {
            advertised = httpIP
        } else if let defaultRouteIP {
            advertised = defaultRouteIP
        } else {
            advertised = localIPs.first { !$0.hasPrefix("127.") } ?? "127.0.0.1"
        }
        candidateIPs = [advertised]
        bindIP = localIPs.contains(advertised) ? advertised : "0.0.0.0"
    }
}
