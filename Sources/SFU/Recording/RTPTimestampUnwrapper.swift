/// Turns 32-bit RTP timestamps into a 64-bit count of clock ticks since the first one, across
/// wrap-around: each step is read as the signed 32-bit difference from the previous timestamp.
public struct RTPTimestampUnwrapper: Sendable {
    private var last: UInt32?
    private var position: Int64 = 0

    public init() {}

    /// Ticks since the first timestamp given (negative if a timestamp went back before it).
    public mutating func unwrap(_ timestamp: UInt32) -> Int64 {
        if let last {
            position += Int64(Int32(bitPattern: timestamp &- last))
        }
        last = timestamp
        return position
    }
}
