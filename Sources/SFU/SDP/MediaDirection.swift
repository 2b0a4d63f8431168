/// The direction attribute of an m-section (RFC 8866 §6.7), from the writer's point of view.
public enum MediaDirection: String, Hashable, Sendable, CaseIterable {
    case sendrecv
    case sendonly
    case recvonly
    case inactive

    /// Whether the side that wrote this direction sends media.
    public var sends: Bool { self == .sendrecv || self == .sendonly }
    /// Whether the side that wrote this direction receives media.
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    /// The direction seen from the other side (`sendonly` ↔ `recvonly`).
    public var reversed: MediaDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        case .sendrecv, .inactive: self
        }
    }
}
