/// Finalises an H.264 Annex B file left unfinished (a crash), sans-IO: given the file's last
/// bytes, it finds where the last access unit begins, and the file is cut there. That unit may
/// have been cut short, and Annex B cannot tell, so it is always dropped: at most one frame.
/// Access units begin, as `H264Depacketizer` writes them, at an AUD, SEI, SPS or PPS, or at a
/// slice with first_mb_in_slice = 0, when the previous unit already had a slice.
public enum AnnexBRecovery {
    /// How much of the end of the file to read: more than the largest access unit.
    public static let tailLength = 8 << 20

    /// The length to cut the file to, given its last bytes (`tail`, which starts at
    /// `tailOffset` in the file); nil if no access unit starts in the tail (keep the file).
    public static func validLength(tail: UnsafeRawBufferPointer, tailOffset: Int) -> Int? {
        var lastStart: Int?
        var unitHasSlice = false
        var i = 0
        while i + 4 <= tail.count {
            guard tail[i] == 0, tail[i + 1] == 0, tail[i + 2] == 1 else {
                i += 1
                continue
            }
            let code = i > 0 && tail[i - 1] == 0 ? i - 1 : i
            let type = tail[i + 3] & 0x1F
            let slice = type == 1 || type == 5
            let firstSlice = slice && i + 4 < tail.count && tail[i + 4] & 0x80 != 0
            let parameters = type == 6 || type == 7 || type == 8 || type == 9  // SEI, SPS, PPS, AUD
            if parameters || firstSlice {
                if unitHasSlice || lastStart == nil { lastStart = code }
                unitHasSlice = false
            }
            if slice { unitHasSlice = true }
            i += 3
        }
        return lastStart.map { tailOffset + $0 }
    }
}
