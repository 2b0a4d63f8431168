import PropertyBased
import Reactor
import Testing

@testable import SFU

@Suite("STUN properties (PropertyBased)")
struct StunPropertyTests {
    @Test("any ICE check survives build then parse, signed and fingerprinted")
    func check() async {
        await propertyCheck(
            count: 300, input: Gen.letterOrNumber.string(of: 1...64), Gen.uint32(), Gen.uint64(), Gen.uint16(),
            Gen.uint8().array(of: 0...32)
        ) { user, prio, tie, port, password in
            let id = StunTransactionID(hi: prio, lo: tie)
            let addr = SocketAddress(ipv4: (192, 0, 2, UInt8(truncatingIfNeeded: port)), port: port)
            let bytes = try buildStun(.bindingRequest, id) { b in
                b.addUsername(user)
                b.addPriority(prio)
                b.addIceControlling(tie)
                b.addUseCandidate()
                b.addXorMappedAddress(addr)
                b.addMessageIntegrity(key: password)
                b.addFingerprint()
            }
            try withStun(bytes) { m in
                #expect(m.transactionID == id && m.username == user && m.priority == prio)
                #expect(m.iceControlling == tie && m.useCandidate && m.xorMappedAddress == addr)
                try m.validateMessageIntegrity(key: password)
                try m.validateFingerprint()
            }
        }
    }
}
