import Cluster
import Reactor
import Telemetry

/// Every setting of livesfu, loaded from the environment (names of the Go server this
/// replaces, DESIGN.md §5) and command-line flags, validated once at start-up. `load` is a
/// pure function of its inputs: no file is read, no clock is consulted.
public struct Configuration: Sendable, Equatable {
    // HTTP
    /// `HTTP_ADDR` (`:8080`, `127.0.0.1:8080`, `[::1]:8080`): the listening address; an empty
    /// host means every IPv4 interface.
    public var httpBind: SocketAddress
    public var cors: CORSPolicy
    public var auth: AuthSettings
    public var rateLimitRPS: Double
    public var rateLimitBurst: Int
    public var httpLimits: HTTPLimits
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    /// Folder served under `/web/`.
    public var webDirectory: String
    /// `WEB_ALLOWED_SERVERS`: the origins the pages may send offers and tokens to besides
    /// their own.
    public var pageSecurity: PageSecurity

    // Rooms and media
    /// 0 = unlimited.
    public var maxSubscribersPerRoom: Int
    public var stunURLs: [String]
    public var turnURLs: [String]
    public var turnUsername: String?
    public var turnPassword: String?
    public var publisherGraceSeconds: Int
    /// `MAX_CORE_LOAD`: a core whose smoothed busy fraction is above this refuses new viewers
    /// and new rooms with 503 + `Retry-After` (0…1; 0 = off).
    public var maxCoreLoad: Double
    /// `MAX_PENDING_SESSIONS_PER_IP`: sessions being set up (not yet connected) per client IP
    /// and core; 0 = unlimited.
    public var maxPendingSessionsPerIP: Int
    /// `VIEWER_TRANSPORT_CC`: number viewers' copies with transport-wide sequence numbers and
    /// estimate their bandwidth from their transport-cc feedback (else REMB and reports).
    public var viewerTransportCC = true
    /// `BANDWIDTH_TRACE_FILE` (debug): a file every viewer transport-cc feedback is appended
    /// to, with what was sent for each packet it reports; nil = none.
    public var bandwidthTraceFile: String?

    // Recording and upload
    public var recordEnabled: Bool
    public var recordDirectory: String
    public var uploadRecordings: Bool
    public var deleteRecordingAfterUpload: Bool
    public var s3: S3Settings

    // livesfu itself
    /// 0 = one core per CPU.
    public var cores: Int
    /// Core i receives media on `udpBasePort + i`.
    public var udpBasePort: UInt16
    /// Address put in ICE candidates; nil = the addresses of the interfaces.
    public var publicIP: String?
    public var reactorBackend: ReactorBackendChoice
    public var logLevel: LogLevelChoice
    /// `CLUSTER_REDIS_URL` and the other cluster settings; nil = a node on its own.
    public var cluster: ClusterSettings? = nil
    /// `SHUTDOWN_TIMEOUT_SECONDS`: how long a graceful shutdown (SIGTERM/SIGINT) may take in
    /// all, uploads included, before the process exits.
    public var shutdownTimeoutSeconds = 10
    /// `INSTANT_START_MAX_BYTES`: a connecting viewer is sent the video since the latest
    /// keyframe when that is at most this many bytes per room; 0 = off (a keyframe is asked for).
    public var instantStartMaxBytes = 4 << 20
    /// `SHARD_MIN_VIEWERS`: a room's viewers beyond this many may go to other cores (fan-out
    /// shards); 0 = every room stays on one core.
    public var shardMinViewers = 100
    /// `SHARD_RING_BYTES`: each ring between two cores (media from a room's owner to its shards).
    public var shardRingBytes = 1 << 20
    /// `INSTANT_START_BYTES_PER_SECOND`: what all instant starts of one core may send
    /// together (keyframes first); 0 = no shared bound.
    public var instantStartBytesPerSecond = 50_000_000
    /// `LOG_FORMAT`: text (swift-log's stream handler) or json (one object per line).
    public var logFormat = LogFormatChoice.text
    /// `OTEL_*`: where traces go and how they are sampled; nil without an endpoint (no tracing).
    public var tracing: TracingSettings?

    public struct S3Settings: Sendable, Equatable {
        public var endpoint: String?
        public var region: String
        public var bucket: String?
        public var accessKey: String?
        public var secretKey: String?
        public var prefix: String
        public var useSSL: Bool
        public var pathStyle: Bool
        /// `S3_CA_FILE`: PEM bundle of the CAs for a self-hosted endpoint's certificate; nil =
        /// the system's store.
        public var caFile: String? = nil
        /// `UPLOAD_CONCURRENCY`: uploads at once (one worker thread each, off the cores).
        public var uploadConcurrency: Int = 2
        /// `UPLOAD_MAX_ATTEMPTS`: tries per S3 request (the first included) before an upload fails.
        public var uploadMaxAttempts: Int = 5
    }

    public enum ReactorBackendChoice: String, Sendable, Equatable { case epoll, ioUring = "io_uring" }
    public enum LogFormatChoice: String, Sendable, Equatable { case text, json }
    public enum LogLevelChoice: String, Sendable, Equatable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Shortest accepted `JWT_SECRET`, in bytes. RFC 7518 §3.2 requires an HMAC key at least
    /// as long as the hash (32 bytes for HS256), and jwt-kit asserts it in debug builds only;
    /// livesfu refuses a shorter secret at start-up in every build rather than crash or
    /// silently accept a weak key.
    public static let minimumJWTSecretBytes = 32

    /// Every option, for Main's flags and `--help` (defaults as a user would type them).
    public static let options: [ConfigurationOption] = [
        .init("HTTP_ADDR", .string, default: ":8080", "HTTP listen address (host:port; empty host = all IPv4 interfaces)"),
        .init("ALLOWED_ORIGIN", .string, default: "*", "CORS origins: *, one origin, or a comma-separated list; empty = no CORS"),
        .init("AUTH_TOKEN", .secret, default: nil, "Token for every room not listed in ROOM_TOKENS"),
        .init("ROOM_TOKENS", .secret, default: nil, "Per-room tokens: room:token;room:token"),
        .init("JWT_SECRET", .secret, default: nil, "HMAC secret (>= 32 bytes) for HS256/384/512 JWTs; claims room, role=admin / admin=true"),
        .init("ADMIN_TOKEN", .secret, default: nil, "Token for /api/admin/...; admin is closed unless this or JWT_SECRET is set"),
        .init("METRICS_TOKEN", .secret, default: nil, "Token for /metrics (ADMIN_TOKEN and admin JWTs work too); unset = /metrics is open"),
        .init("RATE_LIMIT_RPS", .number, default: "0", "Requests per second per client IP on the API (per core); 0 = off"),
        .init("RATE_LIMIT_BURST", .integer, default: "0", "Bucket size of the rate limit; 0 = max(1, ceil(RATE_LIMIT_RPS))"),
        .init("MAX_SUBS_PER_ROOM", .integer, default: "0", "Connected viewers per room at most (viewers setting up count within an allowance of max(2, 10 %)); 0 = unlimited"),
        .init("MAX_PENDING_SESSIONS_PER_IP", .integer, default: "50", "Sessions not yet connected per client IP (IPv6: per /64) on each core; more get 429 + Retry-After; 0 = unlimited"),
        .init("STUN_URLS", .string, default: nil, "Comma-separated STUN URLs handed to clients (Link header)"),
        .init("TURN_URLS", .string, default: nil, "Comma-separated TURN URLs handed to clients"),
        .init("TURN_USERNAME", .string, default: nil, "TURN username"),
        .init("TURN_PASSWORD", .secret, default: nil, "TURN password"),
        .init("TLS_CERT_FILE", .string, default: nil, "PEM certificate chain; with TLS_KEY_FILE serves HTTPS"),
        .init("TLS_KEY_FILE", .string, default: nil, "PEM private key for TLS_CERT_FILE"),
        .init("RECORD_ENABLED", .boolean, default: "false", "Record published streams"),
        .init("RECORD_DIR", .string, default: "./records", "Folder for recordings"),
        .init("UPLOAD_RECORDINGS", .boolean, default: "false", "Upload finished recordings to S3"),
        .init("DELETE_RECORDING_AFTER_UPLOAD", .boolean, default: "false", "Delete the local file after a successful upload"),
        .init("S3_ENDPOINT", .string, default: nil, "S3 endpoint host[:port]"),
        .init("S3_REGION", .string, default: "us-east-1", "S3 region"),
        .init("S3_BUCKET", .string, default: nil, "S3 bucket"),
        .init("S3_ACCESS_KEY", .secret, default: nil, "S3 access key"),
        .init("S3_SECRET_KEY", .secret, default: nil, "S3 secret key"),
        .init("S3_PREFIX", .string, default: "", "Key prefix for uploads"),
        .init("S3_USE_SSL", .boolean, default: "true", "Use HTTPS for S3"),
        .init("S3_PATH_STYLE", .boolean, default: "false", "Path-style S3 URLs (MinIO)"),
        .init("S3_CA_FILE", .string, default: nil, "PEM CA bundle that verifies the S3 endpoint's certificate (self-hosted HTTPS); unset = system CAs"),
        .init("UPLOAD_CONCURRENCY", .integer, default: "2", "Uploads at once, each on its own worker thread (1-64)"),
        .init("UPLOAD_MAX_ATTEMPTS", .integer, default: "5", "Tries per S3 request before an upload fails (1-100); retried on 5xx, 429, timeouts, connection errors"),
        .init("CORES", .integer, default: "0", "Cores (threads) to run; 0 = one per CPU"),
        .init("UDP_PORT", .integer, default: "10000", "First media UDP port; core i uses UDP_PORT+i"),
        .init("PUBLIC_IP", .string, default: nil, "IP address advertised in ICE candidates"),
        .init("REACTOR_BACKEND", .string, default: "epoll", "Event loop backend: epoll or io_uring (falls back to epoll, with a warning, where io_uring is disabled). Keep epoll: io_uring measured 5–24 % more CPU per delivered packet (perf/RESULTS.md)"),
        .init("LOG_LEVEL", .string, default: "info", "trace, debug, info, notice, warning, error or critical"),
        .init("OTEL_EXPORTER_OTLP_ENDPOINT", .string, default: nil, "OTLP/HTTP collector base URL (traces go to <url>/v1/traces); unset = no tracing, no cost"),
        .init("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", .string, default: nil, "Full OTLP/HTTP traces URL (overrides OTEL_EXPORTER_OTLP_ENDPOINT's /v1/traces)"),
        .init("OTEL_EXPORTER_OTLP_PROTOCOL", .string, default: "http/protobuf", "OTLP protocol: http/protobuf (grpc and http/json are not supported)"),
        .init("OTEL_EXPORTER_OTLP_HEADERS", .secret, default: nil, "Headers on every OTLP request: key=value,key2=value2 (values percent-encoded)"),
        .init("OTEL_SERVICE_NAME", .string, default: nil, "service.name of the spans (default livesfu, or OTEL_RESOURCE_ATTRIBUTES' service.name)"),
        .init("OTEL_RESOURCE_ATTRIBUTES", .string, default: nil, "Resource attributes: key=value,key2=value2"),
        .init("OTEL_TRACES_SAMPLER", .string, default: "parentbased_always_on", "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"),
        .init("OTEL_TRACES_SAMPLER_ARG", .number, default: nil, "Ratio (0-1) for the traceidratio samplers (default 1)"),
        .init("LOG_FORMAT", .string, default: "text", "Log lines as text, or json (one object per line, metadata as fields) for log shippers"),
        .init("WEB_DIR", .string, default: "web", "Folder served under /web/"),
        .init(
            "WEB_ALLOWED_SERVERS", .string, default: nil,
            "Origins (https://host[:port], port * for any) the pages' ?server= may name besides their own; empty = own origin only"),
        .init("PUBLISHER_GRACE_SECONDS", .integer, default: "10", "How long a room waits for its publisher to come back"),
        .init(
            "VIEWER_TRANSPORT_CC", .boolean, default: "true",
            "Negotiate transport-cc with viewers: their feedback drives a send-side bandwidth estimate per viewer (else REMB and receiver reports only)"),
        .init(
            "BANDWIDTH_TRACE_FILE", .string, default: nil,
            "Debug: append every viewer transport-cc feedback, with the send time and size of each packet it reports, to this file (records traces for the estimator's tests; costs an allocation per feedback)"),
        .init("MAX_CORE_LOAD", .number, default: "0.95", "Refuse new viewers and new rooms (503 + Retry-After) on a core busier than this fraction (smoothed over ~1 s); 0 = off"),
        .init("HTTP_MAX_REQUEST_LINE_BYTES", .integer, default: "8192", "Longest request line (414 beyond)"),
        .init("HTTP_MAX_HEADER_BYTES", .integer, default: "16384", "Largest header section (431 beyond)"),
        .init("HTTP_MAX_BODY_BYTES", .integer, default: "65536", "Largest request body (413 beyond)"),
        .init("HTTP_HEADER_TIMEOUT_SECONDS", .integer, default: "10", "Time to send a whole request (408 beyond)"),
        .init("HTTP_IDLE_TIMEOUT_SECONDS", .integer, default: "60", "Idle keep-alive connections are closed after this"),
        .init("HTTP_HANDLER_TIMEOUT_SECONDS", .integer, default: "15", "A request not answered within this gets a 503"),
        .init("HTTP_MAX_CONNECTIONS_PER_CORE", .integer, default: "10000", "Open HTTP connections per core at most"),
        .init(
            "CLUSTER_REDIS_URL", .secret, default: nil,
            "redis://[[user]:password@]host[:port][/db] of the cluster directory; unset = this node runs alone"),
        .init("NODE_ID", .string, default: nil, "This node's name in the cluster (A-Z a-z 0-9 - _ ., at most 64); required with CLUSTER_REDIS_URL"),
        .init("NODE_URL", .string, default: nil, "Base URL (http[s]://host[:port]) clients and nodes reach this node at; required with CLUSTER_REDIS_URL"),
        .init("CLUSTER_MODE", .string, default: "redirect", "WHEP for a room held by another node: redirect (307 to it) or edge (pull it from there over WHEP and serve it here; needs CLUSTER_TOKEN)"),
        .init("CLUSTER_TOKEN", .secret, default: nil, "Nodes' shared secret: signs node entries in Redis (unsigned URLs are never used) and opens /api/cluster/node"),
        .init("CLUSTER_NODE_TTL_SECONDS", .integer, default: "10", "A node's entry and its rooms expire this long after its last heartbeat (2-3600)"),
        .init("CLUSTER_HEARTBEAT_SECONDS", .integer, default: "3", "Heartbeat interval (1 to half of CLUSTER_NODE_TTL_SECONDS)"),
        .init("CLUSTER_REDIS_TIMEOUT_MS", .integer, default: "500", "Bound of one Redis connect or command (10-10000, below the heartbeat interval)"),
        .init(
            "INSTANT_START_MAX_BYTES", .integer, default: "4194304",
            "Instant start: a viewer that connects gets the video since the latest keyframe at once (the room keeps up to this many bytes of it per video layer; 0-67108864), not a keyframe request; 0 = off"),
        .init(
            "SHARD_MIN_VIEWERS", .integer, default: "100",
            "One room on every core: once a room has this many viewers, new ones go to the least loaded core, fed by the room's core through a ring (0-1000000; 0 = every room stays on one core)"),
        .init(
            "SHARD_RING_BYTES", .integer, default: "1048576",
            "Size of each ring between two cores carrying a room's media to its viewers on other cores (65536-67108864); a full ring drops for that core and counts it"),
        .init(
            "INSTANT_START_BYTES_PER_SECOND", .integer, default: "50000000",
            "Instant start: what all starts of one core may send together, in bytes per second (keyframes first, then the rest, earliest start first; 0-10000000000); 0 = no shared bound"),
        .init(
            "SHUTDOWN_TIMEOUT_SECONDS", .integer, default: "10",
            "On SIGTERM/SIGINT: refuse new sessions, end the rest with RTCP BYE, finish recordings, let uploads run, and exit within this (1-3600); a second signal exits at once"),
    ]

    /// Loads and validates. `flags` (keyed by environment name) override `environment`.
    /// Empty values count as unset.
    public static func load(environment: [String: String], flags: [String: String] = [:]) throws(ConfigurationError) -> Configuration {
        var reader = Reader(environment: environment, flags: flags)
        return try reader.build()
    }

    private struct Reader {
        let environment: [String: String]
        let flags: [String: String]

        func raw(_ name: String) -> String? {
            let value = flags[name] ?? environment[name]
            guard let value else { return Configuration.options.first { $0.env == name }?.defaultValue }
            let trimmed = value.trimmingASCIIWhitespace()
            return trimmed.isEmpty ? nil : trimmed
        }

        func string(_ name: String) -> String? { raw(name) }

        func int(_ name: String, min: Int = 0, max: Int = Int.max) throws(ConfigurationError) -> Int {
            guard let text = raw(name) else { return 0 }
            guard let value = Int(text) else { throw .invalid(name, "`\(text)` is not a whole number") }
            guard value >= min else { throw .invalid(name, "must be at least \(min), got \(value)") }
            guard value <= max else { throw .invalid(name, "must be at most \(max), got \(value)") }
            return value
        }

        func number(_ name: String) throws(ConfigurationError) -> Double {
            guard let text = raw(name) else { return 0 }
            guard let value = Double(text), value.isFinite else { throw .invalid(name, "`\(text)` is not a number") }
            guard value >= 0 else { throw .invalid(name, "must not be negative, got \(text)") }
            return value
        }

        func bool(_ name: String) throws(ConfigurationError) -> Bool {
            guard let text = raw(name) else { return false }
            switch text.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw .invalid(name, "`\(text)` is not a boolean (true/false)")
            }
        }

        /// The `OTEL_*` variables (OpenTelemetry's names and meanings); nil without an endpoint.
        func tracing() throws(ConfigurationError) -> TracingSettings? {
            let base = string("OTEL_EXPORTER_OTLP_ENDPOINT")
            let traces = string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            guard base != nil || traces != nil else { return nil }
            let url = traces ?? (base!.hasSuffix("/") ? String(base!.dropLast()) : base!) + "/v1/traces"
            let variable = traces != nil ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT"
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw .invalid(variable, "`\(url)` is not an http:// or https:// URL")
            }
            let proto = string("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf"
            guard proto == "http/protobuf" else {
                throw .invalid("OTEL_EXPORTER_OTLP_PROTOCOL", "`\(proto)` is not supported; livesfu exports http/protobuf")
            }
            guard let headers = TracingSettings.parseList(string("OTEL_EXPORTER_OTLP_HEADERS") ?? "") else {
                throw .invalid("OTEL_EXPORTER_OTLP_HEADERS", "expected key=value,key2=value2")
            }
            guard var resource = TracingSettings.parseList(string("OTEL_RESOURCE_ATTRIBUTES") ?? "") else {
                throw .invalid("OTEL_RESOURCE_ATTRIBUTES", "expected key=value,key2=value2")
            }
            let fromResource = resource.first { $0.0 == "service.name" }?.1
            resource.removeAll { $0.0 == "service.name" }
            resource.insert(("service.name", string("OTEL_SERVICE_NAME") ?? fromResource ?? "livesfu"), at: 0)
            let samplerName = (string("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on").lowercased()
            let argument = raw("OTEL_TRACES_SAMPLER_ARG") == nil ? nil : try number("OTEL_TRACES_SAMPLER_ARG")
            if let argument, argument > 1 { throw .invalid("OTEL_TRACES_SAMPLER_ARG", "is a ratio from 0 to 1, got \(argument)") }
            guard let sampler = TraceSampler(name: samplerName, argument: argument) else {
                throw .invalid("OTEL_TRACES_SAMPLER", "`\(samplerName)` is not a sampler livesfu knows")
            }
            return TracingSettings(tracesURL: url, headers: headers, sampler: sampler, resource: resource)
        }

        func list(_ name: String) -> [String] {
            guard let text = raw(name) else { return [] }
            return text.split(separator: ",").map { String($0).trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        }

        mutating func build() throws(ConfigurationError) -> Configuration {
            let bind = try Configuration.parseListenAddress(string("HTTP_ADDR") ?? ":8080")
            let cors = try CORSPolicy(allowedOrigin: flags["ALLOWED_ORIGIN"] ?? environment["ALLOWED_ORIGIN"] ?? "*")
            let roomTokens = try Configuration.parseRoomTokens(string("ROOM_TOKENS"))
            var jwtSecret: [UInt8]?
            if let secret = string("JWT_SECRET") {
                guard secret.utf8.count >= Configuration.minimumJWTSecretBytes else {
                    throw .invalid("JWT_SECRET", "must be at least \(Configuration.minimumJWTSecretBytes) bytes for HS256 (RFC 7518 §3.2), got \(secret.utf8.count)")
                }
                jwtSecret = Array(secret.utf8)
            }
            var auth = AuthSettings(
                authToken: string("AUTH_TOKEN"), roomTokens: roomTokens, jwtSecret: jwtSecret, adminToken: string("ADMIN_TOKEN"),
                metricsToken: string("METRICS_TOKEN"))

            let rps = try number("RATE_LIMIT_RPS")
            let burst = try int("RATE_LIMIT_BURST")

            var limits = HTTPLimits()
            limits.maxRequestLineBytes = try int("HTTP_MAX_REQUEST_LINE_BYTES", min: 64, max: 1 << 20)
            limits.maxHeaderBytes = try int("HTTP_MAX_HEADER_BYTES", min: 256, max: 1 << 20)
            limits.maxBodyBytes = try int("HTTP_MAX_BODY_BYTES", min: 0, max: 64 << 20)
            limits.headerTimeout = .seconds(UInt64(try int("HTTP_HEADER_TIMEOUT_SECONDS", min: 1, max: 3600)))
            limits.idleTimeout = .seconds(UInt64(try int("HTTP_IDLE_TIMEOUT_SECONDS", min: 1, max: 86_400)))
            limits.handlerTimeout = .seconds(UInt64(try int("HTTP_HANDLER_TIMEOUT_SECONDS", min: 1, max: 3600)))
            limits.maxConnectionsPerCore = try int("HTTP_MAX_CONNECTIONS_PER_CORE", min: 1, max: 1_000_000)

            let cert = string("TLS_CERT_FILE")
            let key = string("TLS_KEY_FILE")
            if (cert == nil) != (key == nil) {
                throw .invalid(cert == nil ? "TLS_CERT_FILE" : "TLS_KEY_FILE", "TLS needs both TLS_CERT_FILE and TLS_KEY_FILE")
            }

            let turnURLs = list("TURN_URLS")
            for url in list("STUN_URLS") where !(url.hasPrefix("stun:") || url.hasPrefix("stuns:")) {
                throw .invalid("STUN_URLS", "`\(url)` does not start with stun: or stuns:")
            }
            for url in turnURLs where !(url.hasPrefix("turn:") || url.hasPrefix("turns:")) {
                throw .invalid("TURN_URLS", "`\(url)` does not start with turn: or turns:")
            }

            let s3 = S3Settings(
                endpoint: string("S3_ENDPOINT"), region: string("S3_REGION") ?? "us-east-1", bucket: string("S3_BUCKET"),
                accessKey: string("S3_ACCESS_KEY"), secretKey: string("S3_SECRET_KEY"), prefix: string("S3_PREFIX") ?? "",
                useSSL: try bool("S3_USE_SSL"), pathStyle: try bool("S3_PATH_STYLE"), caFile: string("S3_CA_FILE"),
                uploadConcurrency: try int("UPLOAD_CONCURRENCY", min: 1, max: 64),
                uploadMaxAttempts: try int("UPLOAD_MAX_ATTEMPTS", min: 1, max: 100))
            let upload = try bool("UPLOAD_RECORDINGS")
            if upload {
                for (name, value) in [("S3_ENDPOINT", s3.endpoint), ("S3_BUCKET", s3.bucket), ("S3_ACCESS_KEY", s3.accessKey), ("S3_SECRET_KEY", s3.secretKey)]
                where value == nil {
                    throw .invalid(name, "required when UPLOAD_RECORDINGS is true")
                }
            }

            let backendText = string("REACTOR_BACKEND") ?? "epoll"
            guard let backend = ReactorBackendChoice(rawValue: backendText.lowercased()) else {
                throw .invalid("REACTOR_BACKEND", "`\(backendText)` is not epoll or io_uring")
            }
            let levelText = string("LOG_LEVEL") ?? "info"
            guard let level = LogLevelChoice(rawValue: levelText.lowercased()) else {
                throw .invalid("LOG_LEVEL", "`\(levelText)` is not one of \(LogLevelChoice.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let cores = try int("CORES", min: 0, max: 1024)
            let maxCoreLoad = try number("MAX_CORE_LOAD")
            guard maxCoreLoad <= 1 else {
                throw .invalid("MAX_CORE_LOAD", "is a fraction of a core from 0 to 1 (0 = off), got \(maxCoreLoad)")
            }
            let udpPort = try int("UDP_PORT", min: 1, max: 65535)
            if let publicIP = string("PUBLIC_IP"), SocketAddress(ip: publicIP, port: 0) == nil {
                throw .invalid("PUBLIC_IP", "`\(publicIP)` is not an IPv4 or IPv6 address")
            }

            let cluster = try clusterSettings()
            auth.clusterToken = cluster?.token

            var configuration = Configuration(
                httpBind: bind, cors: cors, auth: auth, rateLimitRPS: rps, rateLimitBurst: burst, httpLimits: limits,
                tlsCertFile: cert, tlsKeyFile: key, webDirectory: string("WEB_DIR") ?? "web",
                pageSecurity: try PageSecurity(allowedServers: list("WEB_ALLOWED_SERVERS")),
                maxSubscribersPerRoom: try int("MAX_SUBS_PER_ROOM"), stunURLs: list("STUN_URLS"), turnURLs: turnURLs,
                turnUsername: string("TURN_USERNAME"), turnPassword: string("TURN_PASSWORD"),
                publisherGraceSeconds: try int("PUBLISHER_GRACE_SECONDS", min: 0, max: 3600), maxCoreLoad: maxCoreLoad,
                maxPendingSessionsPerIP: try int("MAX_PENDING_SESSIONS_PER_IP", min: 0, max: 1_000_000),
                recordEnabled: try bool("RECORD_ENABLED"), recordDirectory: string("RECORD_DIR") ?? "./records",
                uploadRecordings: upload, deleteRecordingAfterUpload: try bool("DELETE_RECORDING_AFTER_UPLOAD"), s3: s3,
                cores: cores, udpBasePort: UInt16(udpPort), publicIP: string("PUBLIC_IP"), reactorBackend: backend,
                logLevel: level, cluster: cluster)
            configuration.shutdownTimeoutSeconds = try int("SHUTDOWN_TIMEOUT_SECONDS", min: 1, max: 3600)
            configuration.instantStartMaxBytes = try int("INSTANT_START_MAX_BYTES", min: 0, max: 64 << 20)
            configuration.shardMinViewers = try int("SHARD_MIN_VIEWERS", min: 0, max: 1_000_000)
            configuration.shardRingBytes = try int("SHARD_RING_BYTES", min: 65536, max: 64 << 20)
            configuration.instantStartBytesPerSecond = try int("INSTANT_START_BYTES_PER_SECOND", min: 0, max: 10_000_000_000)
            configuration.viewerTransportCC = try bool("VIEWER_TRANSPORT_CC")
            configuration.bandwidthTraceFile = string("BANDWIDTH_TRACE_FILE")
            let formatText = string("LOG_FORMAT") ?? "text"
            guard let format = LogFormatChoice(rawValue: formatText.lowercased()) else {
                throw .invalid("LOG_FORMAT", "`\(formatText)` is not text or json")
            }
            configuration.logFormat = format
            configuration.tracing = try tracing()
            return configuration
        }

        /// The cluster settings when `CLUSTER_REDIS_URL` is set; nil otherwise (the other
        /// cluster variables are then ignored).
        func clusterSettings() throws(ConfigurationError) -> ClusterSettings? {
            guard let url = string("CLUSTER_REDIS_URL") else { return nil }
            let redis: RedisEndpoint
            do {
                redis = try RedisEndpoint(parsing: url)
            } catch {
                throw .invalid("CLUSTER_REDIS_URL", error.description)
            }
            guard let id = string("NODE_ID") else { throw .invalid("NODE_ID", "required when CLUSTER_REDIS_URL is set") }
            guard ClusterSettings.isValidNodeID(id) else {
                throw .invalid("NODE_ID", "`\(id)` is not 1-\(ClusterSettings.maxNodeIDBytes) of A-Z a-z 0-9 - _ . (no leading dot)")
            }
            guard let urlText = string("NODE_URL") else { throw .invalid("NODE_URL", "required when CLUSTER_REDIS_URL is set") }
            guard let nodeURL = NodeURL(validating: urlText) else {
                throw .invalid("NODE_URL", "`\(urlText)` is not http(s)://host[:port] (no path, query or user)")
            }
            let modeText = string("CLUSTER_MODE") ?? "redirect"
            guard let mode = ClusterSettings.Mode(rawValue: modeText.lowercased()) else {
                throw .invalid("CLUSTER_MODE", "`\(modeText)` is not redirect or edge")
            }
            if mode == .edge, string("CLUSTER_TOKEN") == nil {
                throw .invalid("CLUSTER_MODE", "edge needs CLUSTER_TOKEN (edges present it to their origins)")
            }
            let ttl = try int("CLUSTER_NODE_TTL_SECONDS", min: 2, max: 3600)
            let beat = try int("CLUSTER_HEARTBEAT_SECONDS", min: 1, max: 1800)
            guard beat * 2 <= ttl else {
                throw .invalid("CLUSTER_HEARTBEAT_SECONDS", "must be at most half of CLUSTER_NODE_TTL_SECONDS (\(ttl)), got \(beat)")
            }
            let timeout = try int("CLUSTER_REDIS_TIMEOUT_MS", min: 10, max: 10_000)
            guard timeout < beat * 1000 else {
                throw .invalid("CLUSTER_REDIS_TIMEOUT_MS", "must be below the heartbeat interval (\(beat * 1000) ms), got \(timeout)")
            }
            return ClusterSettings(
                redis: redis, nodeID: id, nodeURL: nodeURL, mode: mode, token: string("CLUSTER_TOKEN"),
                nodeTTL: .seconds(UInt64(ttl)), heartbeatInterval: .seconds(UInt64(beat)),
                redisTimeout: .milliseconds(UInt64(timeout)))
        }
    }

    /// `host:port`, `:port`, `[v6]:port`; hosts are IP literals or `localhost`.
    static func parseListenAddress(_ text: String) throws(ConfigurationError) -> SocketAddress {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .invalid("HTTP_ADDR", "`\(text)` is not [ipv6]:port")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .invalid("HTTP_ADDR", "`\(text)` has no :port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else { throw .invalid("HTTP_ADDR", "`\(portText)` is not a port") }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        guard let address = SocketAddress(ip: String(host), port: port) else {
            throw .invalid("HTTP_ADDR", "`\(host)` is not an IP address (host names are not resolved)")
        }
        return address
    }

    /// `room:token;room:token` (spaces around items ignored, empty items skipped).
    static func parseRoomTokens(_ text: String?) throws(ConfigurationError) -> [String: String] {
        guard let text else { return [:] }
        var tokens: [String: String] = [:]
        for (index, item) in text.split(separator: ";").enumerated() {
            let entry = String(item).trimmingASCIIWhitespace()
            if entry.isEmpty { continue }
            guard let colon = entry.firstIndex(of: ":") else {
                throw .invalid("ROOM_TOKENS", "entry \(index + 1) has no `:` (expected room:token;room:token)")
            }
            let room = String(entry[..<colon]).trimmingASCIIWhitespace()
            let token = String(entry[entry.index(after: colon)...]).trimmingASCIIWhitespace()
            guard !room.isEmpty else { throw .invalid("ROOM_TOKENS", "entry \(index + 1) has an empty room name") }
            guard !token.isEmpty else { throw .invalid("ROOM_TOKENS", "room `\(room)` has an empty token") }
            guard tokens[room] == nil else { throw .invalid("ROOM_TOKENS", "room `\(room)` is listed twice") }
            tokens[room] = token
        }
        return tokens
    }
}
