import Testing

@testable import SFU

@Suite("Random tokens")
struct RandomTokenTests {
    @Test("tokens are unguessable hex and ICE strings use ice-chars")
    func tokens() {
        let a = RandomToken.hex(bytes: 16)
        #expect(a.count == 32 && a != RandomToken.hex(bytes: 16))
        let ice = RandomToken.iceString(length: 24)
        #expect(ice.count == 24)
        let iceChars = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        #expect(ice.allSatisfy { iceChars.contains($0) })
        #expect(RandomToken.ssrc() != 0)
    }
}
