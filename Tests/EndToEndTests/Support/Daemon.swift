import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The real `collegedbd` binary, started on a fresh temporary directory and stopped with SIGTERM.
final class Daemon {
    let directory: URL
    let socketPath: String
    let arguments: [String]
    let environment: [String: String]
    let launcher: [String]
    /// Whether the directory was made here (and is removed with the daemon).
    private let ownsDirectory: Bool
    private(set) var process: Process
    private let logURL: URL

    /// The binary SwiftPM built beside this test bundle (or `COLLEGEDBD_BINARY`).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["COLLEGEDBD_BINARY"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("collegedbd")
    }

    /// Starts a daemon on `directory` (the caller's, kept) or a new one (removed with the
    /// daemon) with `extraArguments` and `environment` added to the
    /// test's, and waits until it answers. `launcher` runs first (for example
    /// `systemd-socket-activate` and its flags), with the binary and its arguments after it.
    init(
        _ extraArguments: [String] = [],
        directory: URL? = nil,
        environment: [String: String] = [:],
        launcher: [String] = []
    ) throws {
        ownsDirectory = directory == nil
        let directory = directory ?? Self.makeDirectory()
        self.directory = directory
        socketPath = directory.appendingPathComponent("d.sock").path
        arguments =
            ["--data-dir", directory.appendingPathComponent("data").path, "--socket", socketPath] + extraArguments
        self.environment = environment
        self.launcher = launcher
        logURL = directory.appendingPathComponent("daemon.log")
        process = Process()
        try start()
    }

    static func makeDirectory() -> URL {
        // Unix socket paths are limited to 108 bytes: keep the directory short.
        let url = URL(fileURLWithPath: "/tmp/cdb-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func start() throws {
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        process = Process()
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [Self.binary.path] + arguments
        } else {
            process.executableURL = Self.binary
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = log
        process.standardOutput = log
        try process.run()
        try waitUntilAnswering()
    }

    private func waitUntilAnswering() throws {
        // Long enough for a start that adopts an existing database in a debug build.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            guard process.isRunning else {
                throw LineSocket.Failure(description: "collegedbd exited early: \(log)")
            }
            if let socket = try? LineSocket(path: socketPath), (try? socket.call("health")) != nil { return }
            usleep(20_000)
        }
        throw LineSocket.Failure(description: "collegedbd did not answer within 120 s: \(log)")
    }

    /// Runs the binary with `arguments` to its end; returns its exit status and standard error.
    /// `launcher` runs first, with the binary and `arguments` after it.
    static func runToCompletion(
        _ arguments: [String],
        environment: [String: String] = [:],
        launcher: [String] = []
    ) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = launcher.first.map { URL(fileURLWithPath: $0) } ?? binary
        let arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [binary.path] + arguments
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.waitForExitStatus(), text)
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` at least `count` times.
    func waitForLog(_ text: String, count: Int = 1, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if log.components(separatedBy: text).count - 1 >= count { return }
            usleep(20_000)
        }
        throw LineSocket.Failure(description: "the log did not show '\(text)' \(count) times within \(seconds) s")
    }

    func connect() throws -> LineSocket { try LineSocket(path: socketPath) }

    /// Sends `signal` to the daemon.
    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// SIGTERM, then the exit status; a daemon still running after 20 s is killed and reported
    /// as status -1.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        return process.terminationStatus
    }

    /// Stops and starts the daemon again on the same directory and arguments.
    func restart() throws {
        stop()
        try start()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if ownsDirectory { try? FileManager.default.removeItem(at: directory) }
    }
}
