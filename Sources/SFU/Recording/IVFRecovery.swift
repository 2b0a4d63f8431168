/// Finalises an IVF file left unfinished (a crash), sans-IO: it asks for the byte ranges to
/// read, walks the 12-byte frame headers, and says where the last whole frame ends (truncate
/// the file there) and the header to write at offset 0 (with the frame count). Only frame
/// headers are read, so a large file costs one small read per frame.
public struct IVFRecovery: Sendable {
    public let fileLength: Int
    /// Bytes up to the end of the last whole frame (the file's valid length).
    public private(set) var validLength = 0
    public private(set) var frameCount: UInt32 = 0
    private var header: [UInt8]?
    private var done = false

    public init(fileLength: Int) { self.fileLength = fileLength }

    /// The next range to read and pass to `feed`, nil when the walk is over.
    public var nextRead: (offset: Int, count: Int)? {
        if done { return nil }
        if header == nil { return fileLength >= IVFWriter.headerLength ? (0, IVFWriter.headerLength) : nil }
        let next = (offset: validLength, count: IVFWriter.frameHeaderLength)
        return next.offset + next.count <= fileLength ? next : nil
    }

    /// Takes the bytes of the range `nextRead` named.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let read = nextRead, bytes.count == read.count else {
            done = true
            return
        }
        if header == nil {
            guard bytes[0] == 0x44, bytes[1] == 0x4B, bytes[2] == 0x49, bytes[3] == 0x46 else {
                done = true  // not IVF: nothing is valid
                return
            }
            header = Array(bytes)
            validLength = IVFWriter.headerLength
            return
        }
        let size = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard size <= fileLength - validLength - IVFWriter.frameHeaderLength else {
            done = true  // the last frame was cut
            return
        }
        validLength += IVFWriter.frameHeaderLength + size
        frameCount += 1
    }

    /// The header to write at offset 0, with the frame count; nil if the file is not IVF.
    public var finalHeader: [UInt8]? {
        guard var h = header else { return nil }
        for k in 0..<4 { h[24 + k] = UInt8(truncatingIfNeeded: frameCount >> (8 * UInt32(k))) }
        return h
    }
}
