import CHiredis

/// One Redis reply as a Swift value, copied out of hiredis's `redisReply` within `Limits`:
/// every reply the directory reads is bounded in bytes, elements and nesting, whatever is
/// stored in Redis.
public indirect enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    case error(String)

    /// The bounds of one reply.
    public struct Limits: Sendable, Equatable {
        /// Bytes of all strings together.
        public var maxBytes: Int
        /// Elements of all arrays together.
        public var maxElements: Int
        /// Arrays within arrays.
        public var maxDepth: Int

        public init(maxBytes: Int = 256 * 1024, maxElements: Int = 8192, maxDepth: Int = 3) {
            self.maxBytes = maxBytes
            self.maxElements = maxElements
            self.maxDepth = maxDepth
        }
    }

    /// A bulk or status string as UTF-8 text (nil otherwise, or when not UTF-8).
    public var text: String? {
        switch self {
        case .string(let bytes): String(validating: bytes, as: UTF8.self)
        case .status(let s): s
        default: nil
        }
    }

    public var integer: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }

    public var elements: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Copies `reply` (not freed here) into a value; throws `.replyTooLarge` past `limits`.
    static func copy(_ reply: UnsafePointer<redisReply>, limits: Limits) throws(RedisError) -> RedisValue {
        var budget = (bytes: limits.maxBytes, elements: limits.maxElements)
        return try copy(reply, depth: 0, limits: limits, budget: &budget)
    }

    private static func copy(
        _ reply: UnsafePointer<redisReply>, depth: Int, limits: Limits, budget: inout (bytes: Int, elements: Int)
    ) throws(RedisError) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
            let length = Int(r.len)
            guard length <= budget.bytes else { throw .replyTooLarge("a string of \(length) bytes") }
            budget.bytes -= length
            let bytes = r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
            if r.type == REDIS_REPLY_STRING { return .string(bytes) }
            let text = String(decoding: bytes, as: UTF8.self)
            return r.type == REDIS_REPLY_STATUS ? .status(text) : .error(text)
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            guard depth < limits.maxDepth else { throw .replyTooLarge("arrays nested deeper than \(limits.maxDepth)") }
            let count = Int(r.elements)
            guard count <= budget.elements else { throw .replyTooLarge("an array of \(count) elements") }
            budget.elements -= count
            var items: [RedisValue] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                guard let element = r.element?[i] else { throw .badReply("missing array element") }
                items.append(try copy(element, depth: depth + 1, limits: limits, budget: &budget))
            }
            return .array(items)
        default:
            throw .badReply("reply type \(r.type)")
        }
    }

    /// Parses RESP `bytes` with hiredis's reader (no socket) into values: what a connection
    /// does with what it receives, for tests.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(RedisError) -> [RedisValue] {
        guard let reader = redisReaderCreate() else { throw .io("out of memory") }
        defer { redisReaderFree(reader) }
        let fed = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        guard fed == REDIS_OK else { throw .badReply("reader refused input") }
        var values: [RedisValue] = []
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw .badReply("protocol error") }
            guard let raw else { return values }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            defer { freeReplyObject(raw) }
            values.append(try copy(reply, limits: limits))
        }
    }
}
