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

/// io_uring operation codes carried in user_data (`URingBackend`). For `recv` and `send`
/// bits 0-23 name the backend's UDP socket, not a registry token.
enum IOOp {
    /// A readiness poll (argument: the watch's generation).
    static let poll: UInt8 = 0
    /// A UDP RECVMSG (argument: the receive buffer).
    static let recv: UInt8 = 1
    /// A UDP SENDMSG (argument: send batch << 10 | message).
    static let send: UInt8 = 2
    static let cancel: UInt8 = 5
    static let pollRemove: UInt8 = 6
}
