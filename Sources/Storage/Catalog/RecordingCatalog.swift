import FoundationEssentials
import Glibc
import Synchronization

/// Every recorded file in `RECORD_DIR`, grouped by publication, each publication persisted as
/// its JSON sidecar (`{publication}.json`, replaced atomically on every change of state). The
/// sidecars are the durable record: at start-up the catalog is read back from them, which is
/// how an unfinished recording is found and finalised and a pending upload resumed. Shared by
/// the writer thread, the upload workers and the HTTP cores; the lock is held for in-memory
/// changes only, never across disk I/O by a reader.
public final class RecordingCatalog: Sendable {
    /// One publication: its sidecar's content.
    struct Publication: Codable, Sendable {
        var version = 1
        var publication: String
        var room: String
        var files: [RecordingEntry]
    }

    private struct State {
        var publications: [String: Publication] = [:]
        /// File name → publication.
        var publicationOfFile: [String: String] = [:]
    }

    public let directory: String
    /// A sidecar larger than this is not read (it is not one of ours).
    static let maxSidecarBytes = 1 << 20
    private let state = Mutex(State())
    /// Sidecar writes, one at a time, each with the publication as it is at that moment, so
    /// the file on disk is never older than the last change written.
    private let persisting = Mutex(())

    public init(directory: String) {
        self.directory = directory
    }

    /// Reads the sidecars in `directory`; unreadable ones are reported through `log` and skipped.
    public static func load(directory: String, log: (String) -> Void) -> RecordingCatalog {
        let catalog = RecordingCatalog(directory: directory)
        let decoder = JSONDecoder()
        for name in FileSystem.names(in: directory) where name.hasSuffix(".json") && !name.hasPrefix(".") {
            guard let bytes = FileSystem.read(directory + "/" + name, limit: maxSidecarBytes) else {
                log("cannot read the sidecar \(name)")
                continue
            }
            do {
                let p = try decoder.decode(Publication.self, from: Data(bytes))
                guard p.publication + ".json" == name else {
                    log("the sidecar \(name) names another publication (\(p.publication)); skipped")
                    continue
                }
                catalog.state.withLock { s in
                    s.publications[p.publication] = p
                    for f in p.files { s.publicationOfFile[f.name] = p.publication }
                }
            } catch {
                log("the sidecar \(name) is not valid: \(error)")
            }
        }
        return catalog
    }

    /// Every file, newest first.
    public func entries() -> [RecordingEntry] {
        let all = state.withLock { s in s.publications.values.flatMap(\.files) }
        return all.sorted { ($0.startedAtUnixMillis, $0.name) > ($1.startedAtUnixMillis, $1.name) }
    }

    public func entry(named name: String) -> RecordingEntry? {
        state.withLock { s in
            guard let p = s.publicationOfFile[name] else { return nil }
            return s.publications[p]?.files.first { $0.name == name }
        }
    }

    /// Whether a file of that name is known (the writer picks a free name with it).
    public func contains(_ name: String) -> Bool { state.withLock { $0.publicationOfFile[name] != nil } }

    /// Adds a new file (and its publication on its first file), and writes the sidecar.
    public func add(_ entry: RecordingEntry) {
        persist(entry.publication) { s in
            s.publications[entry.publication, default: Publication(publication: entry.publication, room: entry.room, files: [])]
                .files.append(entry)
            s.publicationOfFile[entry.name] = entry.publication
        }
    }

    /// Forgets a file (its publication's sidecar is rewritten without it).
    public func remove(_ name: String) {
        persistChange { s in
            guard let p = s.publicationOfFile.removeValue(forKey: name) else { return nil }
            s.publications[p]?.files.removeAll { $0.name == name }
            return p
        }
    }

    /// Changes a file's entry; with `persist` (a change of state) the sidecar is rewritten,
    /// without it (the growing size while recording) only the listing sees it. Returns the
    /// entry as changed, nil for an unknown name.
    @discardableResult
    public func update(_ name: String, persist: Bool = true, _ change: (inout RecordingEntry) -> Void) -> RecordingEntry? {
        var result: RecordingEntry?
        func apply(_ s: inout State) -> String? {
            guard let p = s.publicationOfFile[name], let i = s.publications[p]?.files.firstIndex(where: { $0.name == name })
            else { return nil }
            change(&s.publications[p]!.files[i])
            result = s.publications[p]!.files[i]
            return p
        }
        if persist {
            persistChange { apply(&$0) }
        } else {
            _ = state.withLock { apply(&$0) }
        }
        return result
    }

    private func persist(_ publication: String, _ change: (inout State) -> Void) {
        persistChange { s in
            change(&s)
            return publication
        }
    }

    /// Applies `change` and writes the sidecar of the publication it names, atomically
    /// (temporary file, then rename), in the order of the changes.
    private func persistChange(_ change: (inout State) -> String?) {
        persisting.withLock { _ in
            let snapshot: Publication? = state.withLock { s in change(&s).flatMap { s.publications[$0] } }
            guard let snapshot else { return }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            guard let data = try? encoder.encode(snapshot) else { return }
            _ = FileSystem.replace(directory + "/" + snapshot.publication + ".json", with: Array(data))
        }
    }
}
