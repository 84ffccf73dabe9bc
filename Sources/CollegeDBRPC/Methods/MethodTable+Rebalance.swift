import CollegeDB
import CollegeDBJSON

extension MethodTable {
    static let planParameter = MethodParameter.required("planId", .integer, "a plan id from generateRebalancePlan")

    /// Analysis, plans and the background job that moves records between shards.
    static let rebalanceMethods: [RPCMethod] = [
        RPCMethod(
            "analyzeShardDistribution",
            "Per shard: records, rows of the owning tables and size; the mean, max/mean and whether that is within the tolerance.",
            parameters: [.optional("tolerance", .number, "max/mean counted as balanced (default 1.1, >= 1)")],
            result: "{shards: [{shard, records, rows, sizeBytes, draining}], mean, maxOverMean, balanced, tolerance}"
        ) { arguments, database in
            let distribution = try await database.analyzeShardDistribution(
                tolerance: try number(arguments["tolerance"], name: "tolerance") ?? 1.1
            )
            return .object([
                (
                    "shards",
                    .array(
                        distribution.shards.map { shard in
                            .object([
                                ("shard", .string(shard.shard)),
                                ("records", .integer(shard.records)),
                                ("rows", shard.rows.map(JSONValue.integer) ?? .null),
                                ("sizeBytes", shard.sizeBytes.map(JSONValue.integer) ?? .null),
                                ("draining", .bool(shard.draining)),
                            ])
                        }
                    )
                ),
                ("mean", .double(distribution.mean)),
                ("maxOverMean", distribution.maxOverMean.isFinite ? .double(distribution.maxOverMean) : .null),
                ("balanced", .bool(distribution.balanced)),
                ("tolerance", .double(distribution.tolerance)),
            ])
        },
        RPCMethod(
            "generateRebalancePlan",
            "Plans and persists the fewest moves that rebalance the shards, or drain the named ones.",
            parameters: [
                .optional(
                    "options",
                    .object,
                    "{maxMoves, drain: [shard], tolerance}: drained shards lose every record and take no new keys"
                )
            ],
            result:
                "{planId, moves, byPair: [{from, to, records}], createdAt, unmappedRows, conflicts: [{table, column, rows}]}",
            administrative: true
        ) { arguments, database in
            var maxMoves: Int?
            var drain: [String] = []
            var tolerance = 1.1
            if case .object(let members)? = arguments["options"] {
                for (name, value) in members {
                    switch (name, value) {
                    case (_, .null): continue
                    case ("maxMoves", .integer(let count)) where count >= 0: maxMoves = Int(count)
                    case ("maxMoves", _): throw JSONRPCError.invalidParams("options.maxMoves: must be an integer >= 0")
                    case ("tolerance", _): tolerance = try number(value, name: "options.tolerance") ?? tolerance
                    case ("drain", .array(let shards)):
                        drain = try shards.map { shard throws(JSONRPCError) in
                            guard case .string(let name) = shard else {
                                throw .invalidParams("options.drain: must be an array of shard names")
                            }
                            return name
                        }
                    case ("drain", _):
                        throw JSONRPCError.invalidParams("options.drain: must be an array of shard names")
                    default:
                        throw JSONRPCError.invalidParams(
                            "options: unknown member '\(name)' (known: maxMoves, drain, tolerance)"
                        )
                    }
                }
            }
            let summary = try await database.generateRebalancePlan(
                maxMoves: maxMoves,
                drain: drain,
                tolerance: tolerance
            )
            return .object([
                ("planId", .integer(summary.planID)),
                ("moves", .integer(Int64(summary.moves))),
                (
                    "byPair",
                    .array(
                        summary.byPair.map {
                            .object([
                                ("from", .string($0.from)), ("to", .string($0.to)),
                                ("records", .integer(Int64($0.records))),
                            ])
                        }
                    )
                ),
                ("createdAt", .integer(summary.createdAt)),
                ("unmappedRows", .integer(Int64(summary.unmappedRows))),
                ("conflicts", summary.conflicts.map(keyConflicts) ?? .null),
            ])
        },
        RPCMethod(
            "listRebalanceMoves",
            "One page of a plan's moves, in record order.",
            parameters: [
                planParameter,
                .optional("limit", .integer, "moves per page (default 100, at most 10,000)"),
                .optional("cursor", .string, "the cursor of the previous page"),
            ],
            result: "{moves: [{record, key, from, to, state, note?}], cursor}: cursor is null after the last page"
        ) { arguments, database in
            let page = try await database.listRebalanceMoves(
                planID: arguments.integer("planId")!,
                limit: Int(arguments.integer("limit") ?? 100),
                cursor: arguments.string("cursor")
            )
            return .object([
                (
                    "moves",
                    .array(
                        page.moves.map { move in
                            var members: [(String, JSONValue)] = [
                                ("record", .integer(move.record)),
                                ("key", move.key.map(JSONValue.string) ?? .null),
                                ("from", .string(move.from)), ("to", .string(move.to)), ("state", .string(move.state)),
                            ]
                            if let note = move.note { members.append(("note", .string(note))) }
                            return .object(members)
                        }
                    )
                ),
                ("cursor", page.cursor.map(JSONValue.string) ?? .null),
            ])
        },
        RPCMethod(
            "executeRebalance",
            "Starts running a plan in the background and returns at once with its status.",
            parameters: [
                planParameter,
                .optional(
                    "options",
                    .object,
                    "{dryRun, rowsPerSecond}: dryRun changes nothing and says what would move; rowsPerSecond throttles"
                ),
            ],
            result:
                "the status, as getRebalanceStatus; with dryRun also dryRun: {records, rows, skipped, conflicts} and "
                + "conflicts: [{table, column, rows}] (rows whose primary key is taken on the target)",
            administrative: true
        ) { arguments, database in
            let planID = arguments.integer("planId")!
            var dryRun = false
            var throttle: Double?
            if case .object(let members)? = arguments["options"] {
                for (name, value) in members {
                    switch (name, value) {
                    case (_, .null): continue
                    case ("dryRun", .bool(let flag)): dryRun = flag
                    case ("dryRun", _): throw JSONRPCError.invalidParams("options.dryRun: must be boolean")
                    case ("rowsPerSecond", _): throttle = try number(value, name: "options.rowsPerSecond")
                    default:
                        throw JSONRPCError.invalidParams(
                            "options: unknown member '\(name)' (known: dryRun, rowsPerSecond)"
                        )
                    }
                }
            }
            guard dryRun else {
                return status(try await database.executeRebalance(planID: planID, rowsPerSecond: throttle))
            }
            let preview = try await database.rebalanceDryRun(planID: planID)
            guard case .object(var members) = status(try await database.rebalanceStatus(planID: planID)) else {
                return .null
            }
            let conflicts = keyConflicts(preview.conflicts)
            members.append(
                (
                    "dryRun",
                    .object([
                        ("records", .integer(Int64(preview.records))), ("rows", .integer(Int64(preview.rows))),
                        ("skipped", .integer(Int64(preview.skipped))), ("conflicts", conflicts),
                    ])
                )
            )
            members.append(("conflicts", conflicts))
            return .object(members)
        },
        RPCMethod(
            "getRebalanceStatus",
            "A plan's progress: state, records and rows moved, rate, errors and an ETA.",
            parameters: [.optional("planId", .integer, "a plan id; default: the newest plan")],
            result:
                "{planId, state, records, recordsMoved, rowsMoved, skipped, rowsPerSecond, etaSeconds, throttle, errors} or null"
        ) { arguments, database in
            status(try await database.rebalanceStatus(planID: arguments.integer("planId")))
        },
        RPCMethod(
            "cancelRebalance",
            "Stops a plan after the batches under way, every record whole on one shard; its drained shards take keys again.",
            parameters: [planParameter],
            result: "the status, as getRebalanceStatus",
            administrative: true
        ) { arguments, database in
            status(try await database.cancelRebalance(planID: arguments.integer("planId")!))
        },
    ]

    /// A plan's status on the wire, or null.
    static func status(_ status: RebalanceStatus?) -> JSONValue {
        guard let status else { return .null }
        return .object([
            ("planId", .integer(status.planID)),
            ("state", .string(status.state.rawValue)),
            ("records", .integer(Int64(status.records))),
            ("recordsMoved", .integer(Int64(status.recordsMoved))),
            ("rowsMoved", .integer(Int64(status.rowsMoved))),
            ("skipped", .integer(Int64(status.skipped))),
            ("rowsPerSecond", .double(status.rowsPerSecond.rounded())),
            ("etaSeconds", status.etaSeconds.map { .double($0.rounded()) } ?? .null),
            ("throttle", status.throttle.map(JSONValue.double) ?? .null),
            ("errors", .array(status.errors.map(JSONValue.string))),
            ("automatic", .bool(status.automatic)),
        ])
    }

    /// A number parameter (integer or not), or nil when absent.
    static func number(_ value: JSONValue?, name: String) throws(JSONRPCError) -> Double? {
        switch value {
        case nil, .null?: return nil
        case .integer?, .double?, .number?: return value?.doubleValue
        default: throw .invalidParams("\(name): must be a number")
        }
    }

    /// Rows whose primary keys are taken on their targets, as `[{table, column, rows}]`.
    private static func keyConflicts(_ conflicts: [RebalanceDryRun.KeyConflict]) -> JSONValue {
        .array(
            conflicts.map { conflict in
                .object([
                    ("table", .string(conflict.table)), ("column", .string(conflict.column)),
                    ("rows", .integer(Int64(conflict.rows))),
                ])
            }
        )
    }
}
