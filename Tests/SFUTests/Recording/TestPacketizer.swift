@testable import SFU

/// Minimal RTP packetizers for the playback tests: they split encoded frames (from ffmpeg)
/// into payloads the way browsers do, small enough (`mtu`) that frames span several packets.
enum TestPacketizer {
    static let mtu = 300

    /// RFC 7741: X=1, I=1 with a 15-bit PictureID; S=1 on the first packet.
    static func vp8(_ frame: [UInt8], pictureID: Int) -> [[UInt8]] {
        chunks(frame, mtu - 4).enumerated().map { i, chunk in
            [i == 0 ? 0x90 : 0x80, 0x80, 0x80 | UInt8((pictureID >> 8) & 0x7F), UInt8(pictureID & 0xFF)] + chunk
        }
    }

    /// RFC 9628 as libwebrtc sends one spatial layer: I (15 bits) and L (TID/SID 0); in
    /// non-flexible mode with TL0PICIDX, in flexible mode with one P_DIFF on inter frames;
    /// B on the first packet, E on the last, P on inter frames; keyframes carry a scalability
    /// structure with the picture size.
    static func vp9(
        _ frame: [UInt8], pictureID: Int, keyframe: Bool, width: Int, height: Int, flexible: Bool = false
    ) -> [[UInt8]] {
        let parts = chunks(frame, mtu - 14)
        return parts.enumerated().map { i, chunk in
            var b0: UInt8 = 0xA0
            if !keyframe { b0 |= 0x40 }
            if flexible { b0 |= 0x10 }
            if i == 0 { b0 |= 0x08 }
            if i == parts.count - 1 { b0 |= 0x04 }
            var d: [UInt8] = [b0, 0x80 | UInt8((pictureID >> 8) & 0x7F), UInt8(pictureID & 0xFF), 0x00]
            if !flexible { d.append(UInt8(truncatingIfNeeded: pictureID)) }  // TL0PICIDX
            if flexible && !keyframe { d.append(0x02) }  // P_DIFF 1, no more
            if keyframe && i == 0 {
                d[0] |= 0x02
                d += [0x10, UInt8(width >> 8), UInt8(width & 0xFF), UInt8(height >> 8), UInt8(height & 0xFF)]
            }
            return d + chunk
        }
    }

    /// RFC 6184 mode 1: SPS/PPS/SEI in one STAP-A, small NAL units alone, large ones in FU-A.
    static func h264(_ nals: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let small = nals.prefix { [6, 7, 8, 9].contains($0[0] & 0x1F) }
        if small.count > 1 {
            out.append(small.reduce(into: [0x78]) { $0 += [UInt8(($1.count >> 8) & 0xFF), UInt8($1.count & 0xFF)] + $1 })
        } else {
            out += small
        }
        for nal in nals.dropFirst(small.count) {
            if nal.count <= mtu {
                out.append(nal)
                continue
            }
            let parts = chunks(Array(nal.dropFirst()), mtu - 2)
            for (i, part) in parts.enumerated() {
                let start: UInt8 = i == 0 ? 0x80 : 0
                let end: UInt8 = i == parts.count - 1 ? 0x40 : 0
                out.append([(nal[0] & 0xE0) | 28, start | end | (nal[0] & 0x1F)] + part)
            }
        }
        return out
    }

    /// The AV1 payload format with W=0 (every element length-prefixed), OBUs sent without
    /// their size fields, fragmented across packets with Z/Y; N on a keyframe's first packet.
    static func av1(_ temporalUnit: [UInt8]) -> [[UInt8]] {
        var elements: [[UInt8]] = []
        var newSequence = false
        var o = 0
        while o < temporalUnit.count {
            let header = temporalUnit[o]
            let ext = header & 0x04 != 0 ? 1 : 0
            let (size, len) = temporalUnit.withUnsafeBytes { LEB128.read($0, at: o + 1 + ext)! }
            let payloadStart = o + 1 + ext + len
            let type = (header >> 3) & 0x0F
            if type == 1 { newSequence = true }
            if type != 2 {
                let extensionByte = temporalUnit[(o + 1)..<(o + 1 + ext)]
                elements.append([header & ~0x02] + extensionByte + temporalUnit[payloadStart..<(payloadStart + size)])
            }
            o = payloadStart + size
        }
        var packets: [[UInt8]] = []
        var current: [UInt8] = [0]
        var continuing = false
        func flush(continues: Bool) {
            current[0] = (continuing ? 0x80 : 0) | (continues ? 0x40 : 0) | (packets.isEmpty && newSequence ? 0x08 : 0)
            packets.append(current)
            current = [0]
            continuing = continues
        }
        for element in elements {
            var rest = element[...]
            while !rest.isEmpty {
                let room = mtu - current.count - 3
                if room <= 8 {
                    flush(continues: false)
                    continue
                }
                let part = rest.prefix(room)
                rest = rest.dropFirst(part.count)
                LEB128.write(part.count, to: &current)
                current += part
                if !rest.isEmpty { flush(continues: true) }
            }
        }
        if current.count > 1 { flush(continues: false) }
        return packets
    }

    static func chunks(_ b: [UInt8], _ size: Int) -> [[UInt8]] {
        stride(from: 0, to: max(b.count, 1), by: size).map { Array(b[$0..<min($0 + size, b.count)]) }
    }

    /// Annex B to NAL units.
    static func nalUnits(_ b: [UInt8]) -> [[UInt8]] {
        var starts: [(code: Int, nal: Int)] = []
        var i = 0
        while i + 3 <= b.count {
            if b[i] == 0, b[i + 1] == 0, b[i + 2] == 1 {
                starts.append((i > 0 && b[i - 1] == 0 ? i - 1 : i, i + 3))
                i += 3
            } else {
                i += 1
            }
        }
        return starts.enumerated().map { k, s in
            Array(b[s.nal..<(k + 1 < starts.count ? starts[k + 1].code : b.count)])
        }
    }

    /// NAL units grouped into access units: a new one at an AUD/SEI/SPS/PPS or at a slice
    /// with first_mb_in_slice = 0, once the current one has a slice.
    static func accessUnits(_ nals: [[UInt8]]) -> [[[UInt8]]] {
        var units: [[[UInt8]]] = []
        var current: [[UInt8]] = []
        var hasSlice = false
        for nal in nals {
            let t = nal[0] & 0x1F
            let isSlice = t == 1 || t == 5
            let startsUnit = [6, 7, 8, 9].contains(t) || (isSlice && nal.count > 1 && nal[1] & 0x80 != 0)
            if hasSlice && startsUnit {
                units.append(current)
                current = []
                hasSlice = false
            }
            current.append(nal)
            hasSlice = hasSlice || isSlice
        }
        if !current.isEmpty { units.append(current) }
        return units
    }
}
