import Foundation

/// What opening a SQLite file at a path would create, noted before it is opened: the first
/// missing directory on the way, or the file itself and SQLite's files beside it. So that a
/// shard that is refused after its file was made leaves nothing behind.
struct CreatedFiles {
    /// The topmost path that did not exist before, or nil when the file already existed.
    private let topmostNew: String?
    private let file: String

    init(for file: String) {
        self.file = file
        var topmost: String?
        var path = file
        while path != "/", !path.isEmpty, !FileManager.default.fileExists(atPath: path) {
            topmost = path
            path = (path as NSString).deletingLastPathComponent
        }
        topmostNew = topmost
    }

    /// Removes what did not exist before, with SQLite's files beside a new database file.
    func remove() {
        guard let topmostNew else { return }
        // Best effort: what cannot be removed (it was never made) stays as it is.
        if topmostNew == file {
            for suffix in ShardFileCheck.companionSuffixes {
                try? FileManager.default.removeItem(atPath: file + suffix)
            }
        } else {
            try? FileManager.default.removeItem(atPath: topmostNew)
        }
    }
}
