import PropertyBased
import Testing

@testable import SFU

@Suite("SDP properties")
struct SDPPropertyTests {
    @Test("write then parse gives back the same model")
    func roundTrip() async {
        await propertyCheck(count: 200, input: SDPModelGenerator.session) { d in
            let text = SDPWriter.write(d)
            let parsed = try SDPParser.parse(text)
            #expect(parsed == d, "\(text)")
        }
    }

    @Test("answers to arbitrary offers either throw SDPError or re-parse with the answerer's invariants")
    func answerInvariants() async {
        await propertyCheck(count: 200, input: SDPModelGenerator.offerLike) { offer in
            let text = SDPWriter.write(offer)
            let parsed: SessionDescription
            do { parsed = try SDPParser.parse(text) } catch {
                Issue.record("generator produced unparsable SDP: \(error)\n\(text)")
                return
            }
            for role in [AnswerRole.publisher, .viewer(tracks: ViewerAnswerTests.tracks(audio: nil, video: nil))] {
                let answer: SDPAnswer
                do {
                    answer = try AnswerBuilder.buildAnswer(
                        offer: parsed, parameters: SDPFixtures.parameters(), role: role)
                } catch let error as SDPError {
                    #expect(!error.description.isEmpty)
                    continue
                }
                let a = try SDPParser.parse(answer.sdp)
                #expect(a == answer.session)
                #expect(a.iceLite)
                #expect(a.media.count == parsed.media.count)
                #expect(a.media.map(\.mid) == parsed.media.map(\.mid))
                let accepted = a.media.filter { $0.port != 0 }
                #expect(Set(a.bundleMids) == Set(accepted.compactMap(\.mid)))
                #expect(accepted.count == answer.media.count)
                for m in accepted {
                    #expect(m.setup == .passive && m.rtcpMux && m.iceUfrag == "srvU")
                    #expect(m.codecs.filter { !$0.isRTX }.count == 1)
                    #expect(m.codecs.first?.name != nil)
                    #expect(m.direction != .sendrecv)
                }
                for r in answer.rejected { #expect(a.media[r.index].port == 0) }
            }
        }
    }

    @Test("random bytes never crash the parsers", arguments: 0..<4)
    func randomBytes(seed: UInt64) {
        var rng = SplitMixRandom(seed: seed)
        for _ in 0..<300 {
            let n = Int.random(in: 0...600, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? SDPParser.parse(text)
            _ = try? SDPParser.parse("v=0\r\n" + text)
            _ = try? TrickleFragment.parse(text)
        }
    }

    @Test("mutated real offers never crash the parser or the answerer", arguments: SDPFixtures.all)
    func mutatedFixtures(name: String) {
        var rng = SplitMixRandom(seed: UInt64(name.utf8.count))
        let lines = SDPFixtures.text(name).split(separator: "\r\n").map(String.init)
        let pieces = [
            "0", "-1", "99999", "4294967296", "300", " ", ":", "/", "=", "", "a=", "m=video", "\u{0}", "é", "*",
        ]
        for _ in 0..<200 {
            var mutated = lines
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<mutated.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: mutated.remove(at: i)
                case 1: mutated.insert(mutated[Int.random(in: 0..<mutated.count, using: &rng)], at: i)
                case 2:
                    var chars = Array(mutated[i])
                    if !chars.isEmpty {
                        chars[Int.random(in: 0..<chars.count, using: &rng)] =
                            pieces.randomElement(using: &rng)!.first ?? " "
                    }
                    mutated[i] = String(chars)
                case 3:
                    let f = mutated[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    var g = f
                    g[Int.random(in: 0..<g.count, using: &rng)] = pieces.randomElement(using: &rng)!
                    mutated[i] = g.joined(separator: " ")
                default: mutated[i] = String(mutated[i].prefix(Int.random(in: 0...mutated[i].count, using: &rng)))
                }
                if mutated.isEmpty { break }
            }
            let text = mutated.joined(separator: "\r\n")
            guard let offer = try? SDPParser.parse(text) else { continue }
            _ = try? AnswerBuilder.buildAnswer(offer: offer, parameters: SDPFixtures.parameters(), role: .publisher)
            _ = try? AnswerBuilder.buildAnswer(
                offer: offer, parameters: SDPFixtures.parameters(), role: .viewer(tracks: ViewerAnswerTests.tracks()))
        }
    }
}

