/// Changing the known shards while running: a reloaded configuration, `registerShard` and
/// `unregisterShard`. What is registered or unregistered at run time is kept in the mapping
/// store and holds across restarts.
extension ShardCoordinator {
    /// Applies a changed configuration: new shards are opened and appended; regions, weights,
    /// priorities and the routing policy are replaced. What cannot change while running (the
    /// data directory, key hashing, a shard's file, removing a shard) is refused with the
    /// reason, and nothing changes. Returns the names of the shards added.
    package func apply(_ configuration: CollegeDBConfiguration) async throws -> [String] {
        let current = self.configuration
        var configuration = configuration
        configuration.shardSettings.identifiers = current.shardSettings.identifiers
        configuration.shardSettings.openShards = current.shardSettings.openShards
        configuration.maxOpenShards = current.maxOpenShards
        configuration.postgresClients = current.postgresClients
        guard configuration.dataDirectory == current.dataDirectory else {
            throw CollegeDBError.invalidParams("changing the data directory needs a restart")
        }
        guard configuration.hashesKeys == current.hashesKeys, configuration.keyedDigest == current.keyedDigest else {
            throw CollegeDBError.invalidParams("changing key hashing needs a restart")
        }
        let store = self.store
        let descriptors = try configuration.effectiveShards(
            registrations: try await BlockingWork.run { try store.shardRegistrations() }
        )
        let newNames = Set(descriptors.map(\.name))
        if let removed = registry.shards.first(where: { !newNames.contains($0.name) }) {
            throw CollegeDBError.invalidParams("removing shard '\(removed.name)' needs a restart (or unregisterShard)")
        }
        let added = try await replaceShards(with: descriptors, configuration: configuration)
        self.configuration = configuration
        return added
    }

    /// Adds a shard at the end of the shard order: a PostgreSQL shard when `path` is a
    /// `postgresql://` URL (its password from `PGPASSFILE`), else a SQLite file, created under
    /// the data directory when no path is given.
    ///
    /// The name must follow ``ShardName``'s grammar and a SQLite file pass ``ShardFileCheck``;
    /// a registration that is refused or cannot open its file leaves no file behind.
    package func register(_ name: String, path: String?) async throws {
        try ShardName.validate(name)
        guard registry.shard(named: name) == nil else {
            throw CollegeDBError(.shardExists, "a shard named '\(name)' is already known")
        }
        let descriptor: ShardDescriptor
        if let path, PostgresShardAddress.isURL(path) {
            descriptor = ShardDescriptor(name: name, postgres: try PostgresShardAddress(url: path))
        } else {
            if let path, !path.hasPrefix("/") {
                throw CollegeDBError.invalidParams("path: must be an absolute file path or a postgresql:// URL")
            }
            descriptor = ShardDescriptor(
                name: name,
                path: configuration.path(of: ShardDescriptor(name: name, path: path))
            )
        }
        let store = self.store
        let resolvedPath = configuration.location(of: descriptor)
        let made = descriptor.postgres == nil ? CreatedFiles(for: resolvedPath) : nil
        do {
            _ = try await replaceShards(with: registeredDescriptors + [descriptor], configuration: configuration)
        } catch {
            made?.remove()
            throw error
        }
        try await BlockingWork.run {
            try store.recordRegistration(.init(name: name, path: resolvedPath, registered: true))
        }
    }

    /// Removes a shard from the known shards (its file is kept). Refused with `SHARD_NOT_EMPTY`
    /// while records map to it, unless `force`.
    package func unregister(_ name: String, force: Bool) async throws {
        _ = try registry.database(named: name)
        let store = self.store
        let records = try await BlockingWork.run { try store.recordCount(onShard: name) }
        guard records == 0 || force else {
            throw CollegeDBError(
                .shardNotEmpty,
                "\(records) record(s) map to shard '\(name)'; move them first, or pass force: true"
            )
        }
        let configured = configuration.configuredShards.contains { $0.name == name }
        _ = try await replaceShards(
            with: registeredDescriptors.filter { $0.name != name },
            configuration: configuration
        )
        draining.withLock { _ = $0.remove(name) }
        try await BlockingWork.run {
            try store.stopDraining(name)
            if configured {
                try store.recordRegistration(.init(name: name, path: nil, registered: false))
            } else {
                try store.forgetRegistration(of: name)
            }
        }
    }

    /// Makes the known shards those of the configuration and the catalog's registrations again:
    /// shards another daemon of a shared catalog registered are opened, and those it
    /// unregistered are no longer known here. Returns the names of the shards added and removed.
    package func followRegistrations() async throws -> (added: [String], removed: [String]) {
        let store = self.store
        let descriptors = try configuration.effectiveShards(
            registrations: try await BlockingWork.run { try store.shardRegistrations() }
        )
        let names = Set(descriptors.map(\.name))
        let removed = registry.shards.map(\.name).filter { !names.contains($0) }
        guard !removed.isEmpty || descriptors.map(\.name) != registry.shards.map(\.name) else { return ([], []) }
        let added = try await replaceShards(with: descriptors, configuration: configuration)
        draining.withLock { $0.subtract(removed) }
        return (added, removed)
    }

    /// The known shards as descriptors, with their files.
    private var registeredDescriptors: [ShardDescriptor] { registry.descriptors }

    /// Publishes `descriptors` as the known shards, reusing open shards and opening new ones;
    /// returns the names opened.
    private func replaceShards(
        with descriptors: [ShardDescriptor],
        configuration: CollegeDBConfiguration
    ) async throws
        -> [String]
    {
        var databases: [any ShardBackend] = []
        var added: [String] = []
        for descriptor in descriptors {
            let location = configuration.location(of: descriptor)
            if let existing = registry.shard(named: descriptor.name) {
                guard existing.location == location else {
                    throw CollegeDBError.invalidParams(
                        "moving shard '\(descriptor.name)' to \(location) needs a restart"
                    )
                }
                databases.append(existing)
            } else {
                // Only shards opened now: one an older daemon registered under a name outside
                // the grammar stays known, rather than refuse every later change.
                try ShardName.validate(descriptor.name)
                try configuration.checkFile(of: descriptor, among: descriptors)
                let logger = self.logger
                let opened = try await BlockingWork.run {
                    try configuration.openShard(
                        descriptor,
                        checkingFileAtFirstOpen: !configuration.checksFilesEagerly(descriptors),
                        logger: logger
                    )
                }
                if let reason = opened.unavailableReason, opened.backendKind == .sqlite {
                    throw CollegeDBError(.shardUnavailable, reason)
                }
                do {
                    try await opened.warmUp()
                    try await prepareNewShard(opened)
                } catch {
                    // Never published: its closing error would hide why it was refused.
                    try? await opened.shutDown()
                    throw error
                }
                databases.append(opened)
                added.append(descriptor.name)
            }
        }
        let updated = ShardRegistry(shards: databases, descriptors: descriptors)
        published.withLock { $0 = (updated, configuration.policy) }
        return added
    }
}
