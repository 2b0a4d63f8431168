import Testing
@testable import Reactor

/// An actor pinned to one core.
actor CoreCounter {
    nonisolated let executor: EventLoopExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    var value = 0
    init(executor: EventLoopExecutor) { self.executor = executor }

    /// Increments and reports which core ran it.
    func increment() -> Int {
        value += 1
        return EventLoop.current?.index ?? -1
    }
}

@Suite("Event loop executor", .serialized)
struct EventLoopExecutorTests {
    @Test("an actor on a core's executor runs its methods on that core", arguments: BackendKind.available)
    func actorRunsOnCore(backend: BackendKind) async throws {
        let group = try ReactorGroup(cores: 2, backend: backend)
        defer { group.stop(); group.wait() }
        let counter = CoreCounter(executor: group.handles[1].executor)
        for _ in 0..<100 { #expect(await counter.increment() == 1) }
        #expect(await counter.value == 100)
    }

    @Test("assumeIsolated works inside a mailbox job on the actor's core")
    func assumeIsolatedOnCore() async throws {
        let group = try ReactorGroup(cores: 1, backend: .epoll)
        defer { group.stop(); group.wait() }
        let counter = CoreCounter(executor: group.handles[0].executor)
        let core: Int = await withCheckedContinuation { cont in
            group.handles[0].execute {
                let core = counter.assumeIsolated { $0.increment() }
                cont.resume(returning: core)
            }
        }
        #expect(core == 0)
        #expect(!group.handles[0].executor.isCurrent)
    }

    @Test("a task with the core's executor preference runs there")
    func taskPreference() async throws {
        let group = try ReactorGroup(cores: 2, backend: .epoll)
        defer { group.stop(); group.wait() }
        let core = await Task(executorPreference: group.handles[1].executor) { EventLoop.current?.index ?? -1 }.value
        #expect(core == 1)
    }
}
