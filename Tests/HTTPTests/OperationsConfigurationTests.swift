import Foundation
import Logging
import Synchronization
import Testing

@testable import HTTP

/// Issue 18's settings: SHUTDOWN_TIMEOUT_SECONDS, LOG_FORMAT, `--check-config`'s output, and
/// the JSON log lines.
@Suite("Operations settings")
struct OperationsConfigurationTests {
    @Test("SHUTDOWN_TIMEOUT_SECONDS and LOG_FORMAT have defaults, are validated, and flags win")
    func shutdownAndLogFormat() throws {
        let defaults = try Configuration.load(environment: [:])
        #expect(defaults.shutdownTimeoutSeconds == 10)
        #expect(defaults.logFormat == .text)
        let set = try Configuration.load(
            environment: ["SHUTDOWN_TIMEOUT_SECONDS": "30", "LOG_FORMAT": "JSON"], flags: ["SHUTDOWN_TIMEOUT_SECONDS": "5"])
        #expect(set.shutdownTimeoutSeconds == 5)
        #expect(set.logFormat == .json)
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: ["SHUTDOWN_TIMEOUT_SECONDS": "0"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: ["LOG_FORMAT": "xml"]) }
        let flags = try Configuration.parseFlags(["--shutdown-timeout-seconds", "7", "--log-format=json"])
        #expect(flags == ["SHUTDOWN_TIMEOUT_SECONDS": "7", "LOG_FORMAT": "json"])
        #expect(Configuration.helpText.contains("--shutdown-timeout-seconds"))
        #expect(Configuration.helpText.contains("--check-config"))
    }

    @Test("--check-config prints every setting with its source and never a secret's value")
    func effectiveSettingsRedactSecrets() throws {
        let secrets = [
            "AUTH_TOKEN": "tok-auth-1", "ROOM_TOKENS": "a:tok-room-2", "JWT_SECRET": String(repeating: "j", count: 40),
            "ADMIN_TOKEN": "tok-admin-3", "METRICS_TOKEN": "tok-metrics-4", "TURN_PASSWORD": "tok-turn-5",
            "S3_ACCESS_KEY": "tok-s3a-6", "S3_SECRET_KEY": "tok-s3s-7",
        ]
        var environment = secrets
        environment["CORES"] = "3"
        let flags = ["HTTP_ADDR": "127.0.0.1:9000"]
        _ = try Configuration.load(environment: environment, flags: flags)
        let text = Configuration.effectiveSettings(environment: environment, flags: flags)
        for value in secrets.values { #expect(!text.contains(value)) }
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == Configuration.options.count)
        #expect(lines.contains { $0.hasPrefix("AUTH_TOKEN ") && $0.contains("<redacted>  [env]") })
        #expect(lines.contains { $0.hasPrefix("HTTP_ADDR ") && $0.contains("127.0.0.1:9000  [flag]") })
        #expect(lines.contains { $0.hasPrefix("CORES ") && $0.contains("3  [env]") })
        #expect(lines.contains { $0.hasPrefix("UDP_PORT ") && $0.contains("10000  [default]") })
        #expect(lines.contains { $0.hasPrefix("TLS_CERT_FILE ") && $0.contains("(unset)") })
        // Every option holding a credential is a secret.
        for name in secrets.keys { #expect(Configuration.options.first { $0.env == name }?.kind == .secret) }
    }

    @Test("LOG_FORMAT=json writes one JSON object per line with the metadata as fields")
    func jsonLines() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "livesfu") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .info
        handler[metadataKey: "core"] = "1"
        let logger = Logger(label: "livesfu", factory: { _ in handler })
        logger.info("GET /healthz \"ok\"\n", metadata: ["route": "/healthz", "ms": "0.2", "msg": "shadow", "list": ["a", "b"]])
        logger.debug("not at info")
        let all = lines.withLock { $0 }
        #expect(all.count == 1)
        let line = try #require(all.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "GET /healthz \"ok\"\n")
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "livesfu")
        #expect(object["route"] as? String == "/healthz")
        #expect(object["core"] as? String == "1")
        #expect(object["meta.msg"] as? String == "shadow")
        #expect(object["list"] as? [String] == ["a", "b"])
        let ts = try #require(object["ts"] as? String)
        #expect(ts.count == 27 && ts.hasSuffix("Z"))
    }
}
