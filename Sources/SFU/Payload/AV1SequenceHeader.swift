/// The fields of an AV1 sequence header OBU (AV1 spec §5.5) the recorder needs: the largest
/// frame size, for the IVF header. Parsed with the spec's bit syntax up to those fields.
public struct AV1SequenceHeader: Equatable, Sendable {
    public var profile: Int
    public var maxFrameWidth: Int
    public var maxFrameHeight: Int

    /// Parses a sequence header OBU's payload (after its header and size); nil if cut short.
    public init?(payload: UnsafeRawBufferPointer) {
        var r = BitReader(payload)
        profile = Int(r.bits(3))
        _ = r.bits(1)  // still_picture
        let reduced = r.bits(1) == 1
        if reduced {
            _ = r.bits(5)  // seq_level_idx[0]
        } else {
            var decoderModel = false
            var bufferDelayLength = 0
            if r.bits(1) == 1 {  // timing_info_present_flag
                _ = r.bits(32)  // num_units_in_display_tick
                _ = r.bits(32)  // time_scale
                if r.bits(1) == 1 { Self.skipUVLC(&r) }  // equal_picture_interval
                decoderModel = r.bits(1) == 1
                if decoderModel {
                    bufferDelayLength = Int(r.bits(5)) + 1
                    _ = r.bits(32)  // num_units_in_decoding_tick
                    _ = r.bits(10)  // buffer_removal_time_length_minus_1, frame_presentation_time_length_minus_1
                }
            }
            let initialDisplayDelay = r.bits(1) == 1
            let operatingPoints = Int(r.bits(5)) + 1
            for _ in 0..<operatingPoints {
                _ = r.bits(12)  // operating_point_idc
                if r.bits(5) > 7 { _ = r.bits(1) }  // seq_level_idx, seq_tier
                if decoderModel && r.bits(1) == 1 {
                    _ = r.bits(2 * bufferDelayLength + 1)  // decoder/encoder buffer delay, low_delay_mode_flag
                }
                if initialDisplayDelay && r.bits(1) == 1 { _ = r.bits(4) }
            }
        }
        let widthBits = Int(r.bits(4)) + 1
        let heightBits = Int(r.bits(4)) + 1
        maxFrameWidth = Int(r.bits(widthBits)) + 1
        maxFrameHeight = Int(r.bits(heightBits)) + 1
        if r.overrun { return nil }
    }

    /// The first sequence header in a low-overhead temporal unit (every OBU with its size, as
    /// `AV1Depacketizer` writes them), nil if there is none or the OBUs are malformed.
    public static func find(inTemporalUnit tu: UnsafeRawBufferPointer) -> AV1SequenceHeader? {
        var o = 0
        while o < tu.count {
            let header = tu[o]
            guard header & 0x02 != 0 else { return nil }
            let start = o + (header & 0x04 != 0 ? 2 : 1)
            guard let (size, len) = LEB128.read(tu, at: start), size <= tu.count - start - len else { return nil }
            let payload = start + len
            if (header >> 3) & 0x0F == 1 {
                return AV1SequenceHeader(payload: UnsafeRawBufferPointer(rebasing: tu[payload..<(payload + size)]))
            }
            o = payload + size
        }
        return nil
    }

    /// uvlc() (§4.10.3): leading zeros, then that many bits.
    private static func skipUVLC(_ r: inout BitReader) {
        var zeros = 0
        while r.bits(1) == 0 && !r.overrun && zeros < 32 { zeros += 1 }
        if zeros < 32 { _ = r.bits(zeros) }
    }
}
