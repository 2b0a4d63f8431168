import Testing

@testable import SFU

/// The layer request body (`LayerSelection`): a RID or `auto`, and/or a temporal cap.
@Suite("Layer request bodies")
struct LayerSelectionTests {
    @Test("a RID, auto, a temporal cap or both, in either order")
    func valid() {
        #expect(LayerSelection.parse("h") == .success(.init(spatial: .rid("h"))))
        #expect(LayerSelection.parse(" auto\n") == .success(.init(spatial: .automatic)))
        #expect(LayerSelection.parse("temporal=0") == .success(.init(temporal: .cap(0))))
        #expect(LayerSelection.parse("h temporal=3") == .success(.init(spatial: .rid("h"), temporal: .cap(3))))
        #expect(LayerSelection.parse("temporal=auto\tq") == .success(.init(spatial: .rid("q"), temporal: .automatic)))
    }

    @Test("a temporal cap out of 0-3 is refused as such; empty, repeated, unknown words or an over-long body as malformed")
    func invalid() {
        for body in ["temporal=4", "temporal=-1", "temporal=", "temporal=01", "temporal=x", "temporal=99999999999999999999"] {
            #expect(LayerSelection.parse(body) == .failure(.badTemporal), "\(body)")
        }
        for body in ["", "  \n", "h q", "temporal=0 temporal=1", "layer=1", String(repeating: "f", count: 65)] {
            #expect(LayerSelection.parse(body) == .failure(.malformed), "\(body)")
        }
    }
}
