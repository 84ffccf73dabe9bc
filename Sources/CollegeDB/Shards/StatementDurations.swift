/// How long a shard's statements took, counted in fixed buckets: a Prometheus histogram kept by
/// the shard itself, so that a shard costs no metrics series until something reads it, and the
/// daemon can publish the busiest shards' histograms only.
package struct StatementDurations: Sendable, Hashable {
    /// The buckets' upper bounds, from 25 µs (a short read answered on the event loop) to 10 s.
    package static let bounds: [Duration] = [
        .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5), .seconds(10),
    ]

    /// Statements at or under each bound, not cumulative; one more for those over the last.
    package private(set) var counts = [UInt64](repeating: 0, count: bounds.count + 1)
    /// Every statement's duration added up, in seconds.
    package private(set) var sumSeconds: Double = 0
    /// Statements counted.
    package var count: UInt64 { counts.reduce(0, &+) }

    package init() {}

    /// Counts one statement that took `duration`.
    mutating func record(_ duration: Duration) {
        let index = Self.bounds.firstIndex { duration <= $0 } ?? Self.bounds.count
        counts[index] &+= 1
        sumSeconds += Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// The counts of this and `other` together.
    package mutating func add(_ other: StatementDurations) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        sumSeconds += other.sumSeconds
    }
}
