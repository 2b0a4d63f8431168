import Reactor
import Testing

@testable import HTTP

@Suite("Configuration")
struct ConfigurationTests {
    @Test("defaults match the Go server's where they exist")
    func defaults() throws {
        let c = try Configuration.load(environment: [:])
        #expect(c.httpBind == SocketAddress(ip: "0.0.0.0", port: 8080))
        #expect(c.cors.origins == .any)
        #expect(c.rateLimitRPS == 0)
        #expect(c.httpLimits == HTTPLimits())
        #expect(c.webDirectory == "web")
        #expect(c.reactorBackend == .epoll)
        #expect(c.logLevel == .info)
        #expect(c.udpBasePort == 10000)
        #expect(c.s3.useSSL)
        #expect(c.s3.caFile == nil && c.s3.uploadConcurrency == 2 && c.s3.uploadMaxAttempts == 5)
        #expect(c.auth == AuthSettings())
    }

    @Test("every documented variable is read, and flags beat the environment")
    func readsEverything() throws {
        let env = [
            "HTTP_ADDR": "127.0.0.1:9000", "ALLOWED_ORIGIN": "https://a.example", "AUTH_TOKEN": "g",
            "ROOM_TOKENS": "a:ta; b:tb;", "JWT_SECRET": String(repeating: "k", count: 32), "ADMIN_TOKEN": "adm",
            "RATE_LIMIT_RPS": "2.5", "RATE_LIMIT_BURST": "5", "MAX_SUBS_PER_ROOM": "50",
            "STUN_URLS": "stun:stun.example:3478", "TURN_URLS": "turn:t.example:3478?transport=udp,turns:t.example:5349",
            "TURN_USERNAME": "u", "TURN_PASSWORD": "p", "TLS_CERT_FILE": "/c.pem", "TLS_KEY_FILE": "/k.pem",
            "RECORD_ENABLED": "true", "RECORD_DIR": "/rec", "UPLOAD_RECORDINGS": "1", "DELETE_RECORDING_AFTER_UPLOAD": "yes",
            "S3_ENDPOINT": "s3.example", "S3_REGION": "eu-west-1", "S3_BUCKET": "b", "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk",
            "S3_PREFIX": "live/", "S3_USE_SSL": "false", "S3_PATH_STYLE": "true", "S3_CA_FILE": "/ca.pem",
            "UPLOAD_CONCURRENCY": "4", "UPLOAD_MAX_ATTEMPTS": "7",
            "CORES": "2", "UDP_PORT": "20000", "PUBLIC_IP": "203.0.113.7", "REACTOR_BACKEND": "io_uring", "LOG_LEVEL": "debug",
            "HTTP_MAX_BODY_BYTES": "1000", "HTTP_HEADER_TIMEOUT_SECONDS": "3", "PUBLISHER_GRACE_SECONDS": "4",
        ]
        let c = try Configuration.load(environment: env, flags: ["HTTP_ADDR": "[::1]:9443", "CORES": "1"])
        #expect(c.httpBind == SocketAddress(ip: "::1", port: 9443))
        #expect(c.cores == 1)
        #expect(c.auth.roomTokens == ["a": "ta", "b": "tb"])
        #expect(c.auth.jwtSecret?.count == 32)
        #expect(c.rateLimitRPS == 2.5 && c.rateLimitBurst == 5)
        #expect(c.turnURLs.count == 2)
        #expect(c.tlsCertFile == "/c.pem" && c.tlsKeyFile == "/k.pem")
        #expect(c.uploadRecordings && c.deleteRecordingAfterUpload && c.recordEnabled)
        #expect(c.s3 == Configuration.S3Settings(endpoint: "s3.example", region: "eu-west-1", bucket: "b", accessKey: "ak", secretKey: "sk", prefix: "live/", useSSL: false, pathStyle: true, caFile: "/ca.pem", uploadConcurrency: 4, uploadMaxAttempts: 7))
        #expect(c.reactorBackend == .ioUring && c.logLevel == .debug)
        #expect(c.httpLimits.maxBodyBytes == 1000 && c.httpLimits.headerTimeout == .seconds(3))
        #expect(c.publisherGraceSeconds == 4 && c.udpBasePort == 20000 && c.publicIP == "203.0.113.7")
        #expect(c.maxSubscribersPerRoom == 50)
    }

    @Test("bad values are refused with the variable's name and a reason")
    func errors() {
        func message(_ env: [String: String]) -> String? {
            do {
                _ = try Configuration.load(environment: env)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message(["ROOM_TOKENS": "a:ta;bad"])?.hasPrefix("ROOM_TOKENS: entry 2 has no `:`") == true)
        #expect(message(["ROOM_TOKENS": "a:"])?.hasPrefix("ROOM_TOKENS:") == true)
        #expect(message(["ROOM_TOKENS": ":t"])?.hasPrefix("ROOM_TOKENS:") == true)
        #expect(message(["ROOM_TOKENS": "a:1;a:2"])?.contains("twice") == true)
        #expect(message(["RATE_LIMIT_RPS": "-1"])?.hasPrefix("RATE_LIMIT_RPS: must not be negative") == true)
        #expect(message(["RATE_LIMIT_RPS": "lots"])?.hasPrefix("RATE_LIMIT_RPS:") == true)
        #expect(message(["RATE_LIMIT_BURST": "-3"])?.hasPrefix("RATE_LIMIT_BURST:") == true)
        #expect(message(["JWT_SECRET": "short"])?.hasPrefix("JWT_SECRET: must be at least 32 bytes") == true)
        #expect(message(["HTTP_ADDR": "8080"])?.hasPrefix("HTTP_ADDR:") == true)
        #expect(message(["HTTP_ADDR": "example.com:80"])?.contains("not an IP address") == true)
        #expect(message(["TLS_CERT_FILE": "/c.pem"])?.hasPrefix("TLS_KEY_FILE:") == true)
        #expect(message(["RECORD_ENABLED": "maybe"])?.hasPrefix("RECORD_ENABLED:") == true)
        #expect(message(["UPLOAD_RECORDINGS": "true"])?.contains("required when UPLOAD_RECORDINGS") == true)
        #expect(message(["REACTOR_BACKEND": "kqueue"])?.hasPrefix("REACTOR_BACKEND:") == true)
        #expect(message(["LOG_LEVEL": "loud"])?.hasPrefix("LOG_LEVEL:") == true)
        #expect(message(["STUN_URLS": "http://x"])?.hasPrefix("STUN_URLS:") == true)
        #expect(message(["PUBLIC_IP": "host.example"])?.hasPrefix("PUBLIC_IP:") == true)
        #expect(message(["UDP_PORT": "70000"])?.hasPrefix("UDP_PORT:") == true)
        #expect(message(["UPLOAD_CONCURRENCY": "0"])?.hasPrefix("UPLOAD_CONCURRENCY:") == true)
        #expect(message(["UPLOAD_MAX_ATTEMPTS": "101"])?.hasPrefix("UPLOAD_MAX_ATTEMPTS:") == true)
        #expect(message(["ALLOWED_ORIGIN": "example.com"])?.hasPrefix("ALLOWED_ORIGIN:") == true)
    }

    @Test("the option table covers every DESIGN.md §5 variable, with unique flags")
    func optionTable() {
        let names = Set(Configuration.options.map(\.env))
        for required in [
            "HTTP_ADDR", "ALLOWED_ORIGIN", "AUTH_TOKEN", "ROOM_TOKENS", "JWT_SECRET", "ADMIN_TOKEN", "RATE_LIMIT_RPS",
            "RATE_LIMIT_BURST", "MAX_SUBS_PER_ROOM", "STUN_URLS", "TURN_URLS", "TURN_USERNAME", "TURN_PASSWORD",
            "TLS_CERT_FILE", "TLS_KEY_FILE", "RECORD_ENABLED", "RECORD_DIR", "UPLOAD_RECORDINGS",
            "DELETE_RECORDING_AFTER_UPLOAD", "S3_ENDPOINT", "S3_REGION", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY",
            "S3_PREFIX", "S3_USE_SSL", "S3_PATH_STYLE", "S3_CA_FILE", "UPLOAD_CONCURRENCY", "UPLOAD_MAX_ATTEMPTS", "CORES", "UDP_PORT", "PUBLIC_IP", "REACTOR_BACKEND", "LOG_LEVEL",
        ] {
            #expect(names.contains(required), "\(required)")
        }
        #expect(Set(Configuration.options.map(\.flag)).count == Configuration.options.count)
        #expect(Configuration.options.first { $0.env == "HTTP_ADDR" }?.flag == "http-addr")
    }
}

@Suite("Configuration from the command line")
struct ConfigurationCommandLineTests {
    @Test("flags map to variables in both spellings; bare booleans are true")
    func flags() throws {
        let flags = try Configuration.parseFlags(["--http-addr", ":9000", "--cores=2", "--record-enabled", "--log-level", "debug"])
        #expect(flags == ["HTTP_ADDR": ":9000", "CORES": "2", "RECORD_ENABLED": "true", "LOG_LEVEL": "debug"])
        let c = try Configuration.load(environment: ["HTTP_ADDR": ":1"], flags: flags)
        #expect(c.httpBind.port == 9000 && c.cores == 2 && c.recordEnabled)
    }

    @Test("unknown flags and missing values are errors naming the flag")
    func badFlags() {
        #expect(throws: ConfigurationError.invalid("--nope", "unknown option (see --help)")) { try Configuration.parseFlags(["--nope", "1"]) }
        #expect(throws: ConfigurationError.invalid("--http-addr", "needs a value")) { try Configuration.parseFlags(["--http-addr"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.parseFlags(["stray"]) }
    }

    @Test("help text lists every option with its flag, variable and default, and --help itself")
    func help() {
        let text = Configuration.helpText
        for option in Configuration.options {
            #expect(text.contains("  --\(option.flag) ") && text.contains("[env \(option.env)]"))
            if let fallback = option.defaultValue { #expect(text.contains("(default: \(fallback)) [env \(option.env)]")) }
        }
        #expect(text.hasPrefix("livesfu: ") && text.hasSuffix("  -h, --help\n      Show this help.\n"))
    }

    @Test("a boolean takes an explicit value too; a flag's value may start with a dash")
    func booleanValues() throws {
        #expect(try Configuration.parseFlags(["--record-enabled", "false", "--cores", "2"]) == ["RECORD_ENABLED": "false", "CORES": "2"])
        #expect(try Configuration.parseFlags(["--record-enabled", "--cores", "2"]) == ["RECORD_ENABLED": "true", "CORES": "2"])
        #expect(try Configuration.parseFlags(["--public-ip", "-"]) == ["PUBLIC_IP": "-"])
    }

    @Test("the process environment is read without Foundation")
    func environment() {
        #expect(Configuration.processEnvironment()["PATH"] != nil)
    }
}

@Suite("Media address plan")
struct MediaAddressPlanTests {
    let local = ["127.0.0.1", "10.1.2.3", "172.17.0.1", "192.168.9.4"]

    @Test("without PUBLIC_IP one address is advertised, the default route's, and media binds to it")
    func defaultRoute() {
        let plan = MediaAddressPlan(publicIP: nil, httpBindIP: "0.0.0.0", localIPs: local, defaultRouteIP: "10.1.2.3")
        #expect(plan.candidateIPs == ["10.1.2.3"])
        #expect(plan.bindIP == "10.1.2.3")
    }

    @Test("a loopback HTTP address advertises and binds loopback only")
    func loopback() {
        for http in ["127.0.0.1", "::1"] {
            let plan = MediaAddressPlan(publicIP: nil, httpBindIP: http, localIPs: local, defaultRouteIP: "10.1.2.3")
            #expect(plan.candidateIPs == ["127.0.0.1"])
            #expect(plan.bindIP == "127.0.0.1")
        }
    }

    @Test("a specific HTTP address is the media address too")
    func httpAddress() {
        let plan = MediaAddressPlan(publicIP: nil, httpBindIP: "192.168.9.4", localIPs: local, defaultRouteIP: "10.1.2.3")
        #expect(plan.candidateIPs == ["192.168.9.4"])
        #expect(plan.bindIP == "192.168.9.4")
    }

    @Test("PUBLIC_IP is advertised; media binds to it when it is local, else to every interface (NAT)")
    func publicIP() {
        let onHost = MediaAddressPlan(publicIP: "10.1.2.3", httpBindIP: "0.0.0.0", localIPs: local, defaultRouteIP: nil)
        #expect(onHost.candidateIPs == ["10.1.2.3"])
        #expect(onHost.bindIP == "10.1.2.3")
        let nat = MediaAddressPlan(publicIP: "203.0.113.7", httpBindIP: "0.0.0.0", localIPs: local, defaultRouteIP: "10.1.2.3")
        #expect(nat.candidateIPs == ["203.0.113.7"])
        #expect(nat.bindIP == "0.0.0.0")
    }

    @Test("no default route: the first non-loopback address, else loopback")
    func noRoute() {
        let plan = MediaAddressPlan(publicIP: nil, httpBindIP: "0.0.0.0", localIPs: local, defaultRouteIP: nil)
        #expect(plan.candidateIPs == ["10.1.2.3"])
        let lo = MediaAddressPlan(publicIP: nil, httpBindIP: "0.0.0.0", localIPs: ["127.0.0.1"], defaultRouteIP: nil)
        #expect(lo.candidateIPs == ["127.0.0.1"])
        #expect(lo.bindIP == "127.0.0.1")
    }
}
