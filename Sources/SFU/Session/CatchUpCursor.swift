import Reactor

/// One viewer's instant start: the next packet of the history to send it and its pacing.
/// The keyframe's own packets go at once (the first picture); the rest follow at a multiple
/// of the stream's bitrate, so a long keyframe interval is not one burst into the viewer's
/// link, and the viewer joins the live fan-out when it has reached the newest packet.
struct CatchUpCursor {
    /// The keyframe's first packet: while the history still holds it, it holds every packet
    /// after it (both of its rings are first in, first out).
    var from: UInt16 = 0
    var next: UInt16 = 0
    var keyframeTimestamp: UInt32 = 0
    /// The next packet to send is still the keyframe's (it goes before anyone's later packets).
    var inKeyframe = true
    /// Bytes it may send now (a token bucket refilled at the pacing rate).
    var budget = 0
    var refilledAt = Instant(nanoseconds: 0)
    /// When the next paced packets are due.
    var due = Instant(nanoseconds: 0)
    /// A move down a layer for congestion: the keyframe is paced too, at most at this rate
    /// (bits/s: the viewer's estimate for video, at least twice the layer's bitrate). Its
    /// path's queue is full then, so a burst into it is dropped at the tail, and the
    /// keyframe's repair waits behind the same queue (interop: 1.7 s without a picture);
    /// the queue still holds the old layer's frames to show meanwhile.
    var paceBitsPerSecond: UInt64?
    /// When it was last sent back to its keyframe (`TrackFanout.rewindCatchUp`); nil: never.
    var rewoundAt: Instant?
    var packetsSent: UInt64 = 0
    var bytesSent: UInt64 = 0
}
