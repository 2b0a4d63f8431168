/// The WHEP exchange an edge makes with a room's origin (`CLUSTER_MODE=edge`), as plain
/// values: the request, and what the answer must be for the edge to use it.
///
/// A relay request carries `X-Livesfu-Relay: <edge NODE_ID>` and `Authorization: Bearer
/// <CLUSTER_TOKEN>`. An origin decides such a request by `CLUSTER_TOKEN` alone (missing or
/// wrong: 401, like any bad token) and serves it only for a room whose publisher it holds
/// itself, never as an edge in turn: so A pulling from B pulling from A cannot happen (B
/// refuses with 508 Loop Detected).
public enum RelayExchange {
    /// The header that marks an edge's request to its origin.
    public static let header = "X-Livesfu-Relay"
    /// The status an origin refuses a relay of a room it does not hold with.
    public static let loopStatus = 508

    /// The WHEP POST for `room` to `origin`.
    public static func play(origin: NodeURL, room: String, offer: String, node: String, token: String?) -> RelayHTTPClient.Request {
        RelayHTTPClient.Request(
            method: "POST", url: origin.location(path: "/api/whep/play/\(room)"),
            headers: headers(node: node, token: token) + ["Content-Type: application/sdp", "Accept: application/sdp"],
            body: offer)
    }

    /// The DELETE of a relay's session at its origin.
    public static func delete(sessionURL: String, node: String, token: String?) -> RelayHTTPClient.Request {
        RelayHTTPClient.Request(method: "DELETE", url: sessionURL, headers: headers(node: node, token: token))
    }

    static func headers(node: String, token: String?) -> [String] {
        ["\(header): \(node)"] + (token.map { ["Authorization: Bearer \($0)"] } ?? [])
    }

    /// Why an answer cannot be used, or its SDP and the session's URL on the origin.
    public enum Answer: Sendable, Equatable {
        case accepted(sdp: String, sessionURL: String)
        case refused(String)
    }

    /// Reads the origin's answer: `201` with an SDP body and a `Location` under
    /// `/api/session/` (a path, or an absolute URL on the origin itself); anything else is a
    /// refusal naming the status and the first line of the body.
    public static func read(_ response: RelayHTTPClient.Response, origin: NodeURL) -> Answer {
        guard response.status == 201 else {
            let reason = response.body.split(separator: "\n", maxSplits: 1).first.map { String($0.prefix(200)) } ?? ""
            return .refused("the origin answered \(response.status)\(reason.isEmpty ? "" : ": \(reason)")")
        }
        guard response.body.hasPrefix("v=0") else { return .refused("the origin's answer is not SDP") }
        guard let location = response.location else { return .refused("the origin's answer has no Location") }
        let path: Substring
        if location.hasPrefix("/") {
            path = Substring(location)
        } else if location.hasPrefix(origin.text + "/") {
            path = location.dropFirst(origin.text.count)
        } else {
            return .refused("the origin's session is not on the origin (\(location.prefix(100)))")
        }
        guard path.hasPrefix("/api/session/"), path.utf8.count <= 300,
            path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") })
        else { return .refused("the origin's Location is not a session URL") }
        return .accepted(sdp: response.body, sessionURL: origin.text + path)
    }
}
