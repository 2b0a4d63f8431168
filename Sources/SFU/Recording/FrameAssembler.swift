import Reactor

/// Puts one track's packets back into whole frames for the recorder, codec-independently: the
/// codec's depacketizer only says, per packet, whether it surely starts a frame and whether it
/// carries keyframe data (`PayloadTraits`); the RTP marker ends a frame.
///
/// Packets come in any order. A frame is emitted, in sequence order, once every sequence
/// number from its first packet to its last is held. A gap is waited for at most `maxWait`
/// (NACK/RTX repairs arrive within that); then the frame is skipped, and so is every later
/// frame until a complete keyframe, since they depend on it, and `.keyframeNeeded` is
/// reported (the caller sends a PLI). The first frame emitted is a keyframe.
///
/// Memory is fixed at creation: `maxPackets` slots of `maxPayloadBytes` each, indexed by
/// sequence number, so a held packet is never moved and nothing is allocated per packet.
/// Time is an argument (`now`); call `advance(now:)` at `deadline` when no packet comes.
public struct FrameAssembler: ~Copyable {
    private struct Slot {
        var used = false
        var sequenceNumber: UInt16 = 0
        var timestamp: UInt32 = 0
        var marker = false
        var malformed = false
        var startsFrame = false
        var isKeyframe = false
        var length = 0
        var arrival = Instant(nanoseconds: 0)
    }

    public let configuration: Configuration
    public private(set) var counters = Counters()
    private let mask: Int
    private var slots: [Slot]
    private let storage: UnsafeMutableRawBufferPointer
    /// Every sequence number up to this one is handled (emitted, skipped or lost); the held
    /// packets lie in (boundary, boundary + capacity]. Nil before the first packet.
    private var boundary: UInt16?
    /// The packet at `boundary` ended a frame, so the next one starts a frame.
    private var boundaryEndsFrame = false
    private var newest: UInt16 = 0
    private var needKeyframe = true
    private var lastKeyframeRequest: Instant?
    /// While the head frame cannot be emitted: the arrival of the oldest packet held then, from
    /// which `maxWait` runs (nil when nothing is held).
    private var blockedSince: Instant?
    /// Consecutive packets found late; see `restartAfterLatePackets`.
    private var lateStreak = 0
    /// This many late packets in a row mean the sequence numbers jumped back, not reordering.
    static let restartAfterLatePackets = 64
    private var events: [Event] = []
    private var eventIndex = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        precondition(configuration.maxPayloadBytes > 0, "maxPayloadBytes must be positive")
        // Up to 16384 slots: the window must stay well inside half the sequence number space.
        var capacity = 16
        while capacity < min(configuration.maxPackets, 16384) { capacity <<= 1 }
        mask = capacity - 1
        slots = Array(repeating: Slot(), count: capacity)
        storage = .allocate(byteCount: capacity * configuration.maxPayloadBytes, alignment: 16)
        events.reserveCapacity(16)
    }

    deinit { storage.deallocate() }

    private var capacity: Int { mask + 1 }

    /// The next event, in order; drain them after every `insert` and `advance`.
    public mutating func nextEvent() -> Event? {
        guard eventIndex < events.count else {
            events.removeAll(keepingCapacity: true)
            eventIndex = 0
            return nil
        }
        eventIndex += 1
        return events[eventIndex - 1]
    }

    /// When `advance(now:)` should be called if no packet comes first.
    public var deadline: Instant? {
        var d = blockedSince.map { $0 + configuration.maxWait }
        if needKeyframe, let last = lastKeyframeRequest {
            let again = last + configuration.keyframeRequestInterval
            d = d.map { min($0, again) } ?? again
        }
        return d
    }

    /// Takes a copy of one packet's payload and emits whatever frames it completes.
    public mutating func insert(_ packet: Packet, payload: UnsafeRawBufferPointer, now: Instant) {
        let seq = packet.sequenceNumber
        if boundary == nil {
            // Room for packets of the first frame that arrive before this one.
            boundary = seq &- UInt16(min(64, capacity / 4))
            newest = seq
            if packet.traits?.isKeyframe != true { requestKeyframe(now: now) }
        }
        guard payload.count <= configuration.maxPayloadBytes else {
            counters.packetsOversized += 1
            advance(now: now)
            return
        }
        let distance = Int(seq &- boundary!)
        if distance == 0 || distance > 0x8000 {
            counters.packetsLate += 1
            lateStreak += 1
            // A stream whose sequence numbers jumped back (a new source): start over.
            if lateStreak >= Self.restartAfterLatePackets {
                reset()
                insert(packet, payload: payload, now: now)
            }
            return
        }
        lateStreak = 0
        if distance > capacity { slide(to: seq &- UInt16(capacity), now: now) }
        let index = Int(seq) & mask
        if slots[index].used && slots[index].sequenceNumber == seq {
            counters.packetsDuplicate += 1
            return
        }
        let t = packet.traits
        slots[index] = Slot(
            used: true, sequenceNumber: seq, timestamp: packet.timestamp, marker: packet.marker,
            malformed: t == nil, startsFrame: t?.startsFrame ?? false, isKeyframe: t?.isKeyframe ?? false,
            length: payload.count, arrival: now)
        if payload.count > 0 {
            let base = index * configuration.maxPayloadBytes
            UnsafeMutableRawBufferPointer(rebasing: storage[base..<(base + payload.count)]).copyMemory(from: payload)
        }
        if Int16(bitPattern: seq &- newest) > 0 { newest = seq }
        advance(now: now)
    }

    /// Emits complete frames, gives up frames blocked longer than `maxWait`, repeats the
    /// keyframe request while none arrives.
    public mutating func advance(now: Instant) {
        guard boundary != nil else { return }
        while true {
            if needKeyframe ? emitKeyframe() : emitNext(now: now) {
                blockedSince = nil
                continue
            }
            guard held(after: boundary!) else {
                blockedSince = nil
                break
            }
            if blockedSince == nil { blockedSince = oldestArrival() }
            guard let since = blockedSince, now - since >= configuration.maxWait else { break }
            // Given up: whatever is at the head cannot be completed.
            giveUpHead(now: now)
            blockedSince = nil
        }
        if needKeyframe, let last = lastKeyframeRequest, now - last >= configuration.keyframeRequestInterval {
            requestKeyframe(now: now)
        }
    }

    /// Calls `body` with each payload of `frame`, in order. Valid until the next `insert` or
    /// `advance`.
    public func forEachPayload(of frame: Frame, _ body: (UnsafeRawBufferPointer) -> Void) {
        for i in 0..<frame.packetCount {
            let seq = frame.firstSequenceNumber &+ UInt16(truncatingIfNeeded: i)
            let slot = slots[Int(seq) & mask]
            guard slot.used, slot.sequenceNumber == seq else { return }
            let base = (Int(seq) & mask) * configuration.maxPayloadBytes
            body(UnsafeRawBufferPointer(rebasing: storage[base..<(base + slot.length)]))
        }
    }

    /// The caller could not depacketize an emitted frame: later frames depend on it.
    public mutating func frameFailed(now: Instant) {
        counters.framesSkipped += 1
        if !needKeyframe { requestKeyframe(now: now) }
    }

    // MARK: - Internals

    /// Forgets every held packet, as before the first one.
    private mutating func reset() {
        for i in slots.indices { slots[i].used = false }
        boundary = nil
        boundaryEndsFrame = false
        blockedSince = nil
        lateStreak = 0
        needKeyframe = true
    }

    private func slot(_ seq: UInt16) -> Slot? {
        let s = slots[Int(seq) & mask]
        return s.used && s.sequenceNumber == seq ? s : nil
    }

    private func held(after b: UInt16) -> Bool { firstHeld(after: b) != nil }

    /// The distance from `b` of the first held packet after it (a plain loop: this runs for
    /// every packet, and the generic `contains(where:)` allocates in unoptimised builds).
    private func firstHeld(after b: UInt16) -> Int? {
        let n = Int(newest &- b)
        guard n >= 1 && n <= capacity else { return nil }
        var i = 1
        while i <= n {
            if slot(b &+ UInt16(i)) != nil { return i }
            i += 1
        }
        return nil
    }

    private func oldestArrival() -> Instant? {
        var oldest: Instant?
        let b = boundary!
        let n = Int(newest &- b)
        guard n >= 1 && n <= capacity else { return nil }
        for i in 1...n {
            if let s = slot(b &+ UInt16(i)), oldest == nil || s.arrival < oldest! { oldest = s.arrival }
        }
        return oldest
    }

    private mutating func requestKeyframe(now: Instant) {
        needKeyframe = true
        lastKeyframeRequest = now
        events.append(.keyframeNeeded)
    }

    /// The frame starting at `start` if all its packets are held: its last sequence number,
    /// keyframe flag and whether one of its packets was malformed. Ends at the marker, or
    /// before a held packet of another timestamp.
    private func completeFrame(from start: UInt16) -> (end: UInt16, key: Bool, malformed: Bool)? {
        guard let first = slot(start) else { return nil }
        var seq = start
        var key = false
        var malformed = false
        for _ in 0..<capacity {
            guard let s = slot(seq), s.timestamp == first.timestamp else { return nil }
            key = key || s.isKeyframe
            malformed = malformed || s.malformed
            if s.marker { return (seq, key, malformed) }
            if let next = slot(seq &+ 1), next.timestamp != first.timestamp { return (seq, key, malformed) }
            seq &+= 1
        }
        return nil
    }

    private mutating func emit(start: UInt16, end: UInt16, key: Bool) {
        let s = slot(start)!
        let frame = Frame(
            timestamp: s.timestamp, firstSequenceNumber: start, packetCount: Int(end &- start) + 1, isKeyframe: key)
        events.append(.frame(frame))
        counters.framesEmitted += 1
        boundary = end
        boundaryEndsFrame = true
    }

    /// In order: the frame right after the boundary, if complete.
    private mutating func emitNext(now: Instant) -> Bool {
        let start = boundary! &+ 1
        guard let f = completeFrame(from: start) else { return false }
        if f.malformed {
            counters.framesSkipped += 1
            boundary = f.end
            boundaryEndsFrame = true
            requestKeyframe(now: now)
            return true
        }
        emit(start: start, end: f.end, key: f.key)
        return true
    }

    /// Waiting for a keyframe: skips complete frames at the head, and jumps to the first
    /// complete keyframe whose start is known, dropping everything before it.
    private mutating func emitKeyframe() -> Bool {
        let b = boundary!
        let n = Int(newest &- b)
        guard n >= 1 && n <= capacity else { return false }
        var i = 1
        while i <= n {
            let seq = b &+ UInt16(i)
            guard let s = slot(seq), s.isKeyframe else {
                i += 1
                continue
            }
            // Back to the first held packet of this timestamp.
            var start = seq
            while start != b &+ 1, let prev = slot(start &- 1), prev.timestamp == s.timestamp { start &-= 1 }
            let knownStart =
                slot(start)!.startsFrame || (start == b &+ 1 && boundaryEndsFrame)
                || (slot(start &- 1).map { $0.timestamp != s.timestamp } ?? false)
            if knownStart, let f = completeFrame(from: start), !f.malformed {
                skip(through: start &- 1)
                needKeyframe = false
                emit(start: start, end: f.end, key: true)
                return true
            }
            i = Int(seq &- b) + 1
        }
        // No keyframe yet: complete frames at the head are useless, drop them now.
        if boundaryEndsFrame || slot(b &+ 1)?.startsFrame == true, let f = completeFrame(from: b &+ 1), !f.key {
            skip(through: f.end)
            return true
        }
        return false
    }

    /// Drops the held packets up to `last`, counting the frames among them as skipped.
    private mutating func skip(through last: UInt16) {
        let b = boundary!
        let n = Int(last &- b)
        guard n >= 1 && n <= capacity else { return }
        var timestamp: UInt32?
        for i in 1...n {
            let seq = b &+ UInt16(i)
            if let s = slot(seq) {
                if s.timestamp != timestamp { counters.framesSkipped += 1 }
                timestamp = s.timestamp
                slots[Int(seq) & mask].used = false
            }
        }
        boundary = last
        boundaryEndsFrame = true
    }

    /// The head waited too long. If its first packet is held, the frame it starts is dropped
    /// (its held packets); if not, the gap itself is the lost frame and the boundary moves to
    /// the first held packet. Then only a keyframe can follow.
    private mutating func giveUpHead(now: Instant) {
        let b = boundary!
        let n = Int(newest &- b)
        guard n >= 1 && n <= capacity else { return }
        if let head = slot(b &+ 1) {
            counters.framesSkipped += 1
            var last = b &+ 1
            for i in 1...n {
                let seq = b &+ UInt16(i)
                guard let s = slot(seq) else { continue }
                if s.timestamp != head.timestamp { break }
                last = seq
            }
            boundaryEndsFrame = slot(last)!.marker
            for i in 1...Int(last &- b) { slots[Int(b &+ UInt16(i)) & mask].used = false }
            boundary = last
        } else if let first = firstHeld(after: b) {
            // A whole frame vanished if the first held packet starts one; otherwise the lost
            // packets belong to the frame held after them, counted when that one goes.
            if slot(b &+ UInt16(first))!.startsFrame { counters.framesSkipped += 1 }
            boundary = b &+ UInt16(first - 1)
            boundaryEndsFrame = false
        }
        if !needKeyframe { requestKeyframe(now: now) }
    }

    /// The window must move to take a packet too far ahead: what falls out is lost.
    private mutating func slide(to newBoundary: UInt16, now: Instant) {
        let b = boundary!
        let n = Int(newBoundary &- b)
        for i in 1...n {
            let index = Int(b &+ UInt16(i)) & mask
            if slots[index].used && slots[index].sequenceNumber == b &+ UInt16(i) {
                slots[index].used = false
                counters.packetsOverflowed += 1
            }
        }
        boundary = newBoundary
        boundaryEndsFrame = false
        blockedSince = nil
        if !needKeyframe { requestKeyframe(now: now) }
    }
}
