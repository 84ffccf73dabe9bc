import Foundation
import Testing

/// A throwaway PostgreSQL cluster made by `scripts/postgres-cluster start`: the one
/// `./scripts/test` starts for the whole run (named by `COLLEGEDB_TEST_POSTGRES_*`), or one a
/// test starts for itself to stop and start under load. Each test gets fresh databases.
final class PostgresServer: Sendable {
    let directory: String
    let port: Int
    let passFile: String
    /// Whether this object started the cluster (and removes it when done).
    private let owned: Bool

    /// The run's shared cluster.
    /// - Throws: when the tests were not started by `./scripts/test` (or with the variables it sets).
    static func shared() throws -> PostgresServer {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["COLLEGEDB_TEST_POSTGRES_DIR"],
            let port = environment["COLLEGEDB_TEST_POSTGRES_PORT"].flatMap(Int.init),
            let passFile = environment["COLLEGEDB_TEST_POSTGRES_PASSFILE"]
        else {
            throw LineSocket.Failure(
                description: "no PostgreSQL server for the tests: run them with ./scripts/test, or export the "
                    + "lines `scripts/postgres-cluster start` prints"
            )
        }
        return PostgresServer(directory: directory, port: port, passFile: passFile, owned: false)
    }

    /// Starts a cluster of its own (removed when this object goes).
    static func startPrivate() throws -> PostgresServer {
        let output = try run(["start"])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let directory = values["COLLEGEDB_TEST_POSTGRES_DIR"],
            let port = values["COLLEGEDB_TEST_POSTGRES_PORT"].flatMap(Int.init),
            let passFile = values["COLLEGEDB_TEST_POSTGRES_PASSFILE"]
        else { throw LineSocket.Failure(description: "postgres-cluster start printed: \(output)") }
        return PostgresServer(directory: directory, port: port, passFile: passFile, owned: true)
    }

    private init(directory: String, port: Int, passFile: String, owned: Bool) {
        self.directory = directory
        self.port = port
        self.passFile = passFile
        self.owned = owned
    }

    deinit {
        if owned { _ = try? Self.run(["remove", directory]) }
    }

    /// Stops the server (fast shutdown: sessions are ended).
    func stop() throws { _ = try Self.run(["stop", directory]) }

    /// Starts the stopped server again on the same port.
    func resume() throws { _ = try Self.run(["resume", directory]) }

    /// A new file holding the server's password alone, as a shard's `passwordFile` wants it
    /// (``passFile`` is a `.pgpass` line); the caller removes it.
    func makePasswordFile() throws -> String {
        let passFileLine = try String(contentsOfFile: passFile, encoding: .utf8).prefix { $0 != "\n" }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)").path
        try String(passFileLine.split(separator: ":", maxSplits: 4).last ?? "").write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        return path
    }

    /// The URL of `database` over TCP (password from ``passFile``).
    func url(_ database: String) -> String { "postgresql://collegedb@127.0.0.1:\(port)/\(database)" }

    /// The environment a daemon needs to log in.
    var environment: [String: String] { ["PGPASSFILE": passFile] }

    /// A new empty database, named uniquely.
    func makeDatabase() throws -> String {
        let name = "cdb_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        _ = try query("postgres", "CREATE DATABASE \(name)")
        return name
    }

    /// `--shard` flags for `count` shards named `db-1`… on new databases.
    func shardFlags(count: Int) throws -> [String] {
        try (1...count).flatMap { ["--shard", "db-\($0)=" + url(try makeDatabase())] }
    }

    /// Runs `sql` with psql in `database`; returns its unaligned, tuples-only output.
    @discardableResult
    func query(_ database: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url(database), "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LineSocket.Failure(description: "psql failed: \(failure)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The database a `--shard` URL names.
    static func database(ofURL url: String) -> String { String(url.split(separator: "/").last ?? "") }

    private static func run(_ arguments: [String]) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/postgres-cluster")
        // Output to a file, not a pipe: the server the script starts inherits the descriptors
        // Foundation leaves open, and would hold a pipe open for as long as it runs.
        let outputPath = NSTemporaryDirectory() + "cdb-pgcluster-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { unlink(outputPath) }
        let process = Process()
        process.executableURL = script
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try process.run()
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw LineSocket.Failure(description: "postgres-cluster \(arguments.joined(separator: " ")) failed")
        }
        return text
    }
}

/// The shard backends the shared end-to-end tests run against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A daemon on three shards named `db-1`, `db-2`, `db-3` of this backend, with
    /// `extraArguments`; for PostgreSQL each shard is a new database of the run's server.
    func daemon(_ extraArguments: [String] = []) throws -> (Daemon, PostgresServer?) {
        switch self {
        case .sqlite:
            return (try Daemon(extraArguments), nil)
        case .postgres:
            let server = try PostgresServer.shared()
            return (
                try Daemon(try server.shardFlags(count: 3) + extraArguments, environment: server.environment), server
            )
        }
    }
}
