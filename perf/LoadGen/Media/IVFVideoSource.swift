import Glibc

/// Replays a VP8 IVF file (a 32-byte "DKIF" header, then frames of a 12-byte header and
/// data) in a loop at `fps`, packetized per RFC 7741 into packets of at most
/// `maxPacketSize` bytes. The recording's bitstream is kept whole, so the `MediaStamp`
/// goes at the *end* of each payload instead of after the descriptor (viewers look there
/// when the fixed offset holds no stamp). Keyframes come when the recording has them;
/// a PLI cannot make one.
final class IVFVideoSource: VideoSource {
    enum Failure: Error, CustomStringConvertible {
        case unreadable(String), notIVF(String), notVP8(String), empty(String)
        var description: String {
            switch self {
            case .unreadable(let p): "cannot read \(p)"
            case .notIVF(let p): "\(p) is not an IVF file (no DKIF header)"
            case .notVP8(let p): "\(p) is not VP8 (fourcc is not VP80)"
            case .empty(let p): "\(p) has no frames"
            }
        }
    }

    let ssrc: UInt32
    var payloadType: UInt8
    var midExtensionID: UInt8
    let mid: UInt8 = 0x30
    let frameIntervalNanos: UInt64
    let maxPacketSize: Int
    /// Frames as (offset, length) into `data`.
    private let frames: [(offset: Int, length: Int)]
    private let data: [UInt8]
    private var next = 0
    private var sequence: UInt16
    private var packetCounter: UInt32 = 0
    private var frameIndex = 0
    private var current = SyntheticVideoSource.Frame(isKeyframe: false, bytes: 0, packetCount: 0, packetPayload: 0, timestamp: 0)
    private(set) var keyframeRequests = 0

    init(path: String, fps: Int, ssrc: UInt32, payloadType: UInt8, maxPacketSize: Int = 1200, seed: UInt64 = 1) throws(Failure) {
        guard let bytes = Self.read(path) else { throw .unreadable(path) }
        guard bytes.count >= 32, bytes[0] == 0x44, bytes[1] == 0x4B, bytes[2] == 0x49, bytes[3] == 0x46 else {
            throw .notIVF(path)
        }
        guard bytes[8] == 0x56, bytes[9] == 0x50, bytes[10] == 0x38, bytes[11] == 0x30 else { throw .notVP8(path) }
        let headerLength = Int(bytes[6]) | Int(bytes[7]) << 8
        var list: [(Int, Int)] = []
        var o = max(32, headerLength)
        while o + 12 <= bytes.count {
            let n = Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24
            guard n > 0, o + 12 + n <= bytes.count else { break }
            list.append((o + 12, n))
            o += 12 + n
        }
        guard !list.isEmpty else { throw .empty(path) }
        data = bytes
        frames = list
        self.ssrc = ssrc
        self.payloadType = payloadType
        midExtensionID = 0
        self.maxPacketSize = maxPacketSize
        frameIntervalNanos = 1_000_000_000 / UInt64(max(fps, 1))
        sequence = UInt16(truncatingIfNeeded: seed &* 2_654_435_761)
    }

    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    var frameCount: Int { frames.count }

    func requestKeyframe() { keyframeRequests += 1 }

    private var headerLength: Int { midExtensionID != 0 ? 20 : 12 }

    func beginFrame() -> SyntheticVideoSource.Frame {
        let f = frames[next]
        next = (next + 1) % frames.count
        let key = data[f.offset] & 0x01 == 0
        // Each packet: descriptor (1) + a slice of the frame + the stamp (16).
        let capacity = maxPacketSize - headerLength - 1 - MediaStamp.size
        let count = max(1, (f.length + capacity - 1) / capacity)
        let per = (f.length + count - 1) / count
        current = SyntheticVideoSource.Frame(isKeyframe: key, bytes: f.length, packetCount: count, packetPayload: per,
                                             timestamp: UInt32(truncatingIfNeeded: frameIndex &* 3000))
        currentOffset = f.offset
        frameIndex += 1
        return current
    }

    private var currentOffset = 0

    func writePacket(_ index: Int, sendNanos: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let f = current
        let start = index * f.packetPayload
        let chunk = max(0, min(f.packetPayload, f.bytes - start))
        let h = RTPWriter.writeHeader(into: buffer, payloadType: payloadType, marker: index == f.packetCount - 1,
                                      sequence: sequence, timestamp: f.timestamp, ssrc: ssrc,
                                      midExtensionID: midExtensionID, mid: mid)
        let total = h + 1 + chunk + MediaStamp.size
        guard h > 0, buffer.count >= total else { return 0 }
        buffer[h] = index == 0 ? 0x10 : 0x00
        data.withUnsafeBytes { src in
            if chunk > 0 { (buffer.baseAddress! + h + 1).copyMemory(from: src.baseAddress! + currentOffset + start, byteCount: chunk) }
        }
        MediaStamp(sendNanos: sendNanos, counter: packetCounter).write(into: buffer, at: h + 1 + chunk)
        packetCounter &+= 1
        sequence &+= 1
        return total
    }
}
