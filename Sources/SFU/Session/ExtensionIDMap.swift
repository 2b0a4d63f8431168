/// Maps a publisher's header-extension ids onto one viewer's ids for the same URIs.
/// Built once when a viewer is bound to a track; read per packet without allocating.
public struct ExtensionIDMap: Sendable, Hashable {
    /// 0 means "the viewer did not negotiate this extension": its element is blanked.
    private var table: [UInt8]
    /// True when every id maps to itself, so the per-packet rewrite can be skipped.
    public let isIdentity: Bool

    public init(publisher: [SDPHeaderExtension], viewer: [SDPHeaderExtension], dropping: Set<String> = []) {
        var table = [UInt8](repeating: 0, count: 256)
        var identity = true
        for ext in publisher {
            let viewerID = dropping.contains(ext.uri) ? 0 : (viewer.first { $0.uri == ext.uri }?.id ?? 0)
            table[Int(ext.id)] = viewerID
            if viewerID != ext.id { identity = false }
        }
        self.table = table
        isIdentity = identity
    }

    /// The viewer's id for a publisher id (0 when the viewer lacks it).
    public func map(_ publisherID: UInt8) -> UInt8 { table[Int(publisherID)] }
}
