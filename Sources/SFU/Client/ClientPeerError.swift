/// Why a `ClientPeer` could not be made from an answer.
public enum ClientPeerError: Error, CustomStringConvertible {
    case answerHasNoFingerprint
    case dtls(DTLSError)

    public var description: String {
        switch self {
        case .answerHasNoFingerprint: "the answer has no DTLS fingerprint"
        case .dtls(let e): "DTLS set-up: \(e)"
        }
    }
}
