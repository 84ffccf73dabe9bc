import UnixSocketAddress

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Prepares the path of a socket the daemon binds itself: a stale socket file (nobody listening)
/// is removed; a live one, or a file that is not a socket, is an error.
enum UnixSocketPath {
    struct InUse: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot listen on \(path): \(reason)" }
    }

    static func prepare(_ path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw InUse(path: path, reason: "the file exists and is not a socket")
        }
        guard !isListening(path) else {
            throw InUse(path: path, reason: "another process is listening there (is a daemon already running?)")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw InUse(path: path, reason: "the stale socket file cannot be removed (errno \(errno))")
        }
    }

    /// Whether something accepts connections at `path`.
    static func isListening(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return UnixSocketAddress.connect(descriptor, to: path) == 0
    }

    /// Removes the socket file the daemon bound, if it is still there.
    static func remove(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return }
        unlink(path)
    }

    static func setMode(_ path: String, _ mode: UInt16) throws {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw InUse(path: path, reason: "cannot set the socket's mode (errno \(errno))")
        }
    }
}
