import Reactor

/// The values that go in and out of a `FrameAssembler`.
extension FrameAssembler {
    public struct Configuration: Sendable {
        /// Packets held at most (rounded up to a power of two, 16 to 16384): a keyframe and the
        /// packets that arrive while its gaps are repaired must fit. With `maxPayloadBytes`
        /// this fixes the memory: 512 × 1500 bytes = 750 KiB per video track by default.
        public var maxPackets: Int
        /// Largest payload kept; a larger one is dropped (and its frame with it).
        public var maxPayloadBytes: Int
        /// How long a gap is waited for before its frame is given up.
        public var maxWait: Duration
        /// How often `.keyframeNeeded` is repeated while no keyframe arrives.
        public var keyframeRequestInterval: Duration

        public init(
            maxPackets: Int = 512, maxPayloadBytes: Int = 1500, maxWait: Duration = .milliseconds(300),
            keyframeRequestInterval: Duration = .milliseconds(1000)
        ) {
            self.maxPackets = maxPackets
            self.maxPayloadBytes = maxPayloadBytes
            self.maxWait = maxWait
            self.keyframeRequestInterval = keyframeRequestInterval
        }
    }

    /// One packet's header fields and what its codec said about its payload (nil: malformed,
    /// so its frame is never emitted).
    public struct Packet: Sendable {
        public var sequenceNumber: UInt16
        public var timestamp: UInt32
        public var marker: Bool
        public var traits: PayloadTraits?

        public init(sequenceNumber: UInt16, timestamp: UInt32, marker: Bool, traits: PayloadTraits?) {
            self.sequenceNumber = sequenceNumber
            self.timestamp = timestamp
            self.marker = marker
            self.traits = traits
        }
    }

    /// A complete frame: its payloads are read with `forEachPayload(of:)` until the next
    /// `insert` or `advance`.
    public struct Frame: Sendable, Equatable {
        public var timestamp: UInt32
        public var firstSequenceNumber: UInt16
        public var packetCount: Int
        public var isKeyframe: Bool
    }

    public enum Event: Sendable, Equatable {
        case frame(Frame)
        /// Frames were lost: ask the publisher for a keyframe.
        case keyframeNeeded
    }

    /// What was dropped, by reason.
    public struct Counters: Sendable, Equatable {
        public var framesEmitted: UInt64 = 0
        /// Frames given up: incomplete after `maxWait`, malformed, or depending on one that was.
        public var framesSkipped: UInt64 = 0
        /// Packets at or before a frame already emitted or skipped.
        public var packetsLate: UInt64 = 0
        public var packetsDuplicate: UInt64 = 0
        public var packetsOversized: UInt64 = 0
        /// Packets dropped because the window of `maxPackets` moved past them.
        public var packetsOverflowed: UInt64 = 0
    }
}
