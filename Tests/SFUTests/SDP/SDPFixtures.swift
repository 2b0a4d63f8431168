import Foundation
import Reactor

@testable import SFU

/// The real client offers captured in `Fixtures/` (copied from shared/fixtures/sdp) and the
/// server parameters the answer tests use.
enum SDPFixtures {
    static let chromium = "chromium-offer"
    static let chromiumBalanced = "chromium-offer-balanced"
    static let chromiumWHEP = "chromium-whep-offer"
    static let aiortc = "aiortc-offer"
    static let aiortcWHEP = "aiortc-whep-offer"
    /// Chromium 3-layer simulcast (sendEncodings f, h, q), captured from the publish page.
    static let chromiumSimulcast = "chromium-simulcast-offer"
    static let publisherOffers = [chromium, chromiumBalanced, aiortc, chromiumSimulcast]
    static let viewerOffers = [chromiumWHEP, aiortcWHEP]
    static let all = publisherOffers + viewerOffers

    static func text(_ name: String, filePath: String = #filePath) -> String {
        let dir = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        let path = dir + "/Fixtures/\(name).sdp"
        guard let data = FileManager.default.contents(atPath: path) else {
            fatalError("fixture missing: \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func offer(_ name: String) throws -> SessionDescription {
        try SDPParser.parse(text(name))
    }

    static let serverFingerprint =
        "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
    static let serverAddress = SocketAddress(ip: "127.0.0.1", port: 40000)!

    static func parameters(sendTransportCC: Bool = false) -> AnswerParameters {
        AnswerParameters(
            iceUfrag: "srvU", icePassword: "serverpassword0123456789", fingerprint: serverFingerprint,
            candidates: [serverAddress], sendTransportCC: sendTransportCC, sessionID: 12345,
            sessionVersion: 2)
    }
}
