import CCurl

/// POSTs OTLP/HTTP protobuf bodies with libcurl (already a dependency for the S3 uploads),
/// on the exporter thread only: one easy handle reused, so the connection is kept alive.
/// A failed export is dropped after one try (traces are best effort; the next batch tries
/// again on a new connection).
final class OTLPHTTPClient {
    private let handle: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let url: String

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(url: String, headers: [(String, String)]) {
        _ = Self.globalInit
        self.url = url
        handle = curl_easy_init()
        headerList = curl_slist_append(nil, "Content-Type: application/x-protobuf")
        for (name, value) in headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
    }

    /// True on a 2xx answer.
    func post(_ body: [UInt8]) -> Bool {
        guard let handle else { return false }
        let discard: curl_write_callback = { _, size, count, _ in size * count }
        return body.withUnsafeBytes { bytes -> Bool in
            _ = lsfu_curl_setopt_string(handle, CURLOPT_URL, url)
            _ = lsfu_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = lsfu_curl_setopt_long(handle, CURLOPT_POST, 1)
            _ = lsfu_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            _ = lsfu_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
            _ = lsfu_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
            _ = lsfu_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, discard)
            _ = lsfu_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 2000)
            _ = lsfu_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, 10_000)
            guard curl_easy_perform(handle) == CURLE_OK else { return false }
            var status = 0
            _ = lsfu_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return (200..<300).contains(status)
        }
    }

    func close() {
        curl_slist_free_all(headerList)
        headerList = nil
        curl_easy_cleanup(handle)
    }
}
