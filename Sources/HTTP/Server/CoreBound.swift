import Glibc

/// Carries a reference to a core-confined object through a `@Sendable` closure that will run
/// back on the same core (a mailbox round trip). Reading `value` anywhere else traps.
///
/// `@unchecked Sendable` is sound because the reference is only ever dereferenced through
/// `value`, which checks that the calling thread is the one that created the box — the
/// object is never touched from another thread, it only travels as an opaque pointer.
public struct CoreBound<Object: AnyObject>: @unchecked Sendable {
    private let object: Object
    private let thread: pthread_t

    public init(_ object: Object) {
        self.object = object
        self.thread = pthread_self()
    }

    /// The object, when called on its own core's thread; nil elsewhere (and a debug trap).
    public var value: Object? {
        guard pthread_equal(pthread_self(), thread) != 0 else {
            assertionFailure("CoreBound dereferenced on another thread")
            return nil
        }
        return object
    }
}
