/// One bucket of an S3-compatible service and how to reach it. Independent of `HTTP`'s
/// `Configuration`: Main builds it from `Configuration.S3Settings`.
public struct S3Configuration: Sendable, Equatable {
    /// `host[:port]` of the service, without scheme or path (`s3.eu-west-1.amazonaws.com`,
    /// `minio.internal:9000`, `[::1]:9000`).
    public var endpoint: String
    /// Region of the SigV4 credential scope (`us-east-1`).
    public var region: String
    public var bucket: String
    public var accessKey: String
    public var secretKey: String
    /// Put in front of every key as given (`recordings/` + `room_track_1700000000.ivf`).
    public var keyPrefix: String
    /// HTTPS (certificate and host name verified) rather than HTTP.
    public var useSSL: Bool
    /// `endpoint/bucket/key` (MinIO, most self-hosted services) rather than the
    /// virtual-hosted `bucket.endpoint/key` (AWS's default).
    public var pathStyle: Bool
    /// PEM bundle of the CAs that may sign the endpoint's certificate (a self-hosted
    /// service's own CA); nil = the system's store.
    public var caFile: String?

    /// Time to open a connection (TCP and TLS).
    public var connectTimeout: Duration
    /// A transfer that moves fewer than `stallBytesPerSecond` for this long is given up as a
    /// timeout (and retried): a dead peer is found without bounding how long a large part may
    /// take on a slow but working link.
    public var stallTimeout: Duration
    public var stallBytesPerSecond: Int
    /// Bound of one request from start to end; `.zero` = none (the stall check still applies).
    public var requestTimeout: Duration

    /// Files of this size and above go by multipart upload, smaller ones by one PutObject.
    public var multipartThreshold: Int64
    /// Size of each part but the last (at least `MultipartPlan.minimumPartSize`; raised when
    /// a file would need more than 10,000 parts).
    public var partSize: Int64

    public init(
        endpoint: String, region: String, bucket: String, accessKey: String, secretKey: String,
        keyPrefix: String = "", useSSL: Bool = true, pathStyle: Bool = false, caFile: String? = nil,
        connectTimeout: Duration = .seconds(10), stallTimeout: Duration = .seconds(30), stallBytesPerSecond: Int = 1024,
        requestTimeout: Duration = .zero, multipartThreshold: Int64 = 16 << 20, partSize: Int64 = MultipartPlan.minimumPartSize
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.keyPrefix = keyPrefix
        self.useSSL = useSSL
        self.pathStyle = pathStyle
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.stallBytesPerSecond = stallBytesPerSecond
        self.requestTimeout = requestTimeout
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
    }

    /// Checks what would otherwise fail at the first upload; run once at start-up.
    public func validate() throws(S3Error) {
        if endpoint.isEmpty || endpoint.contains("/") || endpoint.contains("://") || endpoint.contains(where: \.isWhitespace) {
            throw .invalidRequest("S3 endpoint `\(endpoint)` is not host[:port]")
        }
        if bucket.isEmpty || bucket.utf8.count > 63 || bucket.contains("/") {
            throw .invalidRequest("S3 bucket `\(bucket)` is not a bucket name")
        }
        // A virtual-hosted bucket is a DNS label of the endpoint's host.
        if !pathStyle, !bucket.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }) {
            throw .invalidRequest("S3 bucket `\(bucket)` cannot be a host name (lowercase letters, digits, - and . only): use path-style URLs")
        }
        if !pathStyle, endpoint.hasPrefix("[") {
            throw .invalidRequest("an IPv6 endpoint needs path-style URLs")
        }
        if region.isEmpty || region.contains(":") { throw .invalidRequest("S3 region `\(region)` is not a region name") }
        if accessKey.isEmpty || secretKey.isEmpty { throw .invalidRequest("S3 access key and secret key are required") }
        if partSize < MultipartPlan.minimumPartSize || partSize > MultipartPlan.maximumPartSize {
            throw .invalidRequest("S3 part size \(partSize) is outside \(MultipartPlan.minimumPartSize)...\(MultipartPlan.maximumPartSize)")
        }
        if multipartThreshold < 1 || multipartThreshold > MultipartPlan.maximumPartSize {
            throw .invalidRequest("S3 multipart threshold \(multipartThreshold) is outside 1...\(MultipartPlan.maximumPartSize)")
        }
    }

    /// The object key of `name`: `keyPrefix + name`.
    public func objectKey(for name: String) -> String { keyPrefix + name }

    /// The URL of `key` (a full object key) with `query` (name, value) pairs: path-style or
    /// virtual-hosted, the key percent-encoded as SigV4 canonicalises S3 paths and the query
    /// already canonical (sorted, encoded, `name=` for a bare name), since some libcurl
    /// versions sign the URL's path and query as they are written.
    public func url(forKey key: String, query: [(String, String)] = []) -> String {
        let scheme = useSSL ? "https" : "http"
        let path = "/" + S3Encoding.path(key)
        let base = pathStyle ? "\(scheme)://\(endpoint)/\(S3Encoding.path(bucket))" : "\(scheme)://\(bucket).\(endpoint)"
        let canonicalQuery = S3Encoding.canonicalQuery(query)
        return base + path + (canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)
    }

    /// The SigV4 provider string of libcurl's CURLOPT_AWS_SIGV4.
    var sigV4Provider: String { "aws:amz:\(region):s3" }
}
