/// The loop's channels by token index, with a free list.
struct ChannelRegistry {
    private var entries: [Channel?] = []
    private var generations: [UInt16] = []
    private var free: [Int] = []
    private(set) var count = 0

    mutating func add(_ c: Channel) -> UInt64 {
        let i: Int
        if let f = free.popLast() {
            i = f
            entries[i] = c
        } else {
            i = entries.count
            precondition(i < 0xFF_FFFF, "too many channels on one loop")
            entries.append(c)
            generations.append(0)
        }
        count += 1
        return Token.make(index: i, generation: generations[i])
    }

    func lookup(_ token: UInt64) -> Channel? {
        let i = Token.index(token)
        guard i < entries.count, generations[i] == Token.generation(token) else { return nil }
        return entries[i]
    }

    mutating func remove(_ token: UInt64) {
        let i = Token.index(token)
        guard i < entries.count, generations[i] == Token.generation(token), entries[i] != nil else { return }
        entries[i] = nil
        generations[i] &+= 1
        free.append(i)
        count -= 1
    }

    /// Every live channel (for shutdown).
    var all: [Channel] { entries.compactMap { $0 } }
}
