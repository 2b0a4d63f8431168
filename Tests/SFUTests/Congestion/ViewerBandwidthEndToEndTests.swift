import Reactor
import Testing

@testable import SFU

/// The bandwidth estimate through the real room on a loopback core: negotiation, numbered
/// copies, the viewer's transport-cc feedback (built by the project's own receiver half,
/// `TransportCCFeedback`), REMB, and the figures in the room listing.
@Suite("Viewer bandwidth estimate end to end", .serialized)
struct ViewerBandwidthEndToEndTests {
    /// The viewer's receiver half of transport-cc, fed from its received packets.
    final class FeedbackBox {
        var feedback = TransportCCFeedback(interval: .milliseconds(50))
        var numbered = 0
    }

    @Test("a viewer that offers transport-cc gets it; its numbered copies and its feedback give an estimate in the listing")
    func estimateFromFeedback() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "bw")
        let viewer = try server.viewer(room: "bw")
        try #require(server.connect(server.clients))
        let video = try #require(viewer.video)
        let id = try #require(video.extensions.transportWideCC, "the answer kept the extension")
        #expect(video.feedback.contains(.transportCC))
        let box = FeedbackBox()
        let recorder = viewer.recorder
        let loop = server.loop
        viewer.peer.onRTP = { packet in
            recorder.record(packet)
            if let n = packet.transportSequenceNumber(id: id) {
                box.numbered += 1
                box.feedback.record(sequenceNumber: n, arrival: loop.now)
            }
        }
        let ssrc = video.remoteSSRC ?? 0
        server.onDrive = { now in
            guard box.feedback.isDue(now: now) else { return }
            viewer.peer.sendRTCP { w in
                w.addReceiverReport(ssrc: 1, reports: [RTCPReportBlock]())
                box.feedback.build(into: &w, senderSSRC: 1, mediaSSRC: ssrc, now: now)
            }
        }
        for _ in 0..<12 {
            #expect(server.publish(10, from: publisher))
            server.settle(.milliseconds(60))
        }
        let session = try #require(server.session(of: viewer))
        #expect(
            server.loop.run(until: { session.bandwidthEstimate != nil }, timeout: .seconds(10)),
            "numbered \(box.numbered), feedbacks \(session.bandwidth?.estimator.feedbacks ?? 0)")
        #expect(box.numbered >= 100)
        #expect(session.bandwidthSignal == .transportCC)
        #expect(session.bandwidth?.estimator.ignoredFeedback == 0)
        let listed = try #require(server.manager.snapshot(now: server.loop.now).first?.viewerDetails.first)
        #expect(listed.bandwidthEstimate == session.bandwidthEstimate)
        #expect(listed.bandwidthSignal == "transport-cc")
    }

    @Test("a viewer that sends only REMB gets its REMB as the estimate; an implausible one is ignored and counted")
    func rembOnly() throws {
        var configuration = RoomManagerConfiguration()
        configuration.viewerTransportCC = false
        let server = try LoopbackRoomServer(configuration: configuration)
        defer { server.close() }
        _ = try server.publisher(room: "remb")
        let viewer = try server.viewer(room: "remb")
        try #require(server.connect(server.clients))
        #expect(viewer.video?.extensions.transportWideCC == nil, "VIEWER_TRANSPORT_CC off: not negotiated")
        #expect(viewer.video?.feedback.contains(.transportCC) == false)
        let session = try #require(server.session(of: viewer))
        #expect(session.bandwidth?.log == nil)
        viewer.peer.sendRTCP { w in
            w.addReceiverReport(ssrc: 1, reports: [RTCPReportBlock]())
            w.addRemb(senderSSRC: 1, bitrate: 20_000_000_000_000, ssrcs: [1])
        }
        viewer.peer.sendRTCP { w in
            w.addReceiverReport(ssrc: 1, reports: [RTCPReportBlock]())
            w.addRemb(senderSSRC: 1, bitrate: 800_000, ssrcs: [1])
        }
        #expect(server.loop.run(until: { session.bandwidthEstimate != nil }, timeout: .seconds(10)))
        #expect(session.bandwidthSignal == .remb)
        let estimate = session.bandwidthEstimate ?? 0
        #expect(estimate >= 790_000 && estimate <= 810_000, "REMB mantissa rounding only: \(estimate)")
        #expect(session.bandwidth?.estimator.implausibleREMB == 1)
    }
}
