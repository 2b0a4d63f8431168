// libFuzzer entry for livesfu's parsers. Built only by Tests/Fuzz/run.sh (LIVESFU_FUZZ=1,
// -sanitize=fuzzer); FUZZ_TARGET picks the parser: stun, rtp, rtcp, sdp, http, trickle,
// recording.
import Glibc
import HTTP
import Reactor
import SFU

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// One parser run over one input; must never crash, whatever the bytes.
func fuzzOne(_ target: String, _ input: UnsafeRawBufferPointer) {
    switch target {
    case "stun":
        if let m = try? StunMessage(parsing: input) {
            _ = m.username
            _ = try? m.validateFingerprint()
            _ = try? m.validateMessageIntegrity(key: [UInt8](repeating: 1, count: 22))
        }
    case "rtp":
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 8)
        defer { copy.deallocate() }
        copy.copyMemory(from: input)
        if let p = try? RTPPacket(parsing: copy) {
            _ = p.payload.count
            p.forEachExtension { _, _ in }
            p.rewriteExtensionIDs { $0 &+ 1 }
            _ = KeyframeDetector.isKeyframe(codec: .vp8, payload: UnsafeRawBufferPointer(p.payload))
            _ = KeyframeDetector.isKeyframe(codec: .h264, payload: UnsafeRawBufferPointer(p.payload))
            _ = KeyframeDetector.isKeyframe(codec: .vp9, payload: UnsafeRawBufferPointer(p.payload))
            _ = KeyframeDetector.isKeyframe(codec: .av1, payload: UnsafeRawBufferPointer(p.payload))
        }
    case "rtcp":
        if let c = try? RTCPCompound(parsing: input) {
            for packet in c { _ = packet }
        }
    case "sdp":
        let text = String(decoding: input, as: UTF8.self)
        if let offer = try? SDPParser.parse(text) {
            // Whatever parses must re-parse to the same model.
            precondition((try? SDPParser.parse(SDPWriter.write(offer))) == offer, "SDP round trip differs")
            let p = AnswerParameters(
                iceUfrag: "abcd", icePassword: "0123456789012345678901", fingerprint: "AA:BB",
                candidates: [], sessionID: 1)
            _ = try? AnswerBuilder.buildAnswer(offer: offer, parameters: p, role: .publisher)
        }
    case "trickle":
        _ = try? TrickleFragment.parse(String(decoding: input, as: UTF8.self))
    case "http":
        HTTPParserFuzzing.testOneInput(input)
    case "recording":
        fuzzRecording(input)
    default:
        fatalError("unknown FUZZ_TARGET \(target)")
    }
}

/// A track's recording chain (assembler, depacketizer, IVF/Annex B or Ogg writer) over packets
/// cut from the input: byte 0 picks VP8, VP9, H.264, AV1 or Opus; then per packet a length
/// byte, a flags byte (bit 0 marker, bits 1-3 sequence step - 2, bits 4-5 timestamp step) and
/// the payload.
func fuzzRecording(_ input: UnsafeRawBufferPointer) {
    guard input.count >= 1 else { return }
    let codecs: [VideoCodec] = [.vp8, .vp9, .h264, .av1]
    let pick = Int(input[0] % 5)
    var video = VideoTrackRecorder(codec: codecs[min(pick, 3)], assembler: .init(maxPackets: 64))
    var audio = AudioTrackRecorder(serial: 1)
    var seq: UInt16 = 65_530
    var ts: UInt32 = 4_294_960_000
    var now = Instant(nanoseconds: 1)
    var o = 1
    while o + 2 <= input.count {
        let length = min(Int(input[o]), input.count - o - 2)
        let flags = input[o + 1]
        let payload = UnsafeRawBufferPointer(rebasing: input[(o + 2)..<(o + 2 + length)])
        o += 2 + length
        seq &+= UInt16(bitPattern: Int16((flags >> 1) & 0x07) - 2)
        ts &+= [0, 960, 3000, 0x8000_0000][Int((flags >> 4) & 0x03)]
        now = now + .milliseconds(UInt64(flags >> 6) * 200)
        if pick == 4 {
            audio.handle(sequenceNumber: seq, timestamp: ts, payload: payload, now: now)
            audio.takeOutput { _ in }
        } else {
            video.handle(sequenceNumber: seq, timestamp: ts, marker: flags & 1 != 0, payload: payload, now: now)
            _ = video.takeKeyframeRequest()
            video.takeOutput { _ in }
        }
    }
    video.advance(now: now + .seconds(2))
    _ = video.finalHeader
    audio.finish(now: now)
}

@main
struct FuzzMain {
    nonisolated(unsafe) static var target = "stun"

    static func main() {
        target = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "stun"
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                fuzzOne(FuzzMain.target, UnsafeRawBufferPointer(start: data, count: size))
                return 0
            })
    }
}
