/// A publisher m-line's simulcast (RFC 8853) with its restriction identifiers (RFC 8851): the
/// layers it will send, each named by a RID that its packets carry in the RID header extension
/// (and, for their RTX repairs, in the repaired-RID one). Only what the server answers is
/// kept: the `send` direction, the first alternative of each stream, paused ones (`~`) left out.
public struct SDPSimulcast: Hashable, Sendable {
    /// The layers in the order of `a=simulcast:send` (at most `maxLayers`).
    public var rids: [String]

    /// Layers one m-line may send (a browser sends up to three; more are refused).
    public static let maxLayers = 4
    /// Characters of one RID (RFC 8851 allows more; browsers use one to a few).
    public static let maxRIDLength = 16

    public init(rids: [String]) { self.rids = rids }

    /// The simulcast an offered m-line asks for, nil without `a=simulcast:send`. Throws on
    /// a malformed or unbounded `a=rid` / `a=simulcast` line, or a layer without its
    /// `a=rid … send`.
    public static func offered(in media: MediaDescription) throws(SDPError) -> SDPSimulcast? {
        var sendRIDs: [String] = []
        var simulcast: String?
        for a in media.otherAttributes {
            switch a.name {
            case "rid":
                let fields = (a.value ?? "").split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2, isRID(fields[0]), fields[1] == "send" || fields[1] == "recv" else {
                    throw .malformed(line: 0, reason: "a=rid must be <rid> send|recv [restrictions]")
                }
                guard fields[1] == "send" else { continue }
                guard sendRIDs.count < 2 * maxLayers else { throw .tooLarge("more than \(2 * maxLayers) a=rid lines") }
                sendRIDs.append(String(fields[0]))
            case "simulcast":
                guard simulcast == nil else { throw .malformed(line: 0, reason: "more than one a=simulcast") }
                simulcast = a.value ?? ""
            default:
                continue
            }
        }
        guard let simulcast else { return nil }
        // `send <streams> [recv <streams>]`, either order; streams `a;b,c;~d`.
        let parts = simulcast.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 || parts.count == 4 else {
            throw .malformed(line: 0, reason: "a=simulcast must be send|recv <streams> [recv|send <streams>]")
        }
        var rids: [String] = []
        for k in stride(from: 0, to: parts.count, by: 2) where parts[k] == "send" {
            for stream in parts[k + 1].split(separator: ";", omittingEmptySubsequences: false) {
                guard let first = stream.split(separator: ",", omittingEmptySubsequences: false).first else { continue }
                let paused = first.hasPrefix("~")
                let rid = paused ? first.dropFirst() : first
                guard isRID(rid) else { throw .malformed(line: 0, reason: "a=simulcast names a malformed RID") }
                guard sendRIDs.contains(String(rid)) else {
                    throw .malformed(line: 0, reason: "a=simulcast names RID \(rid) without a=rid:\(rid) send")
                }
                guard !paused, !rids.contains(String(rid)) else { continue }
                guard rids.count < maxLayers else { throw .tooLarge("more than \(maxLayers) simulcast layers") }
                rids.append(String(rid))
            }
        }
        return rids.isEmpty ? nil : SDPSimulcast(rids: rids)
    }

    /// The answer's attributes: each layer received, in the offer's order.
    public var answerAttributes: [SDPAttribute] {
        rids.map { SDPAttribute("rid", "\($0) recv") } + [SDPAttribute("simulcast", "recv " + rids.joined(separator: ";"))]
    }

    static func isRID<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.count <= maxRIDLength
            && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }
}
