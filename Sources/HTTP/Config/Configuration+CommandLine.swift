import Glibc

extension Configuration {
    /// The process environment (without Foundation).
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// Maps command-line settings (`--http-addr :9000`, `--http-addr=:9000`, a bare
    /// `--record-enabled` for true) to environment names for `load(environment:flags:)`.
    /// Unknown flags and missing values are errors naming the flag.
    public static func parseFlags(_ arguments: [String]) throws(ConfigurationError) -> [String: String] {
        var flags: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else { throw .invalid(argument, "unexpected argument (settings are --name value)") }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = options.first(where: { $0.flag == name }) else {
                throw .invalid("--\(name)", "unknown option (see --help)")
            }
            if value == nil {
                if option.kind == .boolean, index >= arguments.count || arguments[index].hasPrefix("--") {
                    value = "true"
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    throw .invalid("--\(name)", "needs a value")
                }
            }
            flags[option.env] = value
        }
        return flags
    }

    /// `livesfu --help`: every option with its flag, help, default and variable.
    public static var helpText: String {
        var out = """
            livesfu: a WebRTC SFU for live streaming (WHIP publish, WHEP play), one pinned event loop per core.

            USAGE: livesfu [--flag value]...

            Every flag can also be set by its environment variable (flags win).

            OPTIONS:

            """
        for option in options {
            let flag = "--\(option.flag)" + (option.kind == .boolean ? " [true|false]" : " <value>")
            let fallback = option.defaultValue.map { " (default: \($0))" } ?? ""
            out += "  \(flag)\n      \(option.help)\(fallback) [env \(option.env)]\n"
        }
        out += "  --check-config [--quiet]\n      Validate the environment and flags, print the effective settings (secrets redacted) and exit: 0 valid, 2 invalid.\n"
        out += "  -h, --help\n      Show this help.\n"
        return out
    }
}
