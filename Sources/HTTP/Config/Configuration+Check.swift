extension Configuration {
    /// `livesfu --check-config`: every setting's effective value, where it came from (flag,
    /// environment, default) and, for secrets (`ConfigurationOption.Kind.secret`: tokens, JWT
    /// keys, passwords, S3 keys, OTLP headers), only whether it is set. Call after `load`
    /// succeeded with the same inputs (validation is `load`'s).
    public static func effectiveSettings(environment: [String: String], flags: [String: String]) -> String {
        var out = ""
        let width = options.map(\.env.count).max() ?? 0
        for option in options {
            let fromFlag = flags[option.env].map { $0.trimmingASCIIWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
            let fromEnvironment = environment[option.env].map { $0.trimmingASCIIWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
            let (value, source): (String?, String) =
                fromFlag.map { ($0, "flag") } ?? fromEnvironment.map { ($0, "env") } ?? (option.defaultValue, "default")
            let shown: String
            switch (value, option.kind) {
            case (nil, _): shown = "(unset)"
            case (.some, .secret): shown = "<redacted>"
            case (.some(let v), _): shown = v.isEmpty ? "\"\"" : v
            }
            let name = option.env + String(repeating: " ", count: width - option.env.count)
            out += "\(name)  \(shown)  [\(source)]\n"
        }
        return out
    }
}
