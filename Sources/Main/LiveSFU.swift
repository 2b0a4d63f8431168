import ArgumentParser
import Logging
import Reactor
import SFU

@main
struct LiveSFU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livesfu",
        abstract: "A WebRTC SFU for live streaming: WHIP in, WHEP out, thread-per-core.")

    @Option(name: .customLong("http-addr"), help: "HTTP listen address (env HTTP_ADDR).")
    var httpAddr: String = "0.0.0.0:8080"

    mutating func run() throws {
        let log = Logger(label: "livesfu")
        log.info("livesfu starting", metadata: ["srtp": "\(SRTPBackend.description)"])
    }
}
