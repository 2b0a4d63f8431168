import HTTP

/// Every configuration variable is also a flag: `HTTP_ADDR` ↔ `--http-addr VALUE` (or
/// `--http-addr=VALUE`; booleans may omit the value). Flags win over the environment.
enum CommandLineFlags {
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func flagName(_ env: String) -> String {
        "--" + env.lowercased().replacingUnderscores()
    }

    /// Parses `arguments` (without the program name) into values keyed by environment name.
    static func parse(_ arguments: [String], options: [ConfigurationOption]) throws(UsageError) -> [String: String] {
        var byFlag: [String: ConfigurationOption] = [:]
        for o in options { byFlag[flagName(o.env)] = o }
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            var name = arg
            var value: String?
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            }
            guard let option = byFlag[name] else {
                throw UsageError(description: "unknown option '\(name)' (see --help)")
            }
            if value == nil {
                if option.kind == .boolean, i >= arguments.count || arguments[i].hasPrefix("--") {
                    value = "true"
                } else {
                    guard i < arguments.count else { throw UsageError(description: "\(name) needs a value") }
                    value = arguments[i]
                    i += 1
                }
            }
            values[option.env] = value
        }
        return values
    }

    static func help(options: [ConfigurationOption]) -> String {
        var out = """
            livesfu: a WebRTC SFU for live streaming (WHIP publish, WHEP play), one pinned event loop per core.

            USAGE: livesfu [--flag value]...

            Every flag can also be set by its environment variable (flags win).

            OPTIONS:

            """
        for o in options {
            let flag = flagName(o.env) + (o.kind == .boolean ? " [true|false]" : " <value>")
            let def = o.defaultValue.map { " (default: \($0))" } ?? ""
            out += "  \(flag)\n      \(o.help)\(def) [env \(o.env)]\n"
        }
        out += "  -h, --help\n      Show this help.\n"
        return out
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
