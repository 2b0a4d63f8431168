/// Walks the packets of a decrypted RTCP compound by their common headers (RFC 3550 §6.4),
/// stopping at the first inconsistent length. Enough for routing feedback; the typed views
/// live in the RTP folder.
enum RTCPScan {
    static let senderReport: UInt8 = 200
    static let receiverReport: UInt8 = 201
    static let bye: UInt8 = 203
    static let transportFeedback: UInt8 = 205
    static let payloadSpecificFeedback: UInt8 = 206

    /// Calls `body(packetType, format/count, packetBytes)` for each packet.
    static func forEach(_ bytes: UnsafeRawBufferPointer, _ body: (UInt8, UInt8, UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while bytes.count - offset >= 4 {
            let first = bytes[offset]
            guard first >> 6 == 2 else { return }
            let words = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let length = (words + 1) * 4
            guard length <= bytes.count - offset else { return }
            body(bytes[offset + 1], first & 0x1F, UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]))
            offset += length
        }
    }
}

/// Writes the RTCP feedback the room sends upstream into a caller's buffer.
enum RTCPWriter {
    /// Picture Loss Indication (RFC 4585 §6.3.1): 12 bytes.
    static func pli(senderSSRC: UInt32, mediaSSRC: UInt32, into out: UnsafeMutableRawBufferPointer) -> Int {
        guard out.count >= 12 else { return 0 }
        out[0] = 0x81
        out[1] = RTCPScan.payloadSpecificFeedback
        out[2] = 0
        out[3] = 2
        out.storeBytes(of: senderSSRC.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: mediaSSRC.bigEndian, toByteOffset: 8, as: UInt32.self)
        return 12
    }

    /// Receiver Estimated Max Bitrate (draft-alvestrand-rmcat-remb): 20 + 4·n bytes.
    static func remb<S: Sequence<UInt32>>(
        senderSSRC: UInt32, bitrate: UInt64, ssrcs: S, into out: UnsafeMutableRawBufferPointer
    ) -> Int {
        var exponent: UInt64 = 0
        var mantissa = bitrate
        while mantissa > 0x3FFFF {
            mantissa >>= 1
            exponent += 1
        }
        var n = 0
        var offset = 20
        for ssrc in ssrcs {
            guard offset + 4 <= out.count, n < 255 else { break }
            out.storeBytes(of: ssrc.bigEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
            n += 1
        }
        guard out.count >= 20 else { return 0 }
        out[0] = 0x8F  // V=2, FMT=15 (application layer feedback)
        out[1] = RTCPScan.payloadSpecificFeedback
        let words = offset / 4 - 1
        out[2] = UInt8(words >> 8)
        out[3] = UInt8(truncatingIfNeeded: words)
        out.storeBytes(of: senderSSRC.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: UInt32(0), toByteOffset: 8, as: UInt32.self)
        out[12] = UInt8(ascii: "R")
        out[13] = UInt8(ascii: "E")
        out[14] = UInt8(ascii: "M")
        out[15] = UInt8(ascii: "B")
        out[16] = UInt8(n)
        out[17] = UInt8(exponent << 2) | UInt8(truncatingIfNeeded: mantissa >> 16)
        out[18] = UInt8(truncatingIfNeeded: mantissa >> 8)
        out[19] = UInt8(truncatingIfNeeded: mantissa)
        return offset
    }
}
