import Foundation
import Testing

/// The unit files in `systemd/`, checked by systemd's own analyzer.
@Suite struct SystemdUnitTests {
    static let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd")

    /// Copies the units to a fresh directory, pointing `ExecStart=` at the built binary so that
    /// `verify` can check it exists.
    func installedCopies() throws -> URL {
        let directory = Daemon.makeDirectory()
        for name in ["collegedb.socket", "collegedb.service"] {
            let text = try String(contentsOf: Self.unitDirectory.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/collegedbd", with: Daemon.binary.path)
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
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
