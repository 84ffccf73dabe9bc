import Foundation
import Testing
import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#endif

/// What the daemon does with its socket file.
@Suite(.blocksWhileWaiting) struct SocketFileTests {
    @Test func theSocketIsCreatedWithMode0660AndRemovedOnExit() throws {
        let daemon = try Daemon()
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }

    @Test func aStaleSocketIsReplacedAndALiveOneRefused() throws {
        let directory = Daemon.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("d.sock").path
        // A stale socket: bound, then its listener gone.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(UnixSocketAddress.with(path: socketPath) { bind(stale, $0, $1) } == 0)
        close(stale)
        let daemon = try Daemon(directory: directory)
        #expect(try daemon.connect().call("health")["result"] != nil)

        let second = try Daemon.runToCompletion(["--data-dir", directory.path + "/other", "--socket", socketPath])
        #expect(second.status != 0)
        #expect(second.errors.contains("another process is listening"))
        #expect(try daemon.connect().call("health")["result"] != nil)
    }

    @Test func badFlagsAreRefusedWithAClearMessage() throws {
        let result = try Daemon.runToCompletion(["--strategy", "fastest", "--data-dir", "/tmp/never-used"])
        #expect(result.status == 64)
        #expect(result.errors.contains("'hash', 'round-robin', 'random' or 'location'"), "\(result.errors)")
    }
}
