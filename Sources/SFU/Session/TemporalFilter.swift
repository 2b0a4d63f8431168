/// One viewer's cap on the temporal layers of the VP8 or VP9 stream it gets: frames of a
/// temporal layer above the cap are not sent to it, and what it is sent is renumbered so it
/// sees no hole: sequence numbers (a hole would be NACKed) and VP8 picture IDs (a hole makes a
/// decoder hold the next frames of layers above 0 back, waiting for the missing picture) run
/// on without a gap. VP9 picture IDs keep their holes (`TemporalInfo.keepsPictureIDs`).
/// TL0PICIDX needs nothing: frames of layer 0 are never held back.
///
/// Down to a lower cap at any frame's start (the frames of lower layers never reference those
/// of higher ones); up only where the decoder has every frame the next ones reference: at a
/// keyframe; VP8: at the start of a frame with the layer-sync bit (Y) of a layer above the
/// cap and not above the target, which then becomes the cap (step by step, as the publisher
/// marks them; a TL0 frame alone is not such a point: with libwebrtc's three-layer pattern,
/// frames of layer 2 also reference the buffer layer 1 updates); VP9: at the start of a frame
/// with the switching-up bit (U) of a layer within the cap, which lets every layer up to the
/// target through from there (the frames above its layer that follow reference nothing
/// before it above its layer).
///
/// Renumbering: every packet the publisher's stream numbers is given, when first seen, the
/// counts of packets and pictures held back before it (`Delta`), kept for the last `window`
/// numbers, so a packet that comes late (a repair, a NACKed one, a probe's duplicate) gets the
/// same numbers as it would have in order, and a viewer's NACK maps back to the stream's
/// numbering (`inputSequence`). Numbers the stream skipped (lost, still to come) are taken as
/// sent, except inside a frame held back (between two of its packets); one that then turns
/// out to be above the cap leaves its number unused, as a loss the viewer gives up on.
///
/// Core-confined; allocated when a viewer is first capped (never on the media path); the
/// media path only reads and writes its fixed table: nothing allocates or locks, and its
/// fields skip dynamic exclusivity checks (plain values of one core, as `ViewerTrack`'s).
final class TemporalFilter {
    /// Packets whose numbers are remembered: NACKs and late packets older than this are not
    /// answered. 512 × 8 bytes per capped viewer (1 s at 500 packets/s).
    static let window = 512
    /// The highest temporal layer VP8 signals (TID is 2 bits); VP9's above it read as it.
    static let topLayer: UInt8 = TemporalInfo.highestLayer

    /// What is subtracted from a sent packet's sequence number and picture ID.
    struct Delta: Equatable {
        var sequence: UInt16
        var pictureID: UInt16
    }

    /// The cap asked for (`topLayer`: every layer) and the one in force.
    @exclusivity(unchecked) private(set) var target: UInt8
    @exclusivity(unchecked) private(set) var cap: UInt8
    /// Packets and pictures held back so far (what the next sent packet has subtracted).
    @exclusivity(unchecked) private(set) var droppedPackets: UInt16 = 0
    @exclusivity(unchecked) private(set) var droppedPictures: UInt16 = 0
    @exclusivity(unchecked) private var started = false
    @exclusivity(unchecked) private var first: UInt16 = 0
    @exclusivity(unchecked) private var highest: UInt16 = 0
    @exclusivity(unchecked) private var highestDropped = false
    @exclusivity(unchecked) private var highestPicture: UInt16 = 0
    @exclusivity(unchecked) private var lastDroppedPicture: UInt16 = 0
    @exclusivity(unchecked) private var droppedAny = false
    /// Per stream number (mod `window`): its `Delta` (bits 0-31), held back (bit 32), seen
    /// (bit 33; a number skipped and not yet seen is neither).
    private let entries: UnsafeMutablePointer<UInt64>
    private static let droppedBit: UInt64 = 1 << 32
    private static let seenBit: UInt64 = 1 << 33

    // Figures.
    @exclusivity(unchecked) private(set) var packetsHeld: UInt64 = 0
    @exclusivity(unchecked) private(set) var upSwitches: UInt64 = 0
    @exclusivity(unchecked) private(set) var downSwitches: UInt64 = 0

    init(target: UInt8) {
        self.target = min(target, Self.topLayer)
        // Every layer until the next frame starts: the frame under way is not cut.
        self.cap = Self.topLayer
        entries = .allocate(capacity: Self.window)
        entries.initialize(repeating: 0, count: Self.window)
    }

    deinit { entries.deallocate() }

    /// Asks for a cap (0-3; 3: every layer): down at the next frame, up at a switching point.
    func setTarget(_ layer: UInt8) { target = min(layer, Self.topLayer) }

    /// Whether it holds anything back or may: false once every layer is let through.
    var isCapping: Bool { target < Self.topLayer || cap < Self.topLayer }

    /// The stream's numbering starts anew (the viewer moved to another simulcast layer, at
    /// its keyframe): what was held back is folded into the viewer's offsets by the caller.
    func restart() {
        started = false
        droppedPackets = 0
        droppedPictures = 0
        droppedAny = false
        highestDropped = false
        cap = target  // it starts at a keyframe: every layer is decodable from there
    }

    /// Decides one packet of the stream, numbered `seq` in the stream's numbering: nil when it
    /// is held back, else what to subtract from its numbers. The same packet seen again (a
    /// repair, a duplicate) gets the same answer.
    func admit(sequenceNumber seq: UInt16, info: TemporalInfo) -> Delta? {
        if !started {
            started = true
            first = seq
            highest = seq &- 1
        }
        var distance = Int16(bitPattern: seq &- highest)
        if Int(distance) <= -Self.window {
            // Far behind anything remembered: a numbering of its own (the track's publisher
            // changed), taken up from here with what was held back still subtracted.
            first = seq
            highest = seq &- 1
            distance = 1
        }
        guard distance > 0 else { return late(seq, info: info, distance: Int(distance)) }
        let drop = decide(info)
        let current = Self.pack(Delta(sequence: droppedPackets, pictureID: droppedPictures))
        if distance > 1 {
            // Numbers skipped: inside a frame held back (both neighbours are its packets) they
            // are its packets too; otherwise taken as sent.
            let insideHeldFrame =
                drop && highestDropped && info.hasPictureID && highestPicture == info.pictureID
            let n = min(Int(distance) - 1, Self.window)
            var g = seq &- UInt16(n)
            for _ in 0..<n {
                if insideHeldFrame {
                    entries[Int(g) & (Self.window - 1)] =
                        Self.pack(Delta(sequence: droppedPackets, pictureID: droppedPictures)) | Self.droppedBit
                    droppedPackets &+= 1
                } else {
                    entries[Int(g) & (Self.window - 1)] = current
                }
                g &+= 1
            }
        }
        highest = seq
        // `first` (before it, numbers were never this stream's) stays within the window behind
        // the highest: compared as 16-bit distances, it would turn "before" after 32 768
        // packets, and every late packet and NACK would go unanswered from then on.
        if Int(highest &- first) >= Self.window { first = highest &- UInt16(Self.window - 1) }
        highestDropped = drop
        highestPicture = info.pictureID
        let delta = Delta(sequence: droppedPackets, pictureID: droppedPictures)
        if drop {
            entries[Int(seq) & (Self.window - 1)] = Self.pack(delta) | Self.droppedBit | Self.seenBit
            droppedPackets &+= 1
            countDroppedPicture(info)
            packetsHeld &+= 1
            return nil
        }
        entries[Int(seq) & (Self.window - 1)] = Self.pack(delta) | Self.seenBit
        return delta
    }

    /// The stream's number of the packet a viewer numbers `output` (its NACKs; after the
    /// viewer's own offsets are taken off): nil when that is not a packet it was sent, or too
    /// old to know.
    func inputSequence(forOutput output: UInt16) -> UInt16? {
        guard started else { return output }
        // s = output + (packets held back before s): the greatest such s is found from above,
        // as the count only grows with s; a number held back is never an answer.
        var s = output &+ droppedPackets
        for _ in 0..<64 {
            guard Int16(bitPattern: s &- highest) <= 0, let e = entry(s) else { return nil }
            let t = output &+ UInt16(truncatingIfNeeded: e)
            if t == s { return e & Self.droppedBit != 0 ? nil : s }
            s = t
        }
        return nil
    }

    /// Whether the frame starting with `info` is above the cap, after moving the cap at a
    /// frame's start where that may happen.
    private func decide(_ info: TemporalInfo) -> Bool {
        if info.isKeyframe {
            if cap != target {
                if cap < target { upSwitches &+= 1 } else { downSwitches &+= 1 }
                cap = target
            }
        } else if info.startsFrame {
            if target < cap {
                cap = target
                downSwitches &+= 1
            } else if target > cap, info.isLayerSync, info.temporalLayer > cap, info.temporalLayer <= target {
                cap = info.temporalLayer
                upSwitches &+= 1
            } else if target > cap, info.isSwitchingUp, info.temporalLayer <= cap {
                cap = target
                upSwitches &+= 1
            }
        }
        return info.hasTemporalLayer && info.temporalLayer > cap
    }

    /// A packet at or before the highest seen: the answer it was given, or for a number
    /// skipped and seen only now, sent when its layer is within the cap (else its number
    /// stays unused).
    private func late(_ seq: UInt16, info: TemporalInfo, distance: Int) -> Delta? {
        guard -distance < Self.window, !(Int16(bitPattern: seq &- first) < 0), let e = entry(seq) else { return nil }
        if e & Self.droppedBit != 0 { return nil }
        if e & Self.seenBit == 0 {
            if info.hasTemporalLayer, info.temporalLayer > cap {
                entries[Int(seq) & (Self.window - 1)] = e | Self.droppedBit | Self.seenBit
                packetsHeld &+= 1
                return nil
            }
            entries[Int(seq) & (Self.window - 1)] = e | Self.seenBit
        }
        return Self.unpack(e)
    }

    /// The entry of a number within the window since `first`, nil outside it.
    private func entry(_ seq: UInt16) -> UInt64? {
        let back = Int(Int16(bitPattern: highest &- seq))
        guard back >= 0, back < Self.window, !(Int16(bitPattern: seq &- first) < 0) else { return nil }
        return entries[Int(seq) & (Self.window - 1)]
    }

    private func countDroppedPicture(_ info: TemporalInfo) {
        if info.keepsPictureIDs { return }
        // Pictures are counted where their picture ID changes (or, without one, at a frame's
        // start), in the picture ID's 15 bits (a 7-bit one wraps within them).
        let newPicture = info.hasPictureID ? (!droppedAny || info.pictureID != lastDroppedPicture) : info.startsFrame
        if newPicture { droppedPictures = (droppedPictures &+ 1) & 0x7FFF }
        lastDroppedPicture = info.pictureID
        droppedAny = true
    }

    private static func pack(_ d: Delta) -> UInt64 { UInt64(d.sequence) | UInt64(d.pictureID) << 16 }

    private static func unpack(_ e: UInt64) -> Delta {
        Delta(sequence: UInt16(truncatingIfNeeded: e), pictureID: UInt16(truncatingIfNeeded: e >> 16))
    }
}
