import Reactor

extension DatagramQueue {
    /// Moves a DTLS transport's queued datagrams (one flight datagram each) into this send
    /// queue for `destination`, until DTLS has none left or the queue is full (the rest stays
    /// queued in DTLS for the next call). Keeps the protocol code free of queues.
    func sendQueuedDatagrams(of dtls: DTLSTransport, to destination: SocketAddress) {
        while true {
            var produced = false
            let queued = send(to: destination, capacity: 1500) { out in
                guard let n = dtls.pollDatagram(into: out) else { return 0 }
                produced = true
                return n
            }
            if !produced || !queued { return }
        }
    }
}
