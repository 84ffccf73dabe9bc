/// Whether a plan whose moves have all run is `done`, or `failed` and why. It is done only
/// when every record whose move ran could be copied (a record that changed, moved elsewhere or
/// vanished since planning is skipped without failing the plan) and, for a drain, when its
/// drained shards hold no rows of the owning tables any more, counted on the shards.
struct RebalanceVerdict: Sendable {
    /// The start of the reason a move is skipped with when its rows could not be copied.
    static let copyFailure = "its rows could not be copied: "

    /// The reasons the plan failed, each with the records or rows it concerns; empty when it is
    /// done.
    let failures: [String]

    var state: RebalanceState { failures.isEmpty ? .done : .failed }

    /// Reads the plan's skipped moves and the rows left on its drained shards (`residue`).
    /// Blocks on the store.
    init(planID: Int64, store: any RebalancePlanCatalog, residue: [(shard: String, rows: Int64)]) throws {
        let copyFailures = try store.skipNotes(ofPlan: planID, startingWith: Self.copyFailure)
        failures =
            copyFailures.map { "\($0.moves) record(s) could not move: \($0.note.dropFirst(Self.copyFailure.count))" }
            + residue.map { "drained shard '\($0.shard)' still holds \($0.rows) row(s) of owning tables" }
    }
}
