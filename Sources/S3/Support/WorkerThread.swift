import Glibc

/// A plain pthread for an upload worker: uploads block in libcurl for seconds at a time, so
/// they must run neither on a media core nor on Swift's cooperative pool.
struct WorkerThread: Sendable {
    private let id: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; nil (with errno's value) if pthread_create failed.
    static func spawn(_ body: @escaping @Sendable () -> Void) -> Result<WorkerThread, S3Error> {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard r == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return .failure(.system(call: "pthread_create", errno: r))
        }
        return .success(WorkerThread(id: tid))
    }

    /// Waits for the thread to end.
    func join() {
        pthread_join(id, nil)
    }
}
