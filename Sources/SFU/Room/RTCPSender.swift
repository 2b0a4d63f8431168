import Reactor

/// The one way the room layer sends RTCP to a peer: to the address ICE selected, built
/// straight into a pooled send slot and protected there with the peer's SRTCP context.
/// Nothing is sent to a session that is not connected.
enum RTCPSender {
    /// `build` writes the compound packet and returns false to send nothing. True when the
    /// datagram was queued (not when there was no slot, the queue was full, or SRTCP refused it).
    @discardableResult
    static func send(
        to s: PeerSession, on output: DatagramQueue, capacity: Int, _ build: (inout RTCPWriter) -> Bool
    ) -> Bool {
        guard s.state == .connected, let address = s.address, let srtp = s.srtp else { return false }
        return output.send(to: address, capacity: capacity) { out in
            var w = RTCPWriter(into: out)
            guard build(&w), let n = try? w.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
    }
}
