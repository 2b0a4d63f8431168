import Reactor
import Testing

@testable import SFU

/// The aiortc viewer's stall, reproduced sans-IO: aiortc NACKs only when a packet reveals a
/// *new* gap (then it lists every packet still missing), forgets missing packets 128 behind
/// the newest, and its jitter buffer holds every later frame until the missing packet comes.
/// So a lost repair leaves it waiting until its next loss, or for good. The server side here
/// is the real `NackResponder`, ticked every 20 ms as the core ticks it.
@Suite("Repairs to a viewer that NACKs only on new gaps (aiortc), simulated")
struct GapTriggeredNackSimulationTests {
    struct Outcome {
        /// Longest time a lost packet was waited for (ms), and packets never repaired.
        var longestWaitMs: UInt64 = 0
        var forgotten = 0
        var losses = 0
        var waitsOverOneSecond = 0
    }

    /// `seconds` of a 115 packets/s stream, `lossPercent` loss on everything towards the
    /// viewer (media and repairs alike), 1 ms each way, NACKs never lost.
    func simulate(followUps: Bool, seconds: UInt64, lossPercent: UInt64 = 3, seed: UInt64) -> Outcome {
        var rng = SplitMixRandom(seed: seed)
        var responder = NackResponder(minimumRate: 2_000_000, sendsFollowUps: followUps)
        responder.roundTripTime = .milliseconds(2)
        var toViewer: [(at: UInt64, seq: UInt16)] = []
        var toServer: [(at: UInt64, lost: [UInt16])] = []
        // The viewer, as aiortc's NackGenerator and jitter buffer behave.
        var maxSeq: UInt16?
        var missingSince: [UInt16: UInt64] = [:]
        var out = Outcome()

        func deliver(_ seq: UInt16, now: UInt64, into toServer: inout [(at: UInt64, lost: [UInt16])]) {
            guard let top = maxSeq else {
                maxSeq = seq
                return
            }
            if SequenceNumber(seq).isNewer(than: SequenceNumber(top)) {
                var s = top &+ 1
                var newGap = false
                while s != seq {
                    missingSince[s] = now
                    out.losses += 1
                    newGap = true
                    s &+= 1
                }
                maxSeq = seq
                // aiortc's truncate(): older than 128 behind the newest is forgotten.
                for (m, _) in missingSince where Int(seq &- m) > 128 {
                    missingSince[m] = nil
                    out.forgotten += 1
                }
                if newGap { toServer.append((now + 1, missingSince.keys.sorted())) }
            } else if let since = missingSince.removeValue(forKey: seq) {
                let wait = (now - since) / 1_000_000
                out.longestWaitMs = max(out.longestWaitMs, wait)
                if wait > 1000 { out.waitsOverOneSecond += 1 }
            }
        }

        let step: UInt64 = 1_000_000
        let start: UInt64 = 10_000_000_000
        let end = start + seconds * 1_000_000_000
        var nextPacket = start
        var nextTick = start
        var seq: UInt16 = 60_000  // crosses the wrap
        var now = start
        while now < end {
            let t = Instant(nanoseconds: now)
            if now >= nextPacket {
                if rng.next() % 100 >= lossPercent { toViewer.append((now + step, seq)) }
                seq &+= 1
                nextPacket += 8_700_000
            }
            for d in toViewer where d.at <= now { deliver(d.seq, now: now, into: &toServer) }
            toViewer.removeAll { $0.at <= now }
            for n in toServer where n.at <= now {
                for s in n.lost where responder.decide(sequenceNumber: s, bytes: 1200, now: t) == .resend {
                    if rng.next() % 100 >= lossPercent { toViewer.append((now + step, s)) }
                    responder.scheduleFollowUp(sequenceNumber: s, now: t)
                }
            }
            toServer.removeAll { $0.at <= now }
            if now >= nextTick {
                while let s = responder.takeDueFollowUp(now: t) {
                    guard responder.decideFollowUp(sequenceNumber: s, bytes: 1200, now: t) == .resend else { continue }
                    if rng.next() % 100 >= lossPercent { toViewer.append((now + step, s)) }
                }
                nextTick += 20_000_000
            }
            now += step
        }
        return out
    }

    @Test("with a follow-up copy of each repair, 3 % loss never leaves it waiting a second")
    func followUpsPreventStalls() {
        let with = simulate(followUps: true, seconds: 900, seed: 6)
        let without = simulate(followUps: false, seconds: 900, seed: 6)
        // Without: lost repairs wait for the next loss — sometimes over a second — or are
        // forgotten (aiortc's jitter buffer then waits 512 packets, ≈4.5 s, and sends a PLI).
        #expect(without.waitsOverOneSecond + without.forgotten > 0, "\(without)")
        #expect(with.losses > 3000)
        #expect(with.forgotten == 0 && with.waitsOverOneSecond == 0, "\(with) vs \(without) without follow-ups")
        #expect(with.longestWaitMs < 1000, "\(with)")
    }
}
