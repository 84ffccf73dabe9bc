import Foundation

/// What opening a SQLite file at a path would create, noted before it is opened: the first
/// missing directory on the way, and which of the file and SQLite's files beside it are
/// missing. So that a shard that is refused after its file was made leaves nothing behind, and
/// nothing that was there before is touched.
struct CreatedFiles {
    /// The topmost directory on the way that did not exist before, or nil.
    private let topmostNewDirectory: String?
    /// The file and SQLite's files beside it that did not exist before.
    private let newFiles: [String]

    init(for file: String) {
        var topmost: String?
        var directory = (file as NSString).deletingLastPathComponent
        while directory != "/", !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            topmost = directory
            directory = (directory as NSString).deletingLastPathComponent
        }
        topmostNewDirectory = topmost
        newFiles = ShardFileCheck.companionSuffixes.map { file + $0 }.filter { path in
            var status = stat()
            return lstat(path, &status) != 0
        }
    }

    /// Removes what did not exist before.
    func remove() {
        // Best effort: what cannot be removed (it was never made) stays as it is.
        if let topmostNewDirectory {
            try? FileManager.default.removeItem(atPath: topmostNewDirectory)
        } else {
            for file in newFiles { unlink(file) }
        }
    }
}
