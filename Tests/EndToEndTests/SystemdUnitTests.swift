import Foundation
import Testing

/// The unit files in `systemd/`, checked by systemd's own analyzer.
@Suite(.blocksWhileWaiting) struct SystemdUnitTests {
    static let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd")

    /// The shell client in the repository, which the package installs as `/usr/bin/collegedb`.
    static let shellClient = unitDirectory.deletingLastPathComponent().appendingPathComponent("clients/shell/collegedb")

    /// A unit's text with the installed programs' paths pointing at the built daemon and the
    /// repository's shell client.
    static func unitText(_ name: String) throws -> String {
        try String(contentsOf: unitDirectory.appendingPathComponent(name), encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/collegedbd ", with: Daemon.binary.path + " ")
            .replacingOccurrences(of: "/usr/bin/collegedb ", with: shellClient.path + " ")
    }

    /// Copies the units to a fresh directory, pointing `ExecStart=` and `ExecReload=` at the
    /// built programs so that `verify` can check they exist.
    func installedCopies() throws -> URL {
        let directory = Daemon.makeDirectory()
        for name in ["collegedb.socket", "collegedb.service"] {
            try Self.unitText(name).write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    /// The service's `ExecReload=` command, run against a daemon (as systemd would run it, but
    /// with the daemon's socket): it answers once the new configuration is applied, and fails
    /// with the reason when it is refused, which then also shows in `STATUS=`.
    @Test func theReloadCommandReturnsOnceAppliedAndFailsWithTheReasonWhenRefused() throws {
        let line = try #require(
            try Self.unitText("collegedb.service").split(separator: "\n").first { $0.hasPrefix("ExecReload=") }
        )
        var command = line.dropFirst("ExecReload=".count).split(separator: " ").map(String.init)
        command[0] = String(command[0].drop { $0 == "+" })
        let socketFlag = try #require(command.firstIndex(of: "--socket"))

        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        func writeConfig(_ text: String) throws { try text.write(to: config, atomically: true, encoding: .utf8) }
        try writeConfig(#"{"shards": [{"name": "a"}]}"#)
        let notify = try NotifyListener(directory: directory)
        let daemon = try Daemon(
            ["--config", config.path],
            directory: directory,
            environment: ["NOTIFY_SOCKET": notify.path]
        )
        try notify.waitFor { $0.contains("READY=1") }
        command[socketFlag + 1] = daemon.socketPath

        func runReload() throws -> (status: Int32, output: String, errors: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (process.waitForExitStatus(), printed, complaint)
        }

        try writeConfig(#"{"shards": [{"name": "a"}, {"name": "b"}]}"#)
        let applied = try runReload()
        #expect(applied.status == 0, "\(applied.errors)")
        #expect(applied.output.contains(#""added":["b"]"#))
        #expect(
            try daemon.connect().result("listKnownShards") as? [String] == ["a", "b"],
            "applied by the time the command returned"
        )

        try writeConfig(#"{"shards": "b"}"#)
        let refused = try runReload()
        #expect(refused.status == 1)
        #expect(refused.errors.contains("shards must be an array"), "\(refused.errors)")
        #expect(refused.errors.contains("CONFIG_REFUSED"))
        let status = try notify.waitFor { $0.contains("STATUS=") && $0.contains("reload refused") }
        #expect(status.contains("shards must be an array"), "systemctl status shows why")
        #expect(try daemon.connect().result("listKnownShards") as? [String] == ["a", "b"])

        try writeConfig(#"{"shards": [{"name": "a"}, {"name": "b"}]}"#)
        #expect(try runReload().status == 0)
        try notify.waitFor { $0.contains("READY=1") && !$0.contains("reload refused") }
        #expect(daemon.stop() == 0)
    }

    /// A configuration error ends the daemon with 64, which the unit does not restart.
    @Test func aConfigurationErrorExitsWithTheStatusTheUnitDoesNotRestart() throws {
        let unit = try Self.unitText("collegedb.service")
        #expect(unit.contains("RestartPreventExitStatus=64\n"))
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("collegedb.json")
        try #"{"shards": "b"}"#.write(to: config, atomically: true, encoding: .utf8)
        let result = try Daemon.runToCompletion(["--config", config.path, "--data-dir", directory.path])
        #expect(result.status == 64)
        #expect(result.errors.contains("shards must be an array"))
    }

    func analyze(_ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func verifyIsClean() throws {
        let directory = try installedCopies()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try analyze(["verify", "--man=no", "collegedb.socket", "collegedb.service"], in: directory)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
    }

    @Test func theServiceIsRatedAtMost2() throws {
        let directory = try installedCopies()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try analyze(["security", "--offline=yes", "collegedb.service"], in: directory)
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.0, "\(line)")
    }

    @Test func theSocketUnitMatchesWhatTheDaemonLooksFor() throws {
        let socket = try String(
            contentsOf: Self.unitDirectory.appendingPathComponent("collegedb.socket"),
            encoding: .utf8
        )
        #expect(socket.contains("FileDescriptorName=collegedb\n"))
        #expect(socket.contains("ListenStream=/run/collegedb/collegedb.sock\n"))
        #expect(socket.contains("SocketMode=0660\n"))
    }
}
