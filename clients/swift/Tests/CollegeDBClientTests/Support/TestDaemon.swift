import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The real collegedbd (`COLLEGEDBD_BINARY`, which the project's test script sets) on a fresh
/// directory. A test run without it fails: these tests exist to talk to the real daemon.
final class TestDaemon {
    let directory: String
    let socketPath: String
    private var process = Process()

    struct Missing: Error, CustomStringConvertible {
        let description = "set COLLEGEDBD_BINARY to the built collegedbd (./scripts/test does)"
    }

    init(_ arguments: [String] = []) throws {
        directory = "/tmp/cdbc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/d.sock"
        self.arguments =
            ["--data-dir", directory + "/data", "--socket", socketPath, "--log-level", "warning"] + arguments
        try start()
    }

    private let arguments: [String]

    func start() throws {
        guard let binary = ProcessInfo.processInfo.environment["COLLEGEDBD_BINARY"] else { throw Missing() }
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        try process.run()
        for _ in 0..<1500 where !FileManager.default.fileExists(atPath: socketPath) { usleep(10_000) }
        usleep(50_000)
    }

    /// SIGTERM, and waits for the exit.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
