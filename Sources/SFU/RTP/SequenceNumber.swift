/// A 16-bit sequence number that wraps (RTP's, RTX's, transport-wide congestion control's),
/// compared as serial numbers (RFC 1982; RFC 3550 §A.1): `b` is newer than `a` when it is
/// less than half the number space ahead of it, so 1 is newer than 65 535. Numbers exactly
/// half the space apart (32 768) are newer than neither.
///
/// A plain 16-bit value whose operations inline to a subtraction and a compare: the media
/// path uses it per packet.
@frozen
public struct SequenceNumber: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt16

    @inlinable public init(_ value: UInt16) { self.value = value }

    /// How far `self` is ahead of `other`, in -32 768...32 767 (negative: behind).
    @inlinable public func distance(from other: SequenceNumber) -> Int {
        Int(Int16(bitPattern: value &- other.value))
    }

    /// Whether `self` comes after `other` (less than half the number space ahead of it).
    @inlinable public func isNewer(than other: SequenceNumber) -> Bool {
        distance(from: other) > 0
    }

    /// The number `n` steps later (earlier when negative), wrapping.
    @inlinable public func advanced(by n: Int) -> SequenceNumber {
        SequenceNumber(value &+ UInt16(truncatingIfNeeded: n))
    }

    public var description: String { String(value) }
}
