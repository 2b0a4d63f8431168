/// Bounds the parser enforces before it builds anything, so a hostile offer cannot make the
/// server allocate without limit. Real offers are far below them: Chromium's WHEP offer with
/// every codec is about 6 KB, 200 lines, 2 m-lines and 34 payload types.
public enum SDPLimits {
    /// Bytes of UTF-8 in one description.
    public static let maxBytes = 64 * 1024
    /// Lines in one description.
    public static let maxLines = 2000
    /// m-lines in one description.
    public static let maxMediaSections = 64
    /// Formats (payload types) listed on one m-line.
    public static let maxFormatsPerMedia = 200
    /// Candidates in one m-section (or trickle fragment).
    public static let maxCandidatesPerMedia = 100
    /// Characters in one line.
    public static let maxLineLength = 4096
}
