import Glibc

/// Why an S3 operation failed, with what an operator needs in a log line or in
/// `/api/records`: the operation, S3's HTTP status and its error `<Code>`/`<Message>`, or
/// libcurl's own text for a transport failure.
public enum S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// S3 answered with an error: `status` (200 for an error inside a
    /// CompleteMultipartUpload answer), the `<Code>` and `<Message>` of its XML body (nil for
    /// a body-less answer such as HEAD's).
    case status(operation: String, status: Int, code: String?, message: String?)
    /// libcurl could not complete the exchange: `curlCode` is its CURLcode, `message` its
    /// error text; `retryable` for timeouts and connection failures.
    case transport(operation: String, curlCode: Int, retryable: Bool, message: String)
    /// The local file could not be opened or read.
    case file(path: String, errno: Int32)
    /// S3 answered 2xx without what the operation needs (an UploadId, an ETag).
    case malformedResponse(operation: String, detail: String)
    /// The object HeadObject found is not the one uploaded (size or ETag differ).
    case confirmation(detail: String)
    /// The request cannot be made (an empty or too long key, a bad endpoint).
    case invalidRequest(String)
    /// Stopped by `UploadControl` (shutdown) before the upload ended.
    case interrupted(operation: String)
    /// A system call failed (thread creation).
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .status(let operation, let status, let code, let message):
            var text = "\(operation): HTTP \(status)"
            if let code { text += " \(code)" }
            if let message { text += ": \(message)" }
            return text
        case .transport(let operation, let curlCode, _, let message):
            return "\(operation): \(message) (curl error \(curlCode))"
        case .file(let path, let errno):
            return "cannot read \(path): \(errnoText(errno))"
        case .malformedResponse(let operation, let detail):
            return "\(operation): unexpected answer: \(detail)"
        case .confirmation(let detail):
            return "HeadObject: \(detail)"
        case .invalidRequest(let detail):
            return detail
        case .interrupted(let operation):
            return "\(operation): interrupted by shutdown"
        case .system(let call, let errno):
            return "\(call) failed: \(errnoText(errno))"
        }
    }

    /// S3's error `<Code>`, when it sent one.
    public var code: String? {
        if case .status(_, _, let code, _) = self { return code }
        return nil
    }
}

private func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: text)) (errno \(code))"
}
