import Glibc
import HTTPTypes
import SFU
import Storage

/// `GET /api/records` (the catalog's files, filtered as `/api/rooms` filters rooms) and
/// `GET`/`HEAD /api/records/{name}` (one file, with a single `Range`), for the recordings
/// `RECORD_DIR` holds. Without recording (`catalog` nil) the list is empty and every name 404.
public struct RecordingRoutes {
    /// The recordings; nil when `RECORD_ENABLED` is off.
    public let catalog: RecordingCatalog?
    /// Decides which rooms' recordings a listing shows (`Authenticator.mayList`).
    public let authenticator: Authenticator

    /// Entries one listing returns at most, newest first (`"truncated": true` when more exist;
    /// `?room=` narrows the list).
    public static let listLimit = 10_000

    public init(catalog: RecordingCatalog?, authenticator: Authenticator) {
        self.catalog = catalog
        self.authenticator = authenticator
    }

    public func register(on router: Router) {
        let catalog = self.catalog
        let authenticator = self.authenticator
        // As `/api/rooms`: AUTH_TOKEN or a JWT when configured (or ADMIN_TOKEN), else open; the
        // recordings of a room with a ROOM_TOKENS entry are shown to its token and to admins.
        router.add(.get, "/api/records", policy: RoutePolicy(auth: .global, rateLimited: true)) { request, responder in
            responder.respond(
                Self.list(catalog: catalog, authenticator: authenticator, request: request))
        }
        // The file: the admin token, or whatever opens its room (`AuthRequirement.roomResource`).
        let download = RoutePolicy(
            auth: .roomResource(parameter: "name"), rateLimited: true,
            roomOf: { name in
                guard let valid = try? RecordingName(validating: name) else { return nil }
                return catalog?.entry(named: valid.value)?.room
            })
        router.add(.get, "/api/records/:name", policy: download) { request, responder in
            responder.respond(Self.file(catalog: catalog, request: request))
        }
    }

    // MARK: - Listing

    static func list(catalog: RecordingCatalog?, authenticator: Authenticator, request: HTTPServerRequest) -> HTTPServerResponse {
        var room: String?
        if let value = Self.queryValue("room", in: request.query) {
            do {
                room = try RoomName(validating: value).value
            } catch {
                return .error(.badRequest, error.description)
            }
        }
        let identity = request.identity ?? AuthIdentity(credential: .open)
        var shown: [RecordingEntry] = []
        var truncated = false
        for entry in catalog?.entries() ?? [] {
            if let room, entry.room != room { continue }
            guard authenticator.mayList(room: entry.room, to: identity) else { continue }
            guard shown.count < listLimit else {
                truncated = true
                break
            }
            shown.append(entry)
        }
        var response = HTTPServerResponse.json(.ok, RecordingListJSON.text(shown, truncated: truncated))
        response.head.headerFields[.cacheControl] = "no-store"
        return response
    }

    /// The percent-decoded value of `name` in a query (`a=1&room=x`), if present.
    static func queryValue(_ name: String, in query: Substring?) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == Substring(name) else { continue }
            return parts.count == 2 ? PercentDecoding.decode(parts[1]) ?? "" : ""
        }
        return nil
    }

    // MARK: - One file

    /// The file of a catalog entry, or part of it. A file still `recording` is served as it is
    /// at this moment (its size when opened; later bytes are not part of this answer).
    static func file(catalog: RecordingCatalog?, request: HTTPServerRequest) -> HTTPServerResponse {
        let name: RecordingName
        do {
            name = try RecordingName(validating: request.pathParameters["name"] ?? "")
        } catch {
            return .error(.badRequest, error.description)
        }
        guard let catalog, let entry = catalog.entry(named: name.value) else {
            return .error(.notFound, "no such recording")
        }
        if entry.localFileDeleted {
            return .error(.gone, "the local file was deleted after upload" + (entry.objectKey.map { " (object \($0))" } ?? ""))
        }
        // open + fstat on the core: two short system calls on a local folder. O_NOFOLLOW: a
        // link put in RECORD_DIR is not followed out of it.
        let fd = open(catalog.directory + "/" + name.value, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            return errno == ENOENT ? .error(.notFound, "the recording's file is missing") : .error(.internalServerError, "cannot open the recording")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return .error(.internalServerError, "the recording is not a regular file")
        }
        let size = Int(st.st_size)
        // If-Range needs a validator this answer does not give: such a request gets it all.
        let rangeField = request[field: .ifRange] == nil ? request[field: .range] : nil
        let range = ByteRange.resolve(rangeField, size: size)
        var fields = HTTPFields()
        fields[.acceptRanges] = "bytes"
        fields[.cacheControl] = "no-store"
        if let contentRange = range.contentRange(size: size) { fields[.contentRange] = contentRange }
        switch range {
        case .unsatisfiable:
            close(fd)
            var response = HTTPServerResponse.error(.rangeNotSatisfiable, "the range is outside the file's \(size) bytes")
            for field in fields { response.head.headerFields[field.name] = field.value }
            return response
        case .whole, .partial:
            fields[.contentType] = entry.contentType
            // The name passed `RecordingName`: no quote or backslash can end the value early.
            fields[.contentDisposition] = "attachment; filename=\"\(name.value)\""
            fields[.xContentTypeOptions] = "nosniff"
            var response = HTTPServerResponse(status: range == .whole ? .ok : .partialContent, headerFields: fields)
            if case .partial(let offset, let length) = range {
                response.file = HTTPFileBody(adopting: fd, offset: offset, length: length)
            } else {
                response.file = HTTPFileBody(adopting: fd, offset: 0, length: size)
            }
            return response
        }
    }
}
