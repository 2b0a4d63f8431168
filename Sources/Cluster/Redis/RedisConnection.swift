import CHiredis
import Glibc
import Reactor

/// One blocking hiredis connection, used by the directory thread only (never a core): every
/// connect and every command is bounded by `timeout` (SO_RCVTIMEO/SO_SNDTIMEO through
/// `redisSetTimeout`); a connection that failed once is dropped, not reused.
/// Not `Sendable`: it lives on the directory thread.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    let limits: RedisValue.Limits

    private init(context: UnsafeMutablePointer<redisContext>, limits: RedisValue.Limits) {
        self.context = context
        self.limits = limits
    }

    deinit { redisFree(context) }

    /// Connects, authenticates (`AUTH`) and selects the database, each within `timeout`.
    static func open(_ endpoint: RedisEndpoint, timeout: Duration, limits: RedisValue.Limits) throws(RedisError) -> RedisConnection {
        let tv = timeval(tv_sec: Int(timeout.nanoseconds / 1_000_000_000), tv_usec: Int(timeout.nanoseconds % 1_000_000_000 / 1000))
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), tv) else {
            throw .io("out of memory")
        }
        if lsfu_redis_err(context) != 0 {
            let reason = String(cString: lsfu_redis_errstr(context))
            redisFree(context)
            throw .io(reason)
        }
        let connection = RedisConnection(context: context, limits: limits)
        guard redisSetTimeout(context, tv) == REDIS_OK else { throw .io("cannot set the socket timeout") }
        if let password = endpoint.password {
            let auth = endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            _ = try connection.command(auth).checked()
        }
        if endpoint.database != 0 {
            _ = try connection.command(["SELECT", "\(endpoint.database)"]).checked()
        }
        return connection
    }

    /// Sends one command and waits (at most the timeout) for its reply. An error reply is
    /// returned as `.error`, not thrown; `checked()` turns it into `RedisError.server`.
    func command(_ arguments: [String]) throws(RedisError) -> RedisValue {
        let bytes = arguments.map { Array($0.utf8) }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = bytes.map(\.count)
        pointers.reserveCapacity(bytes.count)
        // Each argument's bytes stay alive for the call: hiredis copies them into its buffer.
        let storage = bytes.map { b -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(b.count, 1))
            b.withUnsafeBufferPointer { src in
                guard let base = src.baseAddress, !src.isEmpty else { return }
                base.withMemoryRebound(to: CChar.self, capacity: src.count) { p.update(from: $0, count: src.count) }
            }
            return p
        }
        defer { for p in storage { p.deallocate() } }
        for p in storage { pointers.append(UnsafePointer(p)) }
        let reply = pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeMutableBufferPointer { lens in
                lsfu_redis_command_argv(context, Int32(argv.count), argv.baseAddress, lens.baseAddress)
            }
        }
        guard let reply else {
            let reason = lsfu_redis_err(context) != 0 ? String(cString: lsfu_redis_errstr(context)) : "no reply"
            throw .io(reason)
        }
        defer { freeReplyObject(reply) }
        return try RedisValue.copy(reply, limits: limits)
    }
}

extension RedisValue {
    /// Self, unless it is an error reply.
    func checked() throws(RedisError) -> RedisValue {
        if case .error(let message) = self { throw .server(message) }
        return self
    }
}
