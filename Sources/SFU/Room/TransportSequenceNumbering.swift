import Reactor

/// One track fan-out's side of numbering viewer copies with transport-wide sequence numbers:
/// which element of the source's packets carries the number (the publisher's own, whose
/// value is overwritten per copy, or one added here to packets that come without it: OBS,
/// an edge relay), where it sits in each packet, and the time the batch is sent. Replaced
/// when a publisher attaches; allocation-free per packet (one scratch buffer of
/// `TrackFanout.maximumPacketBytes`).
final class TransportSequenceNumbering {
    /// The element's id in the source's numbering: its own transport-cc id, or one free id
    /// when it negotiated none; 0: no id (every one-byte id taken).
    let elementID: UInt8
    /// The source's extensions, with the added element when it negotiated none: what
    /// viewers' id maps are built from (`ViewerTrack.bind`).
    let forwardedExtensions: [SDPHeaderExtension]
    /// The receive batch's time: the send time recorded for its copies.
    private(set) var batchTime = Instant(nanoseconds: 0)
    /// Packets the element could not be added to (too large, not RFC 8285).
    private(set) var insertFailures: UInt64 = 0
    private let scratch: UnsafeMutableRawBufferPointer

    init(source: NegotiatedExtensions? = nil) {
        let all = source?.all ?? []
        if let id = source?.transportWideCC {
            elementID = id
            forwardedExtensions = all
        } else if source != nil, let id = TransportSequenceExtension.freeID(avoiding: all) {
            elementID = id
            forwardedExtensions = all + [SDPHeaderExtension(id: id, uri: SDPExtensionURI.transportWideCC)]
        } else {
            elementID = 0
            forwardedExtensions = all
        }
        scratch = .allocate(byteCount: TrackFanout.maximumPacketBytes, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// A rewritten source packet before it is stored and held: returns the bytes to store
    /// (the packet when it carries the element, else a copy in the scratch buffer with the
    /// element added, valid until the next call) and the element data's offset (0 when it has
    /// none). A publisher that negotiated the extension may still send packets without it
    /// (the project's own client does): those get it added too.
    func prepare(_ packet: UnsafeRawBufferPointer, now: Instant) -> (UnsafeRawBufferPointer, Int) {
        batchTime = now
        guard elementID != 0 else { return (packet, 0) }
        let found = TransportSequenceExtension.dataOffset(in: packet, id: elementID)
        if found > 0 { return (packet, found) }
        guard let r = TransportSequenceExtension.insert(into: scratch, from: packet, id: elementID) else {
            insertFailures &+= 1
            return (packet, 0)
        }
        return (UnsafeRawBufferPointer(rebasing: scratch[0..<r.length]), r.dataOffset)
    }

    /// The element data's offset in a stored packet (repairs), 0 when absent.
    func offset(in stored: UnsafeRawBufferPointer) -> Int {
        TransportSequenceExtension.dataOffset(in: stored, id: elementID)
    }

    /// Numbers one viewer copy in its send slot: the next number of the viewer's transport,
    /// written at `offset` (nothing when 0), and the copy recorded for its feedback.
    @inline(__always)
    static func stamp(
        _ slot: UnsafeMutableRawBufferPointer, at offset: Int, _ numbers: SentPacketLog.Recorder, bytes: Int,
        time: Instant
    ) {
        guard offset > 0, let base = slot.baseAddress else { return }
        let seq = numbers.record(bytes: bytes, at: time)
        base.storeBytes(of: seq.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
}
