import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the daemon does with its socket file.
@Suite struct SocketFileTests {
    @Test func theSocketIsCreatedWithMode0660AndRemovedOnExit() throws {
        let daemon = try Daemon()
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test func aStaleSocketIsReplacedAndALiveOneRefused() throws {
        let directory = Daemon.makeDirectory()
        let socketPath = directory.appendingPathComponent("d.sock").path
        // A stale socket: bound, then its listener gone.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: socketPath.utf8)
            raw[socketPath.utf8.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        let daemon = try Daemon(directory: directory)
        #expect(try daemon.connect().call("health")["result"] != nil)

        let second = Process()
        second.executableURL = Daemon.binary
        second.arguments = ["--data-dir", directory.path + "/other", "--socket", socketPath]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        second.waitUntilExit()
        #expect(second.terminationStatus != 0)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("another process is listening"))
        #expect(try daemon.connect().call("health")["result"] != nil)
    }

    @Test func badFlagsAreRefusedWithAClearMessage() throws {
        let process = Process()
        process.executableURL = Daemon.binary
        process.arguments = ["--strategy", "fastest", "--data-dir", "/tmp/never-used"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("hash, round-robin, random or location"))
    }
}
