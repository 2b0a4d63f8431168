import CShim
import Glibc

/// A datagram waiting in a socket's send queue: a pool slot, its length and where it goes.
struct PendingDatagram {
    var slot: BufferPool.Slot
    var length: Int32
    var address: SocketAddress
}

/// Preallocated `mmsghdr`s, iovecs, addresses and control buffers for one `sendmmsg` (or one
/// io_uring submission of SENDMSGs). `build` groups runs of equal-sized datagrams to one
/// destination into GSO super-datagrams (one message, several iovecs, a UDP_SEGMENT cmsg).
final class DatagramBatch {
    /// Most messages (and iovecs) per batch.
    let capacity: Int
    let msgs: OpaquePointer
    private let msgMemory: UnsafeMutableRawPointer
    private let iovs: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    private let controls: UnsafeMutableRawPointer
    private let controlSpace: Int
    /// Datagrams carried by each message.
    let datagramsPerMessage: UnsafeMutablePointer<Int32>
    /// Whether message i uses UDP_SEGMENT.
    let segmented: UnsafeMutablePointer<Bool>
    private(set) var messages = 0

    /// Entries owned while the batch is in flight on io_uring.
    let owned: UnsafeMutablePointer<PendingDatagram>
    var ownedCount = 0
    var inFlight = 0

    /// GSO limits: the kernel takes at most 64 segments and a 64 KB UDP payload.
    static let maxSegments = 64
    static let maxSuperDatagram = 65000

    init(capacity: Int) {
        self.capacity = capacity
        msgMemory = .allocate(byteCount: capacity * lsfu_mmsghdr_size(), alignment: 16)
        msgMemory.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * lsfu_mmsghdr_size())
        msgs = OpaquePointer(msgMemory)
        iovs = .allocate(capacity: capacity)
        names = .allocate(capacity: capacity)
        controlSpace = lsfu_cmsg_space_u16()
        controls = .allocate(byteCount: capacity * controlSpace, alignment: 16)
        datagramsPerMessage = .allocate(capacity: capacity)
        segmented = .allocate(capacity: capacity)
        owned = .allocate(capacity: capacity)
    }

    deinit {
        msgMemory.deallocate()
        iovs.deallocate()
        names.deallocate()
        controls.deallocate()
        datagramsPerMessage.deallocate()
        segmented.deallocate()
        owned.deallocate()
    }

    /// Fills messages from `entries[0..<count]`; returns how many entries were used.
    func build(_ entries: UnsafePointer<PendingDatagram>, count: Int, pool: BufferPool, gso: Bool) -> Int {
        messages = 0
        var e = 0
        var iov = 0
        while e < count, messages < capacity, iov < capacity {
            let first = entries[e]
            let segment = Int(first.length)
            var n = 1
            var total = segment
            iovs[iov] = iovec(iov_base: pool.pointer(first.slot), iov_len: segment)
            if gso {
                while e + n < count, n < Self.maxSegments, iov + n < capacity {
                    let next = entries[e + n]
                    let len = Int(next.length)
                    guard len <= segment, total + len <= Self.maxSuperDatagram, next.address == first.address else { break }
                    iovs[iov + n] = iovec(iov_base: pool.pointer(next.slot), iov_len: len)
                    total += len
                    n += 1
                    if len < segment { break }  // a shorter datagram ends the run
                }
            }
            let m = messages
            let nameLength = first.address.write(to: &names[m])
            let control = controls + m * controlSpace
            var controlLength = 0
            if n > 1 {
                controlLength = lsfu_cmsg_put_udp_segment(control, controlSpace, UInt16(segment))
            }
            lsfu_mmsghdr_set(msgs, UInt32(m), iovs + iov, n, UnsafeMutableRawPointer(names + m), nameLength,
                             controlLength > 0 ? control : nil, controlLength)
            datagramsPerMessage[m] = Int32(n)
            segmented[m] = n > 1
            messages += 1
            iov += n
            e += n
        }
        return e
    }

    /// The msghdr of message `i` (for io_uring SENDMSG).
    func msghdr(_ i: Int) -> UnsafeMutablePointer<msghdr> {
        lsfu_mmsghdr_msghdr(msgs, UInt32(i))
    }

    /// Datagrams in the first `k` messages.
    func datagrams(inFirst k: Int) -> Int {
        var s = 0
        for i in 0..<k { s += Int(datagramsPerMessage[i]) }
        return s
    }
}
