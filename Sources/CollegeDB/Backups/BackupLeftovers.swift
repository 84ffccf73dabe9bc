import Foundation

/// The temporary directories of backups under way, listed in the data directory
/// (`backups-in-progress`, one path a line) before anything is written to them, so that a
/// backup cut short by a crash leaves nothing behind once the daemon starts again: it removes
/// each listed directory, and only directories whose name is a backup's temporary name.
struct BackupLeftovers: Sendable {
    let dataDirectory: String

    private var listPath: String { dataDirectory + "/backups-in-progress" }

    /// The temporary name beside `directory` that a backup to it is written under.
    static func temporaryPath(for directory: String) -> String {
        let url = URL(fileURLWithPath: directory)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent)\(marker)\(suffix)"
        ).path
    }

    /// What every temporary name holds, so that nothing else is ever removed.
    static let marker = ".collegedb-backup-"

    /// Notes `path` before the backup writes there.
    func add(_ path: String) throws {
        try write(paths() + [path])
    }

    /// Forgets `path` once it was renamed into place or removed.
    func remove(_ path: String) throws {
        try write(paths().filter { $0 != path })
    }

    /// Removes the temporary directories a crash left, then the list; returns what was removed.
    @discardableResult
    func removeLeftovers() throws -> [String] {
        let leftovers = paths()
        var removed: [String] = []
        for path in leftovers where URL(fileURLWithPath: path).lastPathComponent.contains(Self.marker) {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            try FileManager.default.removeItem(atPath: path)
            removed.append(path)
        }
        if !leftovers.isEmpty { try write([]) }
        return removed
    }

    private func paths() -> [String] {
        // No list (the usual case) and an unreadable one both mean nothing to remove.
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    private func write(_ paths: [String]) throws {
        guard !paths.isEmpty else {
            if FileManager.default.fileExists(atPath: listPath) { try FileManager.default.removeItem(atPath: listPath) }
            return
        }
        try Data((paths.joined(separator: "\n") + "\n").utf8).write(
            to: URL(fileURLWithPath: listPath),
            options: .atomic
        )
    }
}
