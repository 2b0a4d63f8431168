/// How a file is cut into the parts of a multipart upload: equal parts of `partSize` bytes
/// and a shorter last one. S3 allows 10,000 parts of 5 MiB (except the last) to 5 GiB;
/// parts here are at least 8 MiB and grow (in whole MiB) when a file would need more parts.
public struct MultipartPlan: Sendable, Equatable {
    public static let minimumPartSize: Int64 = 8 << 20
    public static let maximumPartSize: Int64 = 5 << 30
    public static let maximumPartCount = 10_000

    public let fileSize: Int64
    public let partSize: Int64
    public let partCount: Int

    /// nil when `fileSize` is 0 (PutObject's case) or beyond what 10,000 parts of 5 GiB hold.
    public init?(fileSize: Int64, preferredPartSize: Int64) {
        guard fileSize > 0 else { return nil }
        var size = min(max(preferredPartSize, Self.minimumPartSize), Self.maximumPartSize)
        let count = Int64(Self.maximumPartCount)
        if (fileSize + size - 1) / size > count {
            let needed = (fileSize + count - 1) / count
            size = (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20)
            guard size <= Self.maximumPartSize else { return nil }
        }
        self.fileSize = fileSize
        self.partSize = size
        self.partCount = Int((fileSize + size - 1) / size)
    }

    /// Byte range of part `number` (1-based, as S3 numbers them).
    public func range(ofPart number: Int) -> (offset: Int64, length: Int64) {
        precondition(number >= 1 && number <= partCount, "part \(number) of \(partCount)")
        let offset = Int64(number - 1) * partSize
        return (offset, min(partSize, fileSize - offset))
    }
}
