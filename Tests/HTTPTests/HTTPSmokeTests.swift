import Testing
@testable import HTTP

@Test("module loads")
func moduleLoads() { #expect(HTTPServerInfo.name == "HTTP") }
