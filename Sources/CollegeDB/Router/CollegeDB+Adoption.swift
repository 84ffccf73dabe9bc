import Foundation
import GRDB

/// Drop-in adoption of existing SQLite databases: every existing row of a shard's owned tables
/// becomes reachable by its key, at start (before serving) or online (as a job, while serving),
/// recorded in the mapping store so that it runs once, and never writing into the file.
/// Whatever counts or scans a user's table (validation, paging keys, the checks for rows) runs
/// on the threads for long work: any client may call those, and a table may be large.
extension CollegeDB {
    static let adoptionJobKind = "adoption"

    /// The user's tables of `shard`.
    public func listTables(shard: String) async throws -> [String] {
        let database = try coordinator.registry.database(named: shard).adoptableShard()
        return try await BlockingWork.run { try database.userTables() }
    }

    /// Whether `table` of `shard` can be sharded by key, and exactly why not. The key column
    /// is `primaryKeyColumn` when given, else the table's `--owner` column, else its primary key
    /// when that is one column named `id`.
    public func validateTableForSharding(
        shard: String,
        table: String,
        primaryKeyColumn: String? = nil
    ) async throws -> TableValidation {
        let database = try coordinator.registry.database(named: shard).adoptableShard()
        let ownership = await coordinator.configuration.ownership
        return try await BlockingWork.runLong {
            try database.validate(table: table, keyColumn: primaryKeyColumn, ownership: ownership)
        }
    }

    /// One page of the distinct keys of `table`, in the key column's order, after `cursor`
    /// (from an earlier page); complete over any number of rows.
    /// - Throws: -32602 when the table cannot be sharded (with the reasons).
    public func discoverExistingPrimaryKeys(
        shard: String,
        table: String,
        primaryKeyColumn: String? = nil,
        limit: Int = 1000,
        cursor: String? = nil
    ) async throws -> (keys: [String], cursor: String?) {
        guard limit >= 1 else { throw CollegeDBError.invalidParams("limit: must be >= 1") }
        let after = try cursor.map(Self.decodeKeyCursor)
        let validation = try await validateTableForSharding(
            shard: shard,
            table: table,
            primaryKeyColumn: primaryKeyColumn
        )
        guard let column = validation.keyColumn, validation.rowCount != nil else {
            // The issue is with the key column when one was named and the table exists.
            let field = primaryKeyColumn != nil && validation.rowCount != nil ? "primaryKeyColumn" : "table"
            throw CollegeDBError.invalidParams("\(field): \(validation.issues.joined(separator: "; "))")
        }
        let database = try coordinator.registry.database(named: shard).adoptableShard()
        let pageSize = min(limit, 10_000)
        return try await BlockingWork.runLong {
            var keys: [String] = []
            var last: DatabaseValue?
            var more = false
            try database.forEachKey(of: AdoptedTable(table: table, column: column), after: after) { text, value in
                guard keys.count < pageSize else {
                    more = true
                    return false
                }
                keys.append(text)
                last = value
                return true
            }
            return (keys, more ? last.map(Self.encodeKeyCursor) : nil)
        }
    }

    /// Maps every existing key of `shard`'s owned tables (or of `tables`) to it, as a job while
    /// serving; returns when it is done. Until then, keys without a mapping are read from this
    /// shard and allocated to it. With `dryRun`, nothing changes and the answer says what would
    /// be mapped and the conflicts. Tables that cannot be sharded are skipped and explained.
    /// - Throws: `MIGRATION_IN_PROGRESS` while another adoption runs.
    public func integrateExistingDatabase(
        shard: String,
        tables only: [String]? = nil,
        primaryKeyColumn: String? = nil,
        dryRun: Bool = false
    ) async throws -> (summary: AdoptionSummary, skipped: [TableValidation]) {
        let database = try coordinator.registry.database(named: shard).adoptableShard()
        let (tables, skipped) = try await adoptableTables(of: database, only: only, keyColumn: primaryKeyColumn)
        let job = try adoptionJob(database, tables: tables)
        if dryRun { return (try await BlockingWork.runLong { try job.dryRun() }, skipped) }
        let summary = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<AdoptionSummary, any Error>) in
            let started = jobs.start(kind: Self.adoptionJobKind, id: 0) { control in
                self.coordinator.adopting.withLock { $0 = shard }
                self.logger.notice("adoption started", metadata: ["shard": "\(shard)", "tables": "\(tables.count)"])
                do {
                    let summary = try await BlockingWork.runLong {
                        try job.run(shouldStop: { control.stopRequest != nil })
                    }
                    continuation.resume(returning: summary)
                } catch {
                    continuation.resume(throwing: error)
                }
                self.coordinator.adopting.withLock { $0 = nil }
            }
            if !started {
                continuation.resume(
                    throwing: CollegeDBError(.migrationInProgress, "another adoption is running; wait for it to finish")
                )
            }
        }
        log(summary)
        return (summary, skipped)
    }

    /// Assigns each of `keys` to one of `shards` by `strategy` (the write strategy when nil)
    /// and maps it there, for keys whose rows already exist there; a key mapped already is left
    /// as it is (counted, or a conflict when mapped elsewhere).
    public func createMappingsForExistingKeys(
        _ keys: [String],
        shards: [String],
        strategy: StrategyKind? = nil
    ) async throws -> AdoptionSummary {
        guard !shards.isEmpty else { throw CollegeDBError.invalidParams("shards: name at least one shard") }
        let registry = coordinator.registry
        let candidates = try shards.map { name in
            _ = try registry.database(named: name)
            guard let candidate = registry.candidates.first(where: { $0.name == name }) else {
                throw CollegeDBError.shardNotFound(name)
            }
            return candidate
        }
        let kind = strategy ?? coordinator.policy.strategy.write
        let selection = ShardSelection(targetRegion: coordinator.policy.targetRegion)
        var generator = SystemRandomNumberGenerator()
        var byShard: [String: [String]] = [:]
        for (index, key) in keys.enumerated() {
            try Self.validate(key: key)
            let shard = selection.select(
                kind,
                key: key,
                candidates: candidates,
                roundRobinPosition: Int64(index),
                using: &generator
            )
            .shard
            byShard[shard, default: []].append(key)
        }
        let store = try mappingStore
        var summary = AdoptionSummary.starting(shard: shards.joined(separator: ","), tables: [])
        for (shard, keys) in byShard.sorted(by: { $0.key < $1.key }) {
            let chunk = try await BlockingWork.runLong { try store.mapKeys(keys, shard: shard) }
            summary.add(chunk)
        }
        summary.finishedAt = MappingStore.nowMilliseconds()
        return summary
    }

    /// Whether `shard` holds rows in owned tables that were never adopted.
    public func checkMigrationNeeded(shard: String) async throws -> Bool {
        let database = try coordinator.registry.database(named: shard).adoptableShard()
        let store = try mappingStore
        let ownership = await coordinator.configuration.ownership
        return try await BlockingWork.runLong {
            switch try store.adoption(of: shard)?.state {
            case .adopted?, .native?: return false
            case .adopting?: return true
            case nil: return try database.hasOwnedRows(ownership: ownership)
            }
        }
    }

    /// Adopts `shard` when ``checkMigrationNeeded(shard:)`` says so; returns whether it was
    /// needed, and the adoption when it ran.
    public func autoDetectAndMigrate(
        shard: String,
        tables: [String]? = nil,
        primaryKeyColumn: String? = nil,
        dryRun: Bool = false
    ) async throws -> (needed: Bool, adoption: (summary: AdoptionSummary, skipped: [TableValidation])?) {
        guard try await checkMigrationNeeded(shard: shard) else { return (false, nil) }
        return (
            true,
            try await integrateExistingDatabase(
                shard: shard,
                tables: tables,
                primaryKeyColumn: primaryKeyColumn,
                dryRun: dryRun
            )
        )
    }

    /// Forgets every finished adoption, so that the next start (or `autoDetectAndMigrate`)
    /// looks at those shards again; the mappings stay. Returns how many were forgotten.
    public func clearMigrationCache() async throws -> Int {
        let store = try mappingStore
        return try await BlockingWork.run { try store.clearAdoptions() }
    }

    /// Undoes an adoption: removes every mapping to `shard` and its adoption record. The file
    /// is left exactly as it was (adoption never wrote into it). Returns the records removed.
    public func forgetExistingDatabase(shard: String) async throws -> Int {
        _ = try coordinator.registry.database(named: shard)
        guard jobs.runningJob(kind: Self.adoptionJobKind) == nil else {
            throw CollegeDBError(.migrationInProgress, "an adoption is running; wait for it to finish")
        }
        let store = try mappingStore
        let removed = try await BlockingWork.run { try store.forgetAdoption(of: shard) }
        coordinator.locks.mappingsChanged()
        logger.notice("adoption forgotten", metadata: ["shard": "\(shard)", "records": "\(removed)"])
        return removed
    }

    /// For a shard just added: adopts its file when it holds rows in owned tables, else records
    /// it as native.
    func adoptIfNeeded(_ shard: String) async throws {
        guard try coordinator.registry.database(named: shard).backendKind == .sqlite else { return }
        guard try await autoDetectAndMigrate(shard: shard).needed == false else { return }
        let store = try mappingStore
        try await BlockingWork.run { try store.markNative(shard) }
    }

    /// At open, before anything is served: resumes interrupted adoptions and adopts each shard
    /// whose file holds owned rows and has no adoption record; a shard without such rows is
    /// recorded as native. `progress` hears a line after each chunk.
    func adoptAtOpen(progress: @escaping @Sendable (String) -> Void) async throws {
        // A shared catalog has PostgreSQL shards only, which are never adopted.
        guard let store = catalog as? MappingStore else { return }
        let ownership = await coordinator.configuration.ownership
        // One read and one write for every shard, so that opening with many shards costs the
        // store two transactions; only a file that holds something is opened to look.
        // The shard directory's files are tenants' databases, addressed by shard name: taken
        // as they are, never adopted by key, and not opened to look.
        let tenantDirectory = await coordinator.configuration.shardDirectory.map { $0 + "/" }
        let registry = coordinator.registry
        let shards = zip(registry.shards, registry.descriptors).filter { _, descriptor in
            guard let tenantDirectory, let path = descriptor.path else { return true }
            return !path.hasPrefix(tenantDirectory)
        }.map(\.0)
        let logger = self.logger
        let (native, toAdopt) = try await BlockingWork.runLong {
            let states = try store.adoptionStates()
            var native: [String] = []
            var toAdopt: [any AdoptableShard] = []
            for shard in shards where shard.health == .ok {
                guard let database = shard.adoptable else { continue }
                switch states[database.name] {
                case .adopted?, .native?: continue
                case nil:
                    do {
                        if try database.hasOwnedRows(ownership: ownership) {
                            toAdopt.append(database)
                        } else {
                            native.append(database.name)
                        }
                    } catch {
                        // A file that cannot be opened (past 1,000 shards, checked only now):
                        // the shard does not serve, and the others do.
                        logger.error(
                            "a shard cannot be looked at for adoption; it does not serve",
                            metadata: ["shard": "\(database.name)", "reason": "\(error)"]
                        )
                    }
                default: toAdopt.append(database)
                }
            }
            return (native, toAdopt)
        }
        if !native.isEmpty { try await BlockingWork.run { try store.markNative(native) } }
        for database in toAdopt {
            let record = try await BlockingWork.run { try store.adoption(of: database.name) }
            let tables =
                if let record, record.state == .adopting { record.tables } else {
                    try await adoptableTables(of: database, only: nil, keyColumn: nil).tables
                }
            logger.notice("adopting an existing database before serving", metadata: ["shard": "\(database.name)"])
            let job = try adoptionJob(database, tables: tables, progress: progress)
            log(try await BlockingWork.runLong { try job.run() })
        }
    }

    /// The owned tables of `database` that can be adopted, and the others with their reasons.
    private func adoptableTables(
        of database: any AdoptableShard,
        only: [String]?,
        keyColumn: String?
    ) async throws -> (tables: [AdoptedTable], skipped: [TableValidation]) {
        let ownership = await coordinator.configuration.ownership
        let logger = self.logger
        return try await BlockingWork.runLong {
            var tables: [AdoptedTable] = []
            var skipped: [TableValidation] = []
            for table in try only ?? database.userTables() {
                let validation = try database.validate(table: table, keyColumn: keyColumn, ownership: ownership)
                if validation.isValid, let column = validation.keyColumn {
                    tables.append(AdoptedTable(table: table, column: column))
                }
                if !validation.isValid || !validation.issues.isEmpty {
                    skipped.append(validation)
                    logger.info(
                        validation.isValid
                            ? "adoption: a table is adopted with a limit" : "adoption: a table is skipped",
                        metadata: [
                            "shard": "\(database.name)", "table": "\(table)",
                            "why": "\(validation.issues.joined(separator: "; "))",
                        ]
                    )
                }
            }
            return (tables, skipped)
        }
    }

    private func adoptionJob(
        _ database: any AdoptableShard,
        tables: [AdoptedTable],
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> AdoptionJob {
        AdoptionJob(
            shard: database,
            store: try mappingStore,
            tables: tables,
            logger: logger,
            killPoint: .fromEnvironment,
            progress: progress
        )
    }

    private func log(_ summary: AdoptionSummary) {
        logger.notice(
            "adoption done",
            metadata: [
                "shard": "\(summary.shard)", "tables": "\(summary.tables.joined(separator: ","))",
                "keysSeen": "\(summary.keysSeen)", "mapped": "\(summary.mappingsCreated)",
                "alreadyMapped": "\(summary.alreadyMapped)", "conflicts": "\(summary.conflictCount)",
            ]
        )
    }

    /// A key cursor on the wire: the last key's SQLite type and value.
    static func encodeKeyCursor(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .int64(let integer): return "i:\(integer)"
        case .double(let double): return "r:\(double)"
        case .string(let text): return "t:\(text)"
        case .blob(let data): return "b:" + data.lowercaseHex
        case .null: return "n:"
        }
    }

    static func decodeKeyCursor(_ text: String) throws(CollegeDBError) -> DatabaseValue {
        let kind = text.prefix(2)
        let rest = String(text.dropFirst(2))
        switch kind {
        case "i:": if let integer = Int64(rest) { return integer.databaseValue }
        case "r:": if let double = Double(rest) { return double.databaseValue }
        case "t:": return rest.databaseValue
        case "b:":
            var bytes: [UInt8] = []
            var index = rest.startIndex
            while index < rest.endIndex, let next = rest.index(index, offsetBy: 2, limitedBy: rest.endIndex),
                let byte = UInt8(rest[index..<next], radix: 16)
            {
                bytes.append(byte)
                index = next
            }
            if bytes.count * 2 == rest.count { return Data(bytes).databaseValue }
        default: break
        }
        throw CollegeDBError.invalidParams("cursor: not a cursor from this method")
    }
}
