/// Schema changes across every shard: recorded once in the catalog, applied to every shard by
/// a background job (``SchemaChangeJob``), exactly once per shard (``ShardSchemaLedger``), in
/// the order recorded; a shard registered or opened later gets the changes it lacks before it
/// serves, and a rebalance target before rows move to it.
extension CollegeDB {
    static let schemaChangeJobKind = "schema-change"

    /// Records schema change `name` (`sql`: statements under the policy of `createSchema`) and
    /// starts applying it in the background; returns at once with its status. Calling it again
    /// with the same name and SQL resumes a paused or failed change, retrying only the shards
    /// that lack it. With `canary`, the change stops at `paused` once that many shards have it.
    /// - Throws: `INVALID_PARAMS` for an empty name or SQL, a canary below 1, or a name recorded
    ///   with other SQL.
    public func applySchemaChange(name: String, sql: String, canary: Int? = nil) async throws -> SchemaChangeStatus {
        try SchemaChangeRules.validate(name: name, sql: sql, canary: canary)
        let catalog = self.catalog
        let change = try await BlockingWork.run { try catalog.recordSchemaChange(name: name, sql: sql, canary: canary) }
        logger.notice(
            "schema change recorded",
            metadata: ["change": "\(name)", "canary": "\(canary.map(String.init) ?? "none")"]
        )
        startSchemaChanges()
        return try await status(of: change)
    }

    /// The status of change `name`, or of the latest change when `name` is nil; nil when no
    /// change was ever recorded.
    /// - Throws: `INVALID_PARAMS` for a name never recorded.
    public func schemaChangeStatus(name: String? = nil) async throws -> SchemaChangeStatus? {
        let catalog = self.catalog
        let changes = try await BlockingWork.run { try catalog.schemaChanges() }
        guard let name else {
            guard let latest = changes.last else { return nil }
            return try await status(of: latest)
        }
        guard let change = changes.first(where: { SchemaChangeRules.sameText($0.name, name) }) else {
            throw CollegeDBError.invalidParams("name: no schema change named '\(name)'")
        }
        return try await status(of: change)
    }

    /// Every recorded change, oldest first.
    public func listSchemaChanges() async throws -> [SchemaChange] {
        let catalog = self.catalog
        return try await BlockingWork.run { try catalog.schemaChanges() }
    }

    /// The status of the change being applied now, if one is.
    public func runningSchemaChange() async -> SchemaChangeStatus? {
        guard jobs.runningJob(kind: Self.schemaChangeJobKind) != nil else { return nil }
        let catalog = self.catalog
        // For the status line only: a catalog that does not answer shows no change.
        guard let changes = try? await BlockingWork.run({ try catalog.schemaChanges() }),
            let change = changes.first(where: { $0.state != .done }), change.state == .running
        else { return nil }
        return try? await status(of: change)  // For the status line only, as above.
    }

    /// Starts the job that applies recorded changes, or has the running one look again.
    func startSchemaChanges() {
        let job = SchemaChangeJob(
            catalog: catalog,
            registry: { [coordinator] in coordinator.registry },
            limits: QueryLimits(),
            logger: logger,
            pause: coordinator.locks.movePause
        )
        jobs.startOrRepeat(kind: Self.schemaChangeJobKind, id: 0) { control in await job.run(control) }
    }

    /// Applies to `shard`, in order, every change it lacks that is done or being applied without
    /// a canary, up to the first other one (a paused, failed or canaried change holds later ones
    /// back).
    /// - Throws: the error of a change that fails on the shard.
    func catchUpSchema(of shard: any ShardBackend) async throws {
        let catalog = self.catalog
        try await catchUp(
            shard,
            with: try await BlockingWork.run { try catalog.schemaChanges() },
            includingRunning: true
        )
    }

    /// ``catchUpSchema(of:)`` with the recorded `changes` read already; without
    /// `includingRunning`, only the changes that are done.
    private func catchUp(
        _ shard: any ShardBackend,
        with changes: [SchemaChange],
        includingRunning: Bool
    ) async throws {
        let catalog = self.catalog
        guard !changes.isEmpty else { return }
        let have = try await BlockingWork.run { try catalog.schemaChanges(appliedOn: shard.name) }
        for change in changes {
            let due = change.state == .done || (includingRunning && change.state == .running && change.canary == nil)
            guard due else { return }
            guard !have.contains(change.id) else { continue }
            do {
                try await SchemaChangeJob.apply(
                    change,
                    to: shard,
                    catalog: catalog,
                    limits: QueryLimits(),
                    pause: coordinator.locks.movePause
                )
            } catch {
                throw CollegeDBError(
                    (error as? CollegeDBError)?.code ?? .queryFailed,
                    "shard '\(shard.name)' could not get schema change '\(change.name)': \(SchemaChangeJob.describe(error))"
                )
            }
        }
    }

    /// Brings every shard up to date with the changes that are done when the engine opens,
    /// before it serves, and resumes in the background a change a stop or a crash left running.
    /// Nothing here keeps the daemon from starting: a shard that cannot be brought up to date,
    /// or a catalog whose changes cannot be read, is logged and the daemon serves.
    func catchUpSchemasAtOpen() async {
        let catalog = self.catalog
        let changes: [SchemaChange]
        do {
            changes = try await BlockingWork.run { try catalog.schemaChanges() }
        } catch {
            logger.error("the recorded schema changes cannot be read", metadata: ["error": "\(error)"])
            return
        }
        guard !changes.isEmpty else { return }
        // One read per change rather than one per shard: only the shards the catalog says lack
        // a change that is done are opened to catch up.
        let lacking: Set<String>
        do {
            let names = coordinator.registry.names
            lacking = try await BlockingWork.run {
                var lacking = Set<String>()
                for change in changes.prefix(while: { $0.state == .done }) {
                    let have = try catalog.shards(withSchemaChange: change.id)
                    lacking.formUnion(names.lazy.filter { !have.contains($0) })
                }
                return lacking
            }
        } catch {
            logger.error("the shards' schema changes cannot be read", metadata: ["error": "\(error)"])
            return
        }
        for shard in coordinator.registry.shards where lacking.contains(shard.name) && shard.unavailableReason == nil {
            do {
                try await catchUp(shard, with: changes, includingRunning: false)
            } catch {
                logger.error(
                    "a shard lacks a schema change",
                    metadata: ["shard": "\(shard.name)", "error": "\(error)"]
                )
            }
        }
        if changes.contains(where: { $0.state == .running }) { startSchemaChanges() }
    }

    /// What `getSchemaChangeStatus` says of `change`: the shards known now, and how many of
    /// them have it by the catalog.
    private func status(of change: SchemaChange) async throws -> SchemaChangeStatus {
        let catalog = self.catalog
        let have = try await BlockingWork.run { try catalog.shards(withSchemaChange: change.id) }
        let names = coordinator.registry.names
        let applied = names.filter(have.contains).count
        return SchemaChangeStatus(
            name: change.name,
            state: change.state,
            shards: names.count,
            applied: applied,
            pending: names.count - applied,
            failures: change.failures,
            createdAt: change.createdAt
        )
    }
}
