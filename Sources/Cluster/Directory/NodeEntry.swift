/// A node as the directory describes it: what a reader got back from Redis, checked. `url`
/// is nil when the stored URL is garbage, is missing (the entry expired) or, with a
/// `CLUSTER_TOKEN`, is not signed with it; such a node is never used as a `Location`.
public struct NodeEntry: Sendable, Equatable {
    public var id: String
    public var url: NodeURL?
    /// The node's mean core busy fraction (0…1) at its last heartbeat.
    public var load: Double
    /// Its viewers at its last heartbeat.
    public var viewers: Int
    /// Why `url` is nil, for the 503 body and the logs.
    public var refusal: String?

    public init(id: String, url: NodeURL?, load: Double = 0, viewers: Int = 0, refusal: String? = nil) {
        self.id = id
        self.url = url
        self.load = load
        self.viewers = viewers
        self.refusal = refusal
    }

    /// Checks the fields read from Redis: the ID's alphabet, the URL's shape, the signature
    /// when `signer` is set, the figures' ranges (bad figures count as 0, not as a refusal).
    static func checked(id: String, url: String, load: String, viewers: String, signature: String, signer: NodeSignature?) -> NodeEntry {
        var entry = NodeEntry(
            id: id, url: nil, load: Double(load).map { $0.isFinite ? min(max($0, 0), 1) : 0 } ?? 0,
            viewers: Int(viewers).map { max($0, 0) } ?? 0)
        guard ClusterSettings.isValidNodeID(id) else {
            entry.refusal = "the directory names a malformed node ID"
            return entry
        }
        if url.isEmpty {
            entry.refusal = "node \(id) has no live entry in the directory"
            return entry
        }
        guard let parsed = NodeURL(validating: url) else {
            entry.refusal = "node \(id)'s URL in the directory is not a usable http(s) base URL"
            return entry
        }
        if let signer, !signer.verify(signature, id: id, url: parsed.text) {
            entry.refusal = "node \(id)'s directory entry is not signed with this cluster's CLUSTER_TOKEN"
            return entry
        }
        entry.url = parsed
        return entry
    }
}
