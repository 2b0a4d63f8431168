import COgg

/// Finalises an Ogg file left unfinished (a crash), sans-IO: it asks for byte ranges, walks
/// the page headers, then reads the last whole page, checks its CRC and gives it back with the
/// end-of-stream flag set (CRC recomputed by libogg), to write at its offset before truncating
/// the file after it. A last page whose CRC is wrong is dropped instead (the file then ends
/// without the flag, which players accept). Only page headers and the last page are read.
public struct OggRecovery: Sendable {
    private enum Phase: Sendable, Equatable {
        case pageHeader, segmentTable(count: Int), lastPage, done
    }

    public let fileLength: Int
    /// The last whole page found by the walk: where it starts and its length.
    public private(set) var lastPage: (offset: Int, count: Int)?
    /// The last page with end-of-stream set, to write at `lastPage.offset`; nil if there is no
    /// valid page.
    public private(set) var finalPage: [UInt8]?
    /// Bytes to keep: up to the end of the last valid page.
    public private(set) var validLength = 0
    private var offset = 0
    private var phase = Phase.pageHeader

    public init(fileLength: Int) {
        self.fileLength = fileLength
        settle()
    }

    /// The next range to read and pass to `feed`, nil when the walk is over.
    public var nextRead: (offset: Int, count: Int)? {
        switch phase {
        case .pageHeader: (offset, 27)
        case .segmentTable(let n): (offset + 27, n)
        case .lastPage: lastPage
        case .done: nil
        }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let read = nextRead, bytes.count == read.count else {
            phase = .done
            return
        }
        switch phase {
        case .pageHeader:
            // Anything but a page header (garbage after a crash) ends the walk.
            let capture = bytes[0] == 0x4F && bytes[1] == 0x67 && bytes[2] == 0x67 && bytes[3] == 0x53
            phase = capture ? .segmentTable(count: Int(bytes[26])) : .lastPage
        case .segmentTable(let n):
            let length = 27 + n + bytes.reduce(0) { $0 + Int($1) }
            if length <= fileLength - offset {
                lastPage = (offset, length)
                offset += length
                phase = .pageHeader
            } else {
                phase = .lastPage  // this page was cut
            }
        case .lastPage:
            finish(lastPage: bytes)
            phase = .done
        case .done:
            break
        }
        settle()
    }

    /// Moves on when the range the phase needs is not in the file.
    private mutating func settle() {
        switch phase {
        case .pageHeader where offset + 27 > fileLength: phase = .lastPage
        case .segmentTable(let n) where offset + 27 + n > fileLength: phase = .lastPage
        default: break
        }
        if phase == .lastPage && lastPage == nil { phase = .done }
    }

    private mutating func finish(lastPage bytes: UnsafeRawBufferPointer) {
        guard let last = lastPage else { return }
        var page = Array(bytes)
        let stored = Array(page[22..<26])
        let headerLength = 27 + Int(page[26])
        let valid = page.withUnsafeMutableBufferPointer { p -> Bool in
            var og = ogg_page()
            og.header = p.baseAddress
            og.header_len = headerLength
            og.body = p.baseAddress! + headerLength
            og.body_len = p.count - headerLength
            ogg_page_checksum_set(&og)  // as written: must give the stored CRC
            guard p[22] == stored[0], p[23] == stored[1], p[24] == stored[2], p[25] == stored[3] else { return false }
            p[5] |= 0x04  // end of stream
            ogg_page_checksum_set(&og)
            return true
        }
        if valid {
            finalPage = page
            validLength = last.offset + last.count
        } else {
            validLength = last.offset
        }
    }
}
