import Foundation
import Glibc

/// Whether a path may be a SQLite shard's file. It must be an absolute path (not a `file:`
/// URI), a regular file that SQLite wrote or an empty or missing one, and not a file of the
/// daemon's own: not in the data directory itself (the mapping store, its key and its lock
/// live there), and not another shard's file or its `-wal`, `-shm` or `-journal`. Files are
/// compared by device and inode when they exist, so a link or a second spelling of a path is
/// seen through; missing files by their path with the directories' links resolved.
struct ShardFileCheck {
    /// The data directory: its own files are never shards.
    let dataDirectory: String
    /// The files of the other SQLite shards.
    let otherShardFiles: [String]

    /// SQLite's own files beside a database.
    static let companionSuffixes = ["", "-wal", "-shm", "-journal"]

    /// Checks `path` for shard `name`.
    /// - Throws: `INVALID_PARAMS` saying why the file cannot be the shard's.
    func check(_ path: String, shard name: String) throws {
        func refused(_ why: String) -> CollegeDBError {
            CollegeDBError.invalidParams("shard '\(name)': \(path) cannot be a shard's file: \(why)")
        }
        guard path.hasPrefix("/") else { throw refused("the path must be absolute") }
        guard !path.contains("\0") else { throw refused("the path holds a NUL character") }
        let resolved = Self.resolved(path)
        if let directory = Self.identity(of: dataDirectory),
            Self.identity(of: (resolved as NSString).deletingLastPathComponent) == directory
        {
            throw refused("it is in the data directory itself, where the daemon keeps its own files (use shards/)")
        }
        let taken = otherShardFiles.flatMap { file in Self.companionSuffixes.map { Self.resolved(file) + $0 } }
        if taken.contains(resolved) { throw refused("it is another shard's file, or one SQLite keeps beside it") }
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFREG else { throw refused("it is not a regular file") }
        let identity = FileIdentity(device: status.st_dev, inode: status.st_ino)
        if taken.contains(where: { Self.identity(of: $0) == identity }) {
            throw refused("it is another shard's file, or one SQLite keeps beside it, under another name")
        }
        guard status.st_size > 0 else { return }
        guard Self.hasSQLiteHeader(path) else { throw refused("it is not a SQLite database") }
    }

    /// A file's device and inode.
    struct FileIdentity: Equatable {
        var device: dev_t
        var inode: ino_t
    }

    static func identity(of path: String) -> FileIdentity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return FileIdentity(device: status.st_dev, inode: status.st_ino)
    }

    /// `path` with its links resolved (those of its directories only, when the file is
    /// missing), so that two spellings of one file compare equal.
    static func resolved(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        guard let real = realpath(directory, nil) else { return (path as NSString).standardizingPath }
        defer { free(real) }
        return String(cString: real) + (String(cString: real) == "/" ? "" : "/") + base
    }

    /// Whether the file begins with SQLite's 16-byte header.
    static func hasSQLiteHeader(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        return header == Data("SQLite format 3\0".utf8)
    }
}
