import Glibc

/// Why a Reactor call failed, in words a log reader can act on.
public enum ReactorError: Error, CustomStringConvertible, Equatable {
    /// A system call failed with `errno`.
    case system(call: String, errno: Int32)
    /// The backend cannot be used on this machine (e.g. io_uring disabled by the kernel).
    case backendUnavailable(String)
    /// The caller passed something the Reactor cannot use.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .system(let call, let e): "\(call) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .backendUnavailable(let why): "event loop backend unavailable: \(why)"
        case .invalidArgument(let why): "invalid argument: \(why)"
        }
    }

    static func errno(_ call: String) -> ReactorError { .system(call: call, errno: Glibc.errno) }
}
