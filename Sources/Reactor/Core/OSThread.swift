import CShim
import Glibc

/// A plain pthread (cores must not run on Swift's cooperative pool: they block in the
/// backend wait).
public struct OSThread: Sendable {
    private let id: pthread_t

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread.
    public static func spawn(_ body: @escaping @Sendable () -> Void) throws(ReactorError) -> OSThread {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if r != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw .system(call: "pthread_create", errno: r)
        }
        return OSThread(id: tid)
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(id, nil)
    }

    /// Pins the calling thread to `cpu`; false if the kernel refused.
    @discardableResult
    public static func pinCurrent(to cpu: Int) -> Bool {
        lsfu_pin_current_thread(Int32(cpu)) == 0
    }

    /// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts after, so
    /// that only the signalfd of `ReactorGroup(handleSignals:)` receives them: call before
    /// starting any helper thread (recording writer, uploads).
    public static func blockStopSignals() { lsfu_block_signals() }

    /// CPUs this process may run on.
    public static var cpuCount: Int { Int(lsfu_cpu_count()) }
}
