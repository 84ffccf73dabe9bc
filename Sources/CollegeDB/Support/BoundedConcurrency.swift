/// Work over many items with at most a fixed number running at once, so that a fan-out over
/// 100,000 shards holds `limit` tasks, not 100,000.
enum BoundedConcurrency {
    /// `body` for every item, at most `limit` (at least 1) at once; the results in the items'
    /// order.
    static func map<Item: Sendable, Result: Sendable>(
        _ items: [Item],
        limit: Int,
        _ body: @escaping @Sendable (Item) async -> Result
    ) async -> [Result] {
        await withTaskGroup(of: (Int, Result).self) { group in
            var results = [Result?](repeating: nil, count: items.count)
            var next = 0
            func startNext() {
                let index = next
                let item = items[index]
                next += 1
                group.addTask { (index, await body(item)) }
            }
            while next < min(max(limit, 1), items.count) { startNext() }
            for await (index, result) in group {
                results[index] = result
                if next < items.count { startNext() }
            }
            // Every index was started and answered once: none is nil.
            return results.compactMap { $0 }
        }
    }
}
