/// One setting as both an environment variable and a command-line flag. Main reads the
/// command line with `Configuration.parseFlags` and passes the values to
/// `Configuration.load(environment:flags:)` keyed by `env`; a flag beats the variable.
public struct ConfigurationOption: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string
        /// Shown as `<value>`, never printed back (tokens, passwords, keys).
        case secret
        case integer
        case number
        /// `true/false/1/0/yes/no/on/off`.
        case boolean
    }

    /// Environment variable name (`HTTP_ADDR`).
    public let env: String
    /// Long flag name without dashes (`http-addr`).
    public var flag: String { env.lowercased().replacingUnderscores() }
    public let kind: Kind
    /// The default, as the user would write it; nil when unset means "off"/"none".
    public let defaultValue: String?
    public let help: String

    public init(_ env: String, _ kind: Kind, default defaultValue: String?, _ help: String) {
        self.env = env
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(self.map { $0 == "_" ? "-" : $0 })
    }
}
