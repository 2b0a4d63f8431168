import Glibc
import HTTP
import Logging
import Reactor
import SFU

/// The `livesfu` executable: reads the configuration (environment and flags), starts one
/// pinned event loop per core, each with its rooms, its UDP media socket and an HTTP
/// listener on the shared port, and stops them all on SIGINT/SIGTERM.
@main
enum LiveSFU {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Configuration.helpText, terminator: "")
            return
        }
        // --check-config: validate the environment and flags, print the effective settings
        // (secrets redacted; --quiet: print nothing when valid) and exit 0, or 2 when invalid.
        let checkOnly = arguments.contains("--check-config")
        let quiet = arguments.contains("--quiet")
        arguments.removeAll { $0 == "--check-config" || $0 == "--quiet" }
        let configuration: Configuration
        let environment = Configuration.processEnvironment()
        do {
            let flags = try Configuration.parseFlags(arguments)
            configuration = try Configuration.load(environment: environment, flags: flags)
            if checkOnly {
                // The certificate and key are read as the server would (a typo in a path, a
                // key that does not match) rather than found out at start.
                _ = try Server.makeTLS(configuration)
                if !quiet {
                    print("livesfu: configuration is valid; effective settings:")
                    print(Configuration.effectiveSettings(environment: environment, flags: flags), terminator: "")
                }
                return
            }
        } catch {
            let message = "livesfu: \(checkOnly ? "invalid configuration: " : "")\(error)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
        let level = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        let format = configuration.logFormat
        LoggingSystem.bootstrap { label in
            if format == .json {
                var handler = JSONLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let log = Logger(label: "livesfu")
        do {
            try Server(configuration: configuration, logger: log).run()
        } catch {
            log.critical("livesfu could not start: \(error)")
            exit(1)
        }
    }
}
