import Reactor

/// What a node of a cluster needs (`CLUSTER_REDIS_URL`, `NODE_ID`, `NODE_URL`, `CLUSTER_*`),
/// built and checked by `Configuration`. Without `CLUSTER_REDIS_URL` there is none and the
/// server runs alone, exactly as before.
public struct ClusterSettings: Sendable, Equatable {
    /// What a WHEP POST for a room held by another node gets.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// `307` to the node that holds the room (`NODE_URL` + the same path).
        case redirect
        /// This node pulls the room from its origin over WHEP (one relay per room) and serves
        /// the viewer itself (`RelayExchange`, the SFU's `RelaySource`).
        case edge
    }

    public var redis: RedisEndpoint
    /// `NODE_ID`: this node's name in the directory (`A–Z a–z 0–9 - _ .`, at most 64 bytes).
    public var nodeID: String
    /// `NODE_URL`: the base URL clients and other nodes reach this node at.
    public var nodeURL: NodeURL
    public var mode: Mode
    /// `CLUSTER_TOKEN`: the nodes' shared secret. It signs this node's directory entry (a
    /// `NODE_URL` whose signature does not verify is never used as a `Location`) and opens
    /// `GET /api/cluster/node`; nil = entries unsigned, that endpoint closed.
    public var token: String?
    /// `CLUSTER_NODE_TTL_SECONDS`: how long a node's entry and its rooms' claims live without
    /// a heartbeat (a node killed with -9 vanishes within it).
    public var nodeTTL: Duration
    /// `CLUSTER_HEARTBEAT_SECONDS`: how often the entry and the claims are refreshed (at most
    /// half the TTL, so one lost heartbeat does not expire them).
    public var heartbeatInterval: Duration
    /// `CLUSTER_REDIS_TIMEOUT_MS`: the bound of one connect and of one command.
    public var redisTimeout: Duration

    /// The bound of one WHEP exchange of an edge with an origin (connect included).
    public static let relayTimeout: Duration = .seconds(2)
    /// Longest `NODE_ID`.
    public static let maxNodeIDBytes = 64
    /// At most this many rooms and nodes are read from the directory for one listing.
    public static let maxRoomsListed = 1000
    public static let maxNodesListed = 100
    /// Rooms this node claims at most (one per local publisher); beyond, a WHIP gets 503.
    public static let maxClaims = 10_000

    public init(
        redis: RedisEndpoint, nodeID: String, nodeURL: NodeURL, mode: Mode = .redirect, token: String? = nil,
        nodeTTL: Duration = .seconds(10), heartbeatInterval: Duration = .seconds(3), redisTimeout: Duration = .milliseconds(500)
    ) {
        self.redis = redis
        self.nodeID = nodeID
        self.nodeURL = nodeURL
        self.mode = mode
        self.token = token
        self.nodeTTL = nodeTTL
        self.heartbeatInterval = heartbeatInterval
        self.redisTimeout = redisTimeout
    }

    /// A node ID is used in Redis keys and shown in listings: the room names' alphabet.
    public static func isValidNodeID(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= maxNodeIDBytes, id.utf8.first != UInt8(ascii: ".") else { return false }
        return id.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}
