import Testing

@testable import SFU

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test("nested objects and arrays get commas only between their members")
    func nesting() {
        var o = JSONWriter()
        o.beginObject()
        o.field("a", 1)
        o.key("inner")
        o.beginObject()
        o.field("b", true)
        o.endObject()
        o.field("list", ["x", "y\"z"])
        o.field("empty", [String]())
        o.key("n")
        o.null()
        o.endObject()
        #expect(o.text == #"{"a":1,"inner":{"b":true},"list":["x","y\"z"],"empty":[],"n":null}"#)
    }

    @Test("a double is written with exactly the decimals asked for, rounded half away from zero")
    func fixedDecimals() {
        #expect(JSONWriter.fixed(5, decimals: 6) == "5.000000")
        #expect(JSONWriter.fixed(0.1234565, decimals: 3) == "0.123")
        #expect(JSONWriter.fixed(2.5, decimals: 0) == "3")
        #expect(JSONWriter.fixed(-2.5, decimals: 0) == "-3")
        #expect(JSONWriter.fixed(-1.25, decimals: 1) == "-1.3")
        #expect(JSONWriter.fixed(0.05, decimals: 3) == "0.050")
        #expect(JSONWriter.fixed(-0.0000004, decimals: 6) == "0.000000")
        #expect(JSONWriter.fixed(12_345.678, decimals: 1) == "12345.7")
    }

    @Test("NaN and infinities are written as null, which JSON can carry")
    func nonFinite() {
        #expect(JSONWriter.fixed(.nan, decimals: 2) == nil)
        #expect(JSONWriter.fixed(-.infinity, decimals: 2) == nil)
        var o = JSONWriter()
        o.beginObject()
        o.field("x", Double.infinity, decimals: 3)
        o.field("y", 1.5, decimals: 3)
        o.endObject()
        #expect(o.text == #"{"x":null,"y":1.500}"#)
    }

    @Test("a double beyond 64-bit integers still gets written, not trapped on")
    func huge() {
        #expect(JSONWriter.fixed(1e300, decimals: 6) == "1e+300")
        #expect(JSONWriter.fixed(-1e19, decimals: 0) == "-1e+19")
    }

    @Test("fixed text reads back within half a unit of its last digit, for random doubles")
    func roundTrip() {
        var rng = SplitMixRandom(seed: 0x150)
        for _ in 0..<2000 {
            let decimals = Int(rng.next() % 7)
            let v = Double(Int64(bitPattern: rng.next()) % 1_000_000_000_000) / 1000
            guard let text = JSONWriter.fixed(v, decimals: decimals), let back = Double(text) else {
                Issue.record("no number for \(v)")
                continue
            }
            var unit = 1.0
            for _ in 0..<decimals { unit /= 10 }
            #expect(abs(back - v) <= unit / 2 * 1.000001 + abs(v) * 1e-15, "\(v) → \(text)")
            let dot = text.firstIndex(of: ".")
            #expect((dot.map { text.distance(from: $0, to: text.endIndex) - 1 } ?? 0) == decimals, "\(text)")
        }
    }
}
