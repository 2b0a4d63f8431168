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
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Configuration.helpText, terminator: "")
            return
        }
        let configuration: Configuration
        do {
            let flags = try Configuration.parseFlags(arguments)
            configuration = try Configuration.load(environment: Configuration.processEnvironment(), flags: flags)
        } catch {
            let message = "livesfu: \(error)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
        let level = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
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
