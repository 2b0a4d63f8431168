import Glibc

/// The process's open-file limit. Each HTTP connection is a descriptor, and the usual soft
/// limit (1024) is far below `HTTP_MAX_CONNECTIONS_PER_CORE` (10 000 by default): the server
/// raises its soft limit to the hard one at start, as Go's runtime does for the server it
/// replaces, and says so when even that is short of what its limits allow.
enum OpenFileLimit {
    /// Raises the soft limit to the hard limit; returns the soft limit in force afterwards.
    static func raiseToHard() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
