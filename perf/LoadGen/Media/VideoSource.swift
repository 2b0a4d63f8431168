/// What a publisher sends video from: the synthetic encoder-shaped stream, or an IVF
/// recording replayed. A frame is planned with `beginFrame`, then written packet by packet.
protocol VideoSource: AnyObject {
    var ssrc: UInt32 { get }
    var payloadType: UInt8 { get set }
    var midExtensionID: UInt8 { get set }
    var frameIntervalNanos: UInt64 { get }
    func requestKeyframe()
    func beginFrame() -> SyntheticVideoSource.Frame
    func writePacket(_ index: Int, sendNanos: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int
}

extension SyntheticVideoSource: VideoSource {}
