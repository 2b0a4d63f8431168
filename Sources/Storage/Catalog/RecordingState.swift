/// Where a recorded file is in its life. `recording` → `finalised` (or `damaged`), then with
/// uploads on `uploading` → `uploaded` or `failed`.
public enum RecordingState: String, Sendable, Codable, CaseIterable {
    case recording, finalised, uploading, uploaded, failed, damaged
}
