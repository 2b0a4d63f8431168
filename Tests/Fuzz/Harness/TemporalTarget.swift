@testable import SFU

/// `TemporalInfo` and `TemporalFilter` on a VP8 or a VP9 stream: arbitrary packets (their
/// temporal fields read in place, never past them), arriving at arbitrary numbers (in order,
/// late, repeated, far off), with the cap changed in between; each sent one rewritten as the
/// fan-out does (`StreamOffsets`). Invariants: a packet seen again at once gets the answer
/// it had; a sent packet's number maps back to it (`inputSequence`); a new packet of layer 0,
/// without a layer, or of a stream never capped is sent; sent packets are numbered on with no
/// gap but the stream's own; the info is what the codec signals (VP8: no U, picture IDs
/// renumbered; VP9: no Y, U only with a layer, frame start and keyframe as the keyframe
/// detector reads them) and the sent copy reads as the same frame. VP9 also: picture IDs are
/// never renumbered, the sent copy is the packet but its sequence number.
///
/// Input: a set-up byte (bits 0-1: the first target; bit 7: VP9, else VP8; not bit 2, which
/// the committed VP8 inputs have set), a first number (u16), then steps of one flags byte
/// (bits 0-1: a new target; bit 2: change the target; bits 3-4: how the number moves: +1, +a
/// byte, -a byte, a new u16), the byte or u16, and a packet (a chunk), until the input ends.
enum TemporalTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        var cursor = FuzzInput(input)
        let setUp = cursor.byte()
        let codec: VideoCodec = setUp & 0x80 != 0 ? .vp9 : .vp8
        let filter = TemporalFilter(target: setUp & 3)
        var capped = setUp & 3 < TemporalFilter.topLayer
        var seq = cursor.u16()
        var last: (seq: UInt16, answer: TemporalFilter.Delta?)?
        // The harness's own view of the stream: its highest number, and the number the packet
        // after it gets when sent (nil: not known; at the start, after a far jump, or after a
        // packet held back past numbers skipped, which may have been held with it).
        var highest: UInt16?
        var next: UInt16?
        var steps = 0
        while cursor.remaining > 0, steps < 512 {
            steps += 1
            let flags = cursor.byte()
            if flags & 4 != 0 {
                filter.setTarget(flags & 3)
                capped = capped || flags & 3 < TemporalFilter.topLayer
            }
            switch flags >> 3 & 3 {
            case 0: seq &+= 1
            case 1: seq &+= UInt16(cursor.byte())
            case 2: seq &-= UInt16(cursor.byte())
            default: seq = cursor.u16()
            }
            // An exact-size copy: AddressSanitizer sees a read past it. It carries the number,
            // as the fan-out reads it from the packet.
            let chunk = cursor.chunk()
            let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk.count, alignment: 1)
            defer { packet.deallocate() }
            if chunk.count > 0 { packet.copyMemory(from: chunk) }
            if packet.count >= 4 { WireBytes.put16(packet, 2, seq) }
            let received = UnsafeRawBufferPointer(packet)
            let info = TemporalInfo(packet: received, codec: codec)
            checkInfo(info, packet: received, codec: codec)

            // Past the highest, or so far behind it that the filter takes a numbering of its
            // own from here (with nothing known of its numbers out).
            let distance = highest.map { Int(Int16(bitPattern: seq &- $0)) } ?? 1
            let isNew = distance > 0 || distance <= -TemporalFilter.window
            if isNew, distance <= 0 { next = nil }
            let answer = filter.admit(sequenceNumber: seq, info: info)
            if let last, last.seq == seq { check(answer == last.answer, "a repeat got another answer") }
            last = (seq, answer)
            if let d = answer, let back = filter.inputSequence(forOutput: seq &- d.sequence) {
                check(back == seq, "a sent packet's number maps back to another")
            }
            if isNew {
                check(
                    answer != nil || (capped && info.hasTemporalLayer && info.temporalLayer > 0),
                    "a new packet of layer 0, without a layer or never capped was held back")
                // Numbers skipped are taken as sent (a loss the viewer sees), so they count.
                let skipped = UInt16(max(distance - 1, 0))
                if let d = answer {
                    let out = seq &- d.sequence
                    if let next { check(out == next &+ skipped, "sent packets' numbers have a gap the stream had not") }
                    next = out &+ 1
                } else if skipped > 0 {
                    next = nil
                }
                highest = seq
            }
            if let d = answer { checkSent(packet, received: chunk, info: info, delta: d, codec: codec, seq: seq) }
        }
    }

    /// What a packet's temporal fields may say for its codec.
    static func checkInfo(_ info: TemporalInfo, packet: UnsafeRawBufferPointer, codec: VideoCodec) {
        check(info.temporalLayer <= 3, "a TID over 3")
        check(!info.hasPictureID || info.pictureID <= 0x7FFF, "a picture ID over 15 bits")
        check(!info.isKeyframe || info.startsFrame, "a keyframe that starts no frame")
        check(info.hasTemporalLayer || info.temporalLayer == 0, "a TID without a layer")
        if codec == .vp8 {
            check(!info.isSwitchingUp && !info.keepsPictureIDs, "VP9's U or kept picture IDs on VP8")
            return
        }
        check(!info.isLayerSync, "VP8's Y on VP9")
        check(!info.isSwitchingUp || info.hasTemporalLayer, "U without layer indices")
        check(info == .none || info.keepsPictureIDs, "a VP9 packet whose picture IDs would be renumbered")
        // What the keyframe detector reads of the same descriptor (`KeyframeDetector`).
        var traits: PayloadTraits?
        if let header = RTPPacket.headerLength(of: packet), packet.count > header {
            traits = VP9Depacketizer.traits(of: UnsafeRawBufferPointer(rebasing: packet[header...]))
        }
        check(info.startsFrame == (traits?.startsFrame ?? false), "a frame start the keyframe detector does not see")
        check(info.isKeyframe == (traits?.isKeyframe ?? false), "a keyframe the keyframe detector does not see")
    }

    /// A sent packet rewritten in place as `TrackFanout` does for a capped viewer that never
    /// moved: its number renumbered, its picture ID too for VP8, nothing else.
    static func checkSent(
        _ packet: UnsafeMutableRawBufferPointer, received: UnsafeRawBufferPointer, info: TemporalInfo,
        delta d: TemporalFilter.Delta, codec: VideoCodec, seq: UInt16
    ) {
        var offsets = StreamOffsets(codec: codec)
        offsets.sequence &-= d.sequence
        offsets.pictureID &-= d.pictureID
        offsets.apply(to: packet, length: packet.count)
        let sent = UnsafeRawBufferPointer(packet)
        if RTPPacket.headerLength(of: sent) != nil {
            check(WireBytes.u16(sent, 2) == seq &- d.sequence, "a sent packet's number is not the one given")
        }
        var again = TemporalInfo(packet: sent, codec: codec)
        if codec == .vp8 {
            // In its own width: 15 bits, or 7 (which one the info does not say).
            let id = info.pictureID &- d.pictureID
            check(
                !info.hasPictureID || again.pictureID == id & 0x7FFF || again.pictureID == id & 0x7F,
                "a VP8 picture ID not renumbered by the pictures held back")
            again.pictureID = info.pictureID
        }
        check(again == info, "the sent copy reads as another frame")
        guard codec == .vp9 else { return }
        check(d.pictureID == 0, "a VP9 picture ID renumbered")
        for i in 0..<sent.count where i != 2 && i != 3 {
            check(sent[i] == received[i], "a VP9 packet's byte \(i) changed besides its sequence number")
        }
    }
}
