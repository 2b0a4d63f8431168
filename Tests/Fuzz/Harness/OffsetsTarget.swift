@testable import SFU

/// `StreamOffsets`, what a viewer that moved between simulcast layers (or on to a newer
/// keyframe while being started) adds to every packet it is sent: applied to arbitrary media
/// and RTX packets, with arbitrary (wrapping) offsets and a length that may differ from the
/// buffer's, and `StreamOffsets.continuing` between two arbitrary packets.
///
/// Input: flags (codec in bits 0-1, RTX in bit 2, the length's mode in bits 3-4, `last` given
/// in bit 5), then sequence (2), timestamp (4), picture ID (2) and TL0PICIDX (1) offsets, a
/// length adjustment (1), the last packet's sequence number (2), the last packet (a chunk),
/// and the packet (the rest).
enum OffsetsTarget {
    static let codecs: [VideoCodec?] = [nil, .vp8, .vp9, .h264]

    static func run(_ input: UnsafeRawBufferPointer) {
        var cursor = FuzzInput(input)
        let flags = cursor.byte()
        var offsets = StreamOffsets(codec: codecs[Int(flags & 3)])
        offsets.sequence = cursor.u16()
        offsets.timestamp = cursor.u32()
        offsets.pictureID = cursor.u16()
        offsets.tl0PicIdx = cursor.byte()
        let adjust = Int(cursor.byte())
        let lastSequence = cursor.u16()
        let last = Array(cursor.chunk())
        let packet = Array(cursor.rest())
        let rtx = flags & 4 != 0
        let length: Int
        switch flags >> 3 & 3 {
        case 0: length = packet.count
        case 1: length = max(packet.count - adjust, 0)
        default: length = packet.count + adjust  // longer than the buffer: never read or written past it
        }

        // An exact-size buffer, so AddressSanitizer sees any access past it.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: packet.count, alignment: 1)
        defer { buffer.deallocate() }
        packet.withUnsafeBytes { if $0.count > 0 { buffer.copyMemory(from: $0) } }
        offsets.apply(to: buffer, length: length, rtx: rtx)
        for i in min(length, packet.count)..<packet.count {
            check(buffer[i] == packet[i], "a byte past the length changed")
        }
        // The inverse offsets give the packet back: nothing but the fields was touched, and
        // every field wraps in its own width.
        var inverse = offsets
        inverse.sequence = 0 &- offsets.sequence
        inverse.timestamp = 0 &- offsets.timestamp
        inverse.pictureID = 0 &- offsets.pictureID
        inverse.tl0PicIdx = 0 &- offsets.tl0PicIdx
        inverse.apply(to: buffer, length: length, rtx: rtx)
        check(buffer.elementsEqual(packet), "offsets and their inverse do not give the packet back")

        // Continuing a stream from `last` at keyframe `packet`: the rewritten keyframe follows
        // the last packet in numbering, time and picture ID.
        guard let key = try? RTPPacket(parsing: buffer) else { return }
        let start = key.sequenceNumber
        let keyTimestamp = key.timestamp
        let codec = offsets.codec
        let lastPacket: [UInt8]? = flags & 0x20 != 0 ? last : nil
        let continued = lastPacket.withOptionalBytes { lastBytes in
            StreamOffsets.continuing(
                last: lastBytes, lastSequence: lastSequence, previous: offsets, keyframe: UnsafeRawBufferPointer(buffer),
                start: start, codec: codec, frameTicks: 3000)
        }
        let before: (pictureID: UInt16?, tl0: UInt8?) =
            lastPacket.withOptionalBytes { $0.map { StreamOffsets.pictureFields(of: $0, codec: codec) } } ?? (nil, nil)
        continued.apply(to: buffer, length: packet.count)
        guard let rewritten = try? RTPPacket(parsing: buffer) else {
            // Only padding can tell otherwise: its count is the last byte, which a payload of
            // nothing but padding shares with the descriptor.
            check(packet[0] & 0x20 != 0, "a keyframe that parsed does not parse once rewritten")
            return
        }
        check(rewritten.sequenceNumber == lastSequence &+ offsets.sequence &+ 1, "numbering does not continue")
        if let l = lastPacket, l.count >= 12 {
            let lastTimestamp = UInt32(l[4]) << 24 | UInt32(l[5]) << 16 | UInt32(l[6]) << 8 | UInt32(l[7])
            check(rewritten.timestamp == lastTimestamp &+ offsets.timestamp &+ 3000, "time does not continue")
        } else {
            check(rewritten.timestamp == keyTimestamp, "time changed without a last packet")
        }
        let after = StreamOffsets.pictureFields(of: UnsafeRawBufferPointer(buffer), codec: codec)
        if let a = before.pictureID, let b = after.pictureID {
            let expected = a &+ offsets.pictureID &+ 1
            check(b == expected & 0x7FFF || b == expected & 0x7F, "picture IDs do not continue")
        }
        if let a = before.tl0, let b = after.tl0 { check(b == a &+ offsets.tl0PicIdx &+ 1, "TL0PICIDX does not continue") }
    }
}

extension Optional where Wrapped == [UInt8] {
    /// The bytes of the array, or nil, for the call.
    fileprivate func withOptionalBytes<R>(_ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBytes { body($0) }
    }
}
