// libFuzzer entry for livesfu's parsers. Built only by Tests/Fuzz/run.sh (LIVESFU_FUZZ=1,
// -sanitize=fuzzer); FUZZ_TARGET picks the parser: stun, rtp, rtcp, sdp, http, trickle.
import Glibc
import HTTP
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
    default:
        fatalError("unknown FUZZ_TARGET \(target)")
    }
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
