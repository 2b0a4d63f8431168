// libFuzzer entry for livesfu. Built only by Tests/Fuzz/run.sh and scripts/test.sh
// (LIVESFU_FUZZ=1, -sanitize=fuzzer,address); FUZZ_TARGET picks the target (see `targets`).
import Glibc
import HTTP
import SFU

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Every target: one input in, must never crash nor break an invariant (`check`).
nonisolated(unsafe) let targets: [String: (UnsafeRawBufferPointer) -> Void] = [
    "stun": ParserTargets.stun,
    "rtp": ParserTargets.rtp,
    "rtcp": ParserTargets.rtcp,
    "rtx": ParserTargets.rtx,
    "sdp": ParserTargets.sdp,
    "answer-viewer": ParserTargets.answerViewer,
    "trickle": ParserTargets.trickle,
    "http": { HTTPParserFuzzing.testOneInput($0) },
    "router": HTTPTargets.routerAndStatic,
    "jwt": HTTPTargets.jwt,
    "ice": TransportTargets.ice,
    "dtls": TransportTargets.dtls,
    "recording": RecordingTarget.run,
    "offsets": OffsetsTarget.run,
    "temporal": TemporalTarget.run,
    "room": { input in
        if RoomReplay.shared == nil { RoomReplay.shared = RoomReplay() }
        RoomReplay.shared!.run(input)
    },
]

@main
struct FuzzMain {
    nonisolated(unsafe) static var run: (UnsafeRawBufferPointer) -> Void = { _ in }

    static func main() {
        let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
        if name == "seeds" {
            SeedWriter.writeAll(to: getenv("FUZZ_SEED_DIR").map { String(cString: $0) } ?? "seeds-out")
            exit(0)
        }
        if name == "list" {
            print(targets.keys.sorted().joined(separator: " "))
            exit(0)
        }
        guard let target = targets[name] else {
            let message = "FUZZ_TARGET must be one of: \(targets.keys.sorted().joined(separator: " "))\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
        run = target
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                FuzzMain.run(UnsafeRawBufferPointer(start: data, count: size))
                return 0
            })
    }
}
