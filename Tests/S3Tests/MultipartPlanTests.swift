import Testing

@testable import S3

@Suite("Multipart part splitting")
struct MultipartPlanTests {
    static let mib: Int64 = 1 << 20

    @Test("a 20 MiB file is two 8 MiB parts and a 4 MiB one")
    func twentyMiB() throws {
        let plan = try #require(MultipartPlan(fileSize: 20 * Self.mib, preferredPartSize: 8 * Self.mib))
        #expect(plan.partCount == 3)
        #expect(plan.range(ofPart: 1) == (0, 8 * Self.mib))
        #expect(plan.range(ofPart: 2) == (8 * Self.mib, 8 * Self.mib))
        #expect(plan.range(ofPart: 3) == (16 * Self.mib, 4 * Self.mib))
    }

    @Test("parts are contiguous, cover the file, and only the last is short", arguments: [
        1, 8 << 20, (8 << 20) + 1, (24 << 20) - 1, 24 << 20, 1_000_000_007,
    ] as [Int64])
    func cover(size: Int64) throws {
        let plan = try #require(MultipartPlan(fileSize: size, preferredPartSize: 8 * Self.mib))
        var next: Int64 = 0
        for number in 1...plan.partCount {
            let (offset, length) = plan.range(ofPart: number)
            #expect(offset == next && length > 0)
            if number < plan.partCount { #expect(length == plan.partSize) }
            next += length
        }
        #expect(next == size)
    }

    @Test("a smaller preferred size is raised to 8 MiB")
    func minimum() throws {
        let plan = try #require(MultipartPlan(fileSize: 100 * Self.mib, preferredPartSize: 1))
        #expect(plan.partSize == 8 * Self.mib && plan.partCount == 13)
    }

    @Test("a file that needs more than 10,000 parts gets larger parts, in whole MiB")
    func largeFile() throws {
        let size: Int64 = 100_000 * Self.mib + 1
        let plan = try #require(MultipartPlan(fileSize: size, preferredPartSize: 8 * Self.mib))
        #expect(plan.partCount <= MultipartPlan.maximumPartCount)
        #expect(plan.partSize % Self.mib == 0 && plan.partSize == 11 * Self.mib)
    }

    @Test("an empty file or one beyond 10,000 parts of 5 GiB has no plan")
    func none() {
        #expect(MultipartPlan(fileSize: 0, preferredPartSize: 8 * Self.mib) == nil)
        #expect(MultipartPlan(fileSize: Int64(MultipartPlan.maximumPartCount) * MultipartPlan.maximumPartSize + 1, preferredPartSize: 8 * Self.mib) == nil)
    }
}
