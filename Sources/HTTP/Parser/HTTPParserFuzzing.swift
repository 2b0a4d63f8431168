/// The body of the parser's libFuzzer target, so the target itself is three lines:
///
/// ```swift
/// import HTTP
/// @_cdecl("LLVMFuzzerTestOneInput")
/// public func fuzz(_ d: UnsafePointer<UInt8>, _ n: Int) -> CInt {
///     HTTPParserFuzzing.testOneInput(UnsafeRawBufferPointer(start: d, count: n)); return 0
/// }
/// ```
///
/// Besides "never crashes", it checks that parsing the input whole and split in two (at a
/// point the input chooses) gives the same requests and the same verdict: a parser whose
/// answer depends on how TCP segmented the bytes is a request-smuggling bug.
public enum HTTPParserFuzzing {
    /// Small limits so the fuzzer reaches every limit with short inputs.
    public static let limits = HTTPLimits(maxRequestLineBytes: 256, maxHeaderBytes: 1024, maxHeaderCount: 20, maxBodyBytes: 512)

    public static func testOneInput(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        let whole = run([bytes[...]])
        if bytes.count > 1 {
            let cut = Int(bytes[0]) % bytes.count
            let split = run([bytes[..<cut], bytes[cut...]])
            precondition(split == whole, "parse differs when the input is split at \(cut)")
        }
    }

    /// Requests (method, target, body size, keep-alive) and the final verdict.
    static func run(_ chunks: [ArraySlice<UInt8>]) -> [String] {
        var parser = HTTPRequestParser(limits: limits)
        var out: [String] = []
        for chunk in chunks {
            parser.append(contentsOf: chunk)
            loop: while true {
                switch parser.next() {
                case .request(let r): out.append("\(r.head.method.rawValue) \(r.head.path ?? "") \(r.body.count) \(r.keepAlive)")
                case .continueRequested: continue
                case .needMoreData: break loop
                case .failed(let error):
                    out.append("failed \(error.status.code)")
                    return out
                }
            }
        }
        return out
    }
}
