import Foundation
import Glibc

/// Whether a path may be a SQLite shard's file. It must be an absolute path (not a `file:`
/// URI), a regular file that SQLite wrote or an empty or missing one, and not a file of the
/// daemon's own: not in the data directory itself (the mapping store, its key and its lock
/// live there), and not another shard's file or its `-wal`, `-shm` or `-journal`. The same
/// holds for the files SQLite keeps beside it: they may not be another shard's files, must be
/// regular files, and may not exist at all while the database is missing or empty (SQLite
/// would take a stranger's file for its journal). Files are compared by device and inode when
/// they exist, so a link or a second spelling of a path is seen through; missing files by
/// their path with the links resolved; a link to nothing is refused.
///
/// The files of the shards checked so far are kept, so that a whole configuration is checked
/// in one pass, each shard against those before it (``checkAndAdd(_:shard:)``).
struct ShardFileCheck {
    /// The data directory: its own files are never shards.
    let dataDirectory: String
    /// The files directly in the data directory, read once.
    private let dataFiles: Set<FileIdentity>
    private let dataDirectoryIdentity: FileIdentity?
    /// The other shards' files and SQLite's files beside them, links resolved.
    private var takenResolved: Set<String> = []
    /// The same files' identities, for those that exist.
    private var takenIdentities: Set<FileIdentity> = []

    /// SQLite's own files beside a database.
    static let companionSuffixes = ["", "-wal", "-shm", "-journal"]

    /// A check against the data directory and `otherShardFiles`.
    init(dataDirectory: String, otherShardFiles: [String] = []) {
        self.dataDirectory = dataDirectory
        dataFiles = Self.filesDirectly(in: dataDirectory)
        dataDirectoryIdentity = Self.identity(of: dataDirectory)
        for file in otherShardFiles { add(file) }
    }

    /// Checks `path` for shard `name`, then counts it among the other shards' files for the
    /// next check (whether or not it passed: a refused shard keeps its claim on its file, so
    /// that no later shard takes it).
    /// - Throws: `INVALID_PARAMS` saying why the file cannot be the shard's.
    mutating func checkAndAdd(_ path: String, shard name: String) throws {
        defer { add(path) }
        try check(path, shard: name)
    }

    private mutating func add(_ file: String) {
        for companion in Self.companionSuffixes.map({ file + $0 }) {
            takenResolved.insert(Self.resolved(companion))
            if let identity = Self.identity(of: companion) { takenIdentities.insert(identity) }
        }
    }

    /// Checks `path` for shard `name`.
    /// - Throws: `INVALID_PARAMS` saying why the file cannot be the shard's.
    func check(_ path: String, shard name: String) throws {
        func refused(_ why: String) -> CollegeDBError {
            CollegeDBError.invalidParams("shard '\(name)': \(path) cannot be a shard's file: \(why)")
        }
        guard path.hasPrefix("/") else { throw refused("the path must be absolute") }
        guard !path.contains("\0") else { throw refused("the path holds a NUL character") }
        let own = Self.companionSuffixes.map { path + $0 }
        for file in own where Self.isDanglingLink(file) {
            throw refused("\(file) is a link to a file that does not exist")
        }
        let resolvedOwn = own.map(Self.resolved)
        if let directory = dataDirectoryIdentity,
            resolvedOwn.contains(where: { Self.identity(of: ($0 as NSString).deletingLastPathComponent) == directory })
                || own.contains(where: { file in Self.identity(of: file).map { dataFiles.contains($0) } ?? false })
        {
            throw refused(
                "it or a file SQLite keeps beside it is in the data directory itself, where the daemon keeps its own files (use shards/)"
            )
        }
        if resolvedOwn.contains(where: takenResolved.contains)
            || own.contains(where: { file in Self.identity(of: file).map { takenIdentities.contains($0) } ?? false })
        {
            throw refused("it or a file SQLite keeps beside it is another shard's file, or one SQLite keeps beside it")
        }
        var status = stat()
        let exists = stat(path, &status) == 0
        if exists {
            guard status.st_mode & S_IFMT == S_IFREG else { throw refused("it is not a regular file") }
        }
        for companion in own.dropFirst() {
            var companionStatus = stat()
            guard lstat(companion, &companionStatus) == 0 else { continue }
            guard exists, status.st_size > 0 else {
                throw refused("\(companion) exists beside a database that does not: it is not SQLite's to use")
            }
            guard companionStatus.st_mode & S_IFMT == S_IFREG else {
                throw refused("\(companion) is not a regular file")
            }
        }
        guard exists, status.st_size > 0 else { return }
        guard Self.hasSQLiteHeader(path) else { throw refused("it is not a SQLite database") }
    }

    /// A file's device and inode.
    struct FileIdentity: Hashable {
        var device: dev_t
        var inode: ino_t
    }

    static func identity(of path: String) -> FileIdentity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return FileIdentity(device: status.st_dev, inode: status.st_ino)
    }

    /// The identities of the files directly in `directory`, links followed.
    static func filesDirectly(in directory: String) -> Set<FileIdentity> {
        // A directory that cannot be listed holds no file to confuse with a shard's.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(names.compactMap { identity(of: directory + "/" + $0) })
    }

    /// Whether `path` is a symbolic link whose target does not exist.
    static func isDanglingLink(_ path: String) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK else { return false }
        return stat(path, &status) != 0
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
        // Read only: closing cannot lose anything, and an unreadable file has no SQLite header.
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        return header == Data("SQLite format 3\0".utf8)
    }
}
