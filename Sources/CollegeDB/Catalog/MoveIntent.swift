/// A move of one record's rows between shards, as the catalog keeps it: written before the
/// move touches a shard, advanced when the mapping flips, deleted when the move is done. It
/// holds the record's id, never a key.
package struct MoveIntent: Sendable, Hashable {
    /// How far the move got: rows being copied, or the mapping already pointing at the target.
    package enum State: String, Sendable { case copying, flipped }
    package var id: Int64
    package var recordID: Int64
    package var from: String
    package var to: String
    package var plan: MovePlan
    package var state: State
}
