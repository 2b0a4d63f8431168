import Testing
@testable import SFU

@Test("links the project's OpenSSL-backed libsrtp")
func srtpBackend() {
    #expect(SRTPBackend.description.contains("2.5"))
}
