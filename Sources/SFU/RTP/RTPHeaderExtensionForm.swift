/// The two header-extension layouts of RFC 8285.
public enum RTPHeaderExtensionForm: Sendable, Equatable {
    /// Profile 0xBEDE: ids 1-14, 1-16 data bytes per element.
    case oneByte
    /// Profile 0x100X: ids 1-255, 0-255 data bytes per element.
    case twoByte

    /// The profile value written in the extension header.
    public var profile: UInt16 { self == .oneByte ? 0xBEDE : 0x1000 }

    /// The form a profile value announces, nil for other (non-RFC 8285) profiles.
    public init?(profile: UInt16) {
        if profile == 0xBEDE {
            self = .oneByte
        } else if profile & 0xFFF0 == 0x1000 {
            self = .twoByte
        } else {
            return nil
        }
    }
}
