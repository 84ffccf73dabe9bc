import Synchronization

/// The ids of `collegedb_id()`: 64-bit integers unique across every shard of a catalog (and
/// every daemon sharing it), so that rows keyed by them move between shards without colliding,
/// which per-shard `INTEGER PRIMARY KEY` numbers cannot.
///
/// The layout: bit 63 is 0 (ids are positive); bits 62 to 47 are a node (16 bits: 65,536
/// nodes); bits 46 to 0 are a counter (47 bits: 140 trillion ids a node). Two ids are equal
/// only if both their node and their counter are. No node is 0, so every id is at least 2^47,
/// far above the numbers a per-shard sequence has given. A SQLite shard's ids come from the
/// daemon (node 1: SQLite shards live with a private catalog, so one daemon serves them), which
/// takes its counters from blocks of ``blockSize`` reserved durably in the catalog before any id
/// of a block is given out: a restart or a crash skips what was left of a block and never
/// repeats one. A PostgreSQL shard's ids come from the shard itself (a function and a sequence
/// there), its node being the one the catalog gave the shard (2 and up). No clock is read, so no clock
/// can step back into ids already given; ids grow with time on each node but are not ordered
/// across nodes. The rate has no limit but the catalog's: one durable write per 10,000 ids.
package final class ClusterIdentifiers: Sendable {
    /// Bits of the counter: 47.
    package static let counterBits: Int64 = 47
    /// The counter's end (exclusive): 2^47.
    package static let counterLimit: Int64 = 1 << counterBits
    /// Counters reserved at a time: 10,000.
    package static let blockSize: Int64 = 10_000
    /// The node of the ids the daemon gives its SQLite shards.
    package static let daemonNode: Int64 = 1
    /// The first node the catalog gives a PostgreSQL shard.
    package static let firstShardNode: Int64 = 2
    /// The greatest node: 2^16 - 1.
    package static let lastNode: Int64 = (1 << 16) - 1

    /// Reserves `count` counters durably and returns the first.
    private let reserve: @Sendable (Int64) throws -> Int64
    private let block = Mutex<(next: Int64, end: Int64)>((0, 0))

    package init(reserve: @escaping @Sendable (Int64) throws -> Int64) { self.reserve = reserve }

    /// The node a catalog gives the next shard, after the highest it gave (nil for none); the
    /// catalog's number is not trusted to be in range.
    /// - Throws: `RESULT_OUT_OF_RANGE` when every node has been given.
    package static func node(after highest: Int64?) throws -> Int64 {
        let highest = highest ?? 0
        guard highest < lastNode else {
            throw CollegeDBError(.resultOutOfRange, "collegedb_id(): every node has been given to a shard")
        }
        return max(highest + 1, firstShardNode)
    }

    /// The id of `counter` on `node`.
    package static func id(node: Int64, counter: Int64) -> Int64 { node << counterBits | counter }

    /// The next id of the daemon's node.
    /// - Throws: the catalog's error when no block can be reserved; `RESULT_OUT_OF_RANGE` when
    ///   the counter space is spent.
    package func next() throws -> Int64 {
        try block.withLock { block in
            if block.next >= block.end {
                let first = try reserve(Self.blockSize)
                guard first >= 0, first <= Self.counterLimit - Self.blockSize else {
                    throw CollegeDBError(.resultOutOfRange, "collegedb_id(): every id of this node has been given")
                }
                block = (first, first + Self.blockSize)
            }
            defer { block.next += 1 }
            return Self.id(node: Self.daemonNode, counter: block.next)
        }
    }
}
