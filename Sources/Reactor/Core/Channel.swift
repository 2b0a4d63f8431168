/// Something registered with a loop: a socket, a listener, the wake eventfd. Its token
/// routes epoll events and io_uring completions back to it.
protocol Channel: AnyObject {
    /// Readiness: epoll events, or the poll mask of an io_uring poll completion.
    func ready(_ events: UInt32)
    /// An io_uring operation this channel submitted finished.
    func completed(op: UInt8, arg: UInt16, result: Int32, flags: UInt32)
    /// The loop is stopping: close now (flushing what can be flushed without blocking).
    func closeForLoopStop()
}

/// Token layout (also io_uring user_data): bits 0-23 registry index, 24-39 generation,
/// 40-47 operation, 48-63 operation argument. Generations make a late event for a freed
/// slot harmless.
enum Token {
    static func make(index: Int, generation: UInt16) -> UInt64 {
        UInt64(index) | UInt64(generation) << 24
    }
    static func withOp(_ token: UInt64, op: UInt8, arg: UInt16 = 0) -> UInt64 {
        (token & 0xFF_FFFF_FFFF) | UInt64(op) << 40 | UInt64(arg) << 48
    }
    static func index(_ t: UInt64) -> Int { Int(t & 0xFF_FFFF) }
    static func generation(_ t: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: t >> 24) }
    static func op(_ t: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: t >> 40) }
    static func arg(_ t: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: t >> 48) }
}

/// io_uring operation codes carried in user_data.
enum IOOp {
    static let poll: UInt8 = 0
    static let recv: UInt8 = 1
    static let send: UInt8 = 2
    static let accept: UInt8 = 3
    static let connect: UInt8 = 4
    static let cancel: UInt8 = 5
    static let pollRemove: UInt8 = 6
    /// A one-shot poll owned by a channel (e.g. hang-up watch of a paused TCP connection).
    static let watchPoll: UInt8 = 7
}

/// The loop's channels by token index, with a free list.
struct ChannelRegistry {
    private var entries: [Channel?] = []
    private var generations: [UInt16] = []
    private var free: [Int] = []
    private(set) var count = 0

    mutating func add(_ c: Channel) -> UInt64 {
        let i: Int
        if let f = free.popLast() {
            i = f
            entries[i] = c
        } else {
            i = entries.count
            precondition(i < 0xFF_FFFF, "too many channels on one loop")
            entries.append(c)
            generations.append(0)
        }
        count += 1
        return Token.make(index: i, generation: generations[i])
    }

    func lookup(_ token: UInt64) -> Channel? {
        let i = Token.index(token)
        guard i < entries.count, generations[i] == Token.generation(token) else { return nil }
        return entries[i]
    }

    mutating func remove(_ token: UInt64) {
        let i = Token.index(token)
        guard i < entries.count, generations[i] == Token.generation(token), entries[i] != nil else { return }
        entries[i] = nil
        generations[i] &+= 1
        free.append(i)
        count -= 1
    }

    /// Every live channel (for shutdown).
    var all: [Channel] { entries.compactMap { $0 } }
}
