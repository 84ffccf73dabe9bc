import PostgresNIO

extension PostgresShardAddress {
    /// The postgres-nio pool configuration for this address: its socket or host, user,
    /// password (from the password file or PGPASSFILE), database, TLS, pool size and connect
    /// timeout; no connection is kept open while idle. `startupOptions` is the sessions'
    /// `options` startup parameter (`-c name=value …`); `applicationName` is what
    /// `pg_stat_activity` shows for them.
    /// - Throws: `INVALID_PARAMS` when the password file cannot be read.
    func clientConfiguration(
        startupOptions: String? = nil,
        applicationName: String = "collegedbd"
    ) throws -> PostgresClient.Configuration {
        let password = try password()
        var configuration: PostgresClient.Configuration
        if let socketPath {
            configuration = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            let mode: PostgresClient.Configuration.TLS
            switch tls {
            case .disable: mode = .disable
            case .prefer: mode = .prefer(.makeClientConfiguration())
            case .require: mode = .require(.makeClientConfiguration())
            }
            configuration = .init(
                host: host ?? "localhost",
                port: port,
                username: user,
                password: password,
                database: database,
                tls: mode
            )
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        if let startupOptions { configuration.options.additionalStartupParameters.append(("options", startupOptions)) }
        return configuration
    }
}
