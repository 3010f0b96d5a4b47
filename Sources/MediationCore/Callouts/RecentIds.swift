import Synchronization

/// A bounded set of recent ids: the oldest is forgotten when a new one does not fit.
struct RecentIds {
    private var order: [String] = []
    private var head = 0
    private var members: Set<String> = []

    private(set) var capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Keeps the newest ids that fit the new capacity.
    mutating func resize(to newCapacity: Int) {
        let newCapacity = max(1, newCapacity)
        guard newCapacity != capacity else { return }
        let newestFirst = Array((order[head...] + order[..<head]).reversed())
        order = []
        head = 0
        members = []
        capacity = newCapacity
        for id in newestFirst.prefix(newCapacity).reversed() { insert(id) }
    }

    func contains(_ id: String) -> Bool { members.contains(id) }

    /// The ids remembered, oldest first (what `--storage.path` keeps).
    var oldestFirst: [String] { Array(order[head...] + order[..<head]) }

    mutating func insert(_ id: String) {
        guard !members.contains(id) else { return }
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[head])
            order[head] = id
            head = (head + 1) % capacity
        }
        members.insert(id)
    }
}
