import Foundation

/// An advisory lock (`flock`) on `DATA_DIR/collegedb.lock`, held while the engine is open, so
/// that a second daemon cannot open the same data directory: two would allocate the same keys
/// on different shards and undo each other's moves. The lock goes with the process, so a
/// daemon killed with SIGKILL does not leave it behind. The file holds the holder's pid.
final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock of `directory`, creating the directory and the file when missing.
    /// - Throws: `DATA_DIRECTORY_IN_USE` naming the process that holds it.
    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/collegedb.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CollegeDBError(.internalError, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            // The holder's pid is only for the message.
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            close(descriptor)
            throw CollegeDBError(
                .dataDirectoryInUse,
                "the data directory \(directory) is in use by another collegedbd"
                    + (holder.map { $0.isEmpty ? "" : " (pid \($0))" } ?? "")
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}
