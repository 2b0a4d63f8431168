import Reactor
import Testing

@testable import SFU

@Suite("STUN messages")
struct StunMessageTests {
    let key = Array(StunVectors.password.utf8)
    let vectorID = StunTransactionID(hi: 0xb7e7_a701, lo: 0xbc34_d686_fa87_dfae)

    @Test("RFC 5769 sample request parses, with valid integrity and fingerprint")
    func sampleRequest() throws {
        try withStun(StunVectors.sampleRequest) { m in
            #expect(m.type == .bindingRequest)
            #expect(m.transactionID == vectorID)
            #expect(m.username == "evtj:h6vY")
            #expect(m.priority == 0x6e00_01ff)
            #expect(m.iceControlled == 0x932f_f9b1_5126_3b36)
            #expect(m.iceControlling == nil)
            #expect(!m.useCandidate)
            #expect(m.unknownComprehensionRequiredCount == 0)
            try m.validateMessageIntegrity(key: key)
            try m.validateFingerprint()
            #expect(IceLiteAgent.localUfrag(in: m) == "evtj")
        }
    }

    @Test("RFC 5769 IPv4 response decodes 192.0.2.1:32853 with valid integrity and fingerprint")
    func ipv4Response() throws {
        try withStun(StunVectors.ipv4Response) { m in
            #expect(m.type == .bindingSuccess)
            #expect(m.xorMappedAddress == SocketAddress(ip: "192.0.2.1", port: 32853))
            try m.validateMessageIntegrity(key: key)
            try m.validateFingerprint()
        }
    }

    @Test("RFC 5769 IPv6 response decodes its address with valid integrity and fingerprint")
    func ipv6Response() throws {
        try withStun(StunVectors.ipv6Response) { m in
            #expect(m.xorMappedAddress == SocketAddress(ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853))
            try m.validateMessageIntegrity(key: key)
            try m.validateFingerprint()
        }
    }

    @Test("builder reproduces the RFC 5769 IPv4 and IPv6 responses byte for byte")
    func builderMatchesVectors() throws {
        for (vector, ip) in [
            (StunVectors.ipv4Response, "192.0.2.1"), (StunVectors.ipv6Response, "2001:db8:1234:5678:11:2233:4455:6677"),
        ] {
            var out = [UInt8](repeating: 0, count: 200)
            let n = try out.withUnsafeMutableBytes { raw in
                var b = StunMessageBuilder(into: raw, type: .bindingSuccess, transactionID: vectorID)
                b.addSoftware("test vector")
                raw[35] = 0x20  // the RFC pads SOFTWARE with a space, the builder with zero
                b.addXorMappedAddress(SocketAddress(ip: ip, port: 32853)!)
                b.addMessageIntegrity(key: key)
                b.addFingerprint()
                return try b.finish()
            }
            #expect(Array(out[0..<n]) == vector)
        }
    }

    @Test("builder reproduces the RFC 5769 sample request's integrity and fingerprint")
    func builderSampleRequest() throws {
        // Build with the same attributes; USERNAME padding in the RFC is spaces, so patch
        // the pads the same way before signing by building the body by hand.
        var out = [UInt8](repeating: 0, count: 200)
        let n = try out.withUnsafeMutableBytes { raw in
            var b = StunMessageBuilder(into: raw, type: .bindingRequest, transactionID: vectorID)
            b.addSoftware("STUN test client")
            b.addPriority(0x6e00_01ff)
            b.addIceControlled(0x932f_f9b1_5126_3b36)
            b.addUsername("evtj:h6vY")
            // The RFC's USERNAME padding is three spaces.
            raw[73] = 0x20
            raw[74] = 0x20
            raw[75] = 0x20
            b.addMessageIntegrity(key: key)
            b.addFingerprint()
            return try b.finish()
        }
        #expect(Array(out[0..<n]) == StunVectors.sampleRequest)
    }

    @Test("a flipped bit breaks MESSAGE-INTEGRITY, a wrong key too")
    func integrityFailures() throws {
        var bad = StunVectors.sampleRequest
        bad[53] ^= 0x01  // inside the ICE-CONTROLLED value
        try withStun(bad) { m in
            #expect(throws: StunError.integrityMismatch) { try m.validateMessageIntegrity(key: key) }
            #expect(throws: StunError.fingerprintMismatch) { try m.validateFingerprint() }
        }
        try withStun(StunVectors.sampleRequest) { m in
            #expect(throws: StunError.integrityMismatch) { try m.validateMessageIntegrity(key: Array("wrong".utf8)) }
        }
    }

    @Test("a corrupted FINGERPRINT is detected while integrity still holds")
    func fingerprintFailure() throws {
        var bad = StunVectors.sampleRequest
        bad[bad.count - 1] ^= 0xFF
        try withStun(bad) { m in
            try m.validateMessageIntegrity(key: key)
            #expect(throws: StunError.fingerprintMismatch) { try m.validateFingerprint() }
        }
    }

    @Test("missing integrity and fingerprint are reported as missing")
    func missing() throws {
        let plain = try buildStun(.bindingRequest, vectorID) { $0.addPriority(1) }
        try withStun(plain) { m in
            #expect(throws: StunError.missingAttribute(type: StunAttribute.messageIntegrity)) {
                try m.validateMessageIntegrity(key: key)
            }
            #expect(throws: StunError.missingAttribute(type: StunAttribute.fingerprint)) {
                try m.validateFingerprint()
            }
        }
    }

    @Test("message type encodes method and class in the interleaved bits")
    func messageType() {
        #expect(StunMessageType.bindingRequest.wire == 0x0001)
        #expect(StunMessageType.bindingSuccess.wire == 0x0101)
        #expect(StunMessageType.bindingError.wire == 0x0111)
        #expect(StunMessageType.bindingIndication.wire == 0x0011)
        for m: UInt16 in [0x001, 0x003, 0x0FF, 0xABC] {
            for c in [StunClass.request, .indication, .successResponse, .errorResponse] {
                let t = StunMessageType(method: m, messageClass: c)
                #expect(StunMessageType(wire: t.wire) == t)
            }
        }
    }

    @Test("truncated header, bad cookie, lying lengths and overrunning attributes are rejected")
    func badInput() {
        let v = StunVectors.sampleRequest
        func parse(_ b: [UInt8]) throws(StunError) {
            let r: StunError? = b.withUnsafeBytes { raw in
                do throws(StunError) {
                    _ = try StunMessage(parsing: raw)
                    return nil
                } catch { return error }
            }
            if let r { throw r }
        }
        #expect(throws: StunError.truncatedHeader(count: 19)) { try parse(Array(v[0..<19])) }
        var cookie = v
        cookie[4] = 0
        #expect(throws: StunError.badMagicCookie(0x0012_a442)) { try parse(cookie) }
        var top = v
        top[0] = 0x40
        #expect(throws: StunError.notStun) { try parse(top) }
        #expect(throws: StunError.badLength(declared: 0x58, available: 0x54)) { try parse(Array(v[0..<104])) }
        var long = v
        long[3] = 0x5C
        #expect(throws: StunError.badLength(declared: 0x5C, available: 0x58)) { try parse(long) }
        var attr = v
        attr[22] = 0x01  // SOFTWARE length 0x0110 runs past the end
        #expect(throws: StunError.truncatedAttribute(type: 0x8022, offset: 20)) { try parse(attr) }
        var prio = v
        prio[43] = 0x05  // PRIORITY of 5 bytes
        #expect(throws: StunError.self) { try parse(prio) }
    }

    @Test("attributes after FINGERPRINT make the message invalid")
    func afterFingerprint() throws {
        var m = StunVectors.sampleRequest
        m += [0x80, 0x22, 0x00, 0x00]
        m[3] = 0x5C
        #expect(throws: StunError.attributeAfterFingerprint(type: 0x8022)) {
            try withStun(m) { _ in }
        }
    }

    @Test("unknown comprehension-required attributes are counted and listed, optional ones ignored")
    func unknownAttributes() throws {
        let built = try buildStun(.bindingRequest, vectorID) { b in
            [UInt8](repeating: 1, count: 3).withUnsafeBytes { v in
                b.addAttribute(type: 0x7777, value: v)
                b.addAttribute(type: 0xC001, value: v)
                b.addAttribute(type: 0x0042, value: v)
            }
            b.addMessageIntegrity(key: key)
            b.addFingerprint()
        }
        try withStun(built) { m in
            #expect(m.unknownComprehensionRequiredCount == 2)
            var seen: [UInt16] = []
            m.forEachUnknownComprehensionRequired { seen.append($0) }
            #expect(seen == [0x7777, 0x0042])
            var all: [UInt16] = []
            m.forEachAttribute { t, _ in all.append(t) }
            #expect(all == [0x7777, 0xC001, 0x0042, 0x0008, 0x8028])
        }
    }

    @Test("the builder reports a buffer that is too small instead of writing past it")
    func tooSmall() {
        var out = [UInt8](repeating: 0, count: 40)
        out.withUnsafeMutableBytes { raw in
            var b = StunMessageBuilder(into: raw, type: .bindingSuccess, transactionID: vectorID)
            b.addXorMappedAddress(SocketAddress(ip: "::1", port: 9)!)
            b.addFingerprint()
            #expect(throws: StunError.self) { _ = try b.finish() }
        }
    }

    @Test("built messages parse back to the same fields (seeded random)")
    func roundTrip() throws {
        var rng = SplitMixRandom(seed: 42)
        for _ in 0..<300 {
            let id = StunTransactionID(using: &rng)
            let prio = UInt32(truncatingIfNeeded: rng.next())
            let tb = rng.next()
            let use = rng.next() & 1 == 0
            let userLen = Int(rng.next() % 40) + 1
            let user = String((0..<userLen).map { _ in Character(Unicode.Scalar(UInt8(97 + rng.next() % 26))) })
            let addr = rng.next() & 1 == 0
                ? SocketAddress(ipv4: (10, UInt8(rng.next() % 256), 3, 4), port: UInt16(truncatingIfNeeded: rng.next()))
                : SocketAddress(ip: "fe80::\(String(rng.next() % 65535 + 1, radix: 16)):1", port: UInt16(truncatingIfNeeded: rng.next()))!
            let bytes = try buildStun(.bindingRequest, id) { b in
                b.addUsername(user)
                b.addPriority(prio)
                b.addIceControlling(tb)
                if use { b.addUseCandidate() }
                b.addXorMappedAddress(addr)
                b.addMessageIntegrity(key: key)
                b.addFingerprint()
            }
            try withStun(bytes) { m in
                #expect(m.transactionID == id)
                #expect(m.username == user)
                #expect(m.priority == prio)
                #expect(m.iceControlling == tb)
                #expect(m.useCandidate == use)
                #expect(m.xorMappedAddress == addr)
                try m.validateMessageIntegrity(key: key)
                try m.validateFingerprint()
            }
        }
    }

    @Test("random bytes and mutated vectors never crash the parser")
    func garbage() {
        var rng = SplitMixRandom(seed: 7)
        for i in 0..<20_000 {
            var b: [UInt8]
            if i % 2 == 0 {
                b = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if b.count >= 8 {
                    b[0] &= 0x3F
                    b[4] = 0x21; b[5] = 0x12; b[6] = 0xa4; b[7] = 0x42
                    b[2] = 0; b[3] = UInt8(truncatingIfNeeded: max(0, b.count - 20))
                }
            } else {
                b = StunVectors.sampleRequest
                for _ in 0..<Int(rng.next() % 4 + 1) {
                    b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { b = Array(b[0..<Int(rng.next() % UInt64(b.count))]) }
            }
            b.withUnsafeBytes { raw in
                if let m = try? StunMessage(parsing: raw) {
                    _ = try? m.validateFingerprint()
                    _ = try? m.validateMessageIntegrity(key: key)
                    _ = m.username
                    _ = m.errorReason
                    m.forEachAttribute { _, _ in }
                    m.forEachUnknownComprehensionRequired { _ in }
                }
            }
        }
    }
}

