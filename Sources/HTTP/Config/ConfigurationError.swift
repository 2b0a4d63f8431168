/// A configuration value that cannot be used, with the variable's name and why. Main prints
/// `description` and exits with status 2.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let name, let why): return "\(name): \(why)"
        }
    }
}
