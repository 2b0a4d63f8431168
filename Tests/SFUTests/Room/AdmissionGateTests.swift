import Reactor
import Testing

@testable import SFU

@Suite("Admission gate: recent admissions count before the load estimate shows them")
struct AdmissionGateTests {
    let t0 = Instant(nanoseconds: 1_000_000_000_000)

    @Test("with no recent admissions the projected load is the load")
    func idle() {
        var gate = AdmissionGate()
        #expect(gate.projectedLoad(load: 0.5, sessions: 100, now: t0) == 0.5)
        #expect(gate.projectedLoad(load: 0.5, sessions: 0, now: t0) == 0.5)
    }

    @Test("with few sessions each counts as at most 1 % of the load: the rest is the core's own work")
    func fewSessions() {
        var gate = AdmissionGate()
        #expect(gate.admit(load: 0.5, sessions: 1, limit: 0.9, now: t0) == nil)
        #expect(gate.admit(load: 0.5, sessions: 2, limit: 0.9, now: t0) == nil)
        #expect(abs(gate.projectedLoad(load: 0.5, sessions: 3, now: t0) - (0.5 + 2 * 0.005)) < 1e-9)
    }

    @Test("a burst of admissions is cut off where the sessions it adds would take the core past the limit")
    func burstIsBounded() {
        var gate = AdmissionGate()
        // 1000 sessions at 0.80: 0.0008 a session, so ≈ 0.15 / 0.0008 ≈ 187 more fit under 0.95.
        var admitted = 0
        for _ in 0..<1000 where gate.admit(load: 0.80, sessions: 1000 + admitted, limit: 0.95, now: t0) == nil {
            admitted += 1
        }
        #expect(admitted > 150 && admitted < 260, "\(admitted)")
        // Refused meanwhile, with the projected load as the reason.
        let refused = gate.admit(load: 0.80, sessions: 1000 + admitted, limit: 0.95, now: t0)
        #expect(refused.map { $0 > 0.95 } == true)
    }

    @Test("the memory of admissions fades over the time constant, so a steady load admits again")
    func fades() {
        var gate = AdmissionGate(timeConstant: .seconds(1))
        for _ in 0..<100 { _ = gate.admit(load: 0.5, sessions: 100, limit: 0.95, now: t0) }
        #expect(gate.admit(load: 0.9, sessions: 100, limit: 0.95, now: t0) != nil)
        // One time constant later a third is left (0.9 + 100 × e⁻¹ × 0.009 ≈ 1.23: still refused);
        // five later, under 1 % (≈ 0.906: admitted).
        #expect(gate.admit(load: 0.9, sessions: 100, limit: 0.95, now: t0 + .seconds(1)) != nil)
        #expect(gate.admit(load: 0.9, sessions: 100, limit: 0.95, now: t0 + .seconds(5)) == nil)
        #expect(gate.recentAdmissions < 2)
    }

    @Test("a load over the limit is refused whatever was admitted")
    func overLimit() {
        var gate = AdmissionGate()
        #expect(gate.admit(load: 0.97, sessions: 10, limit: 0.95, now: t0) == 0.97)
        #expect(gate.recentAdmissions == 0)
    }
}
