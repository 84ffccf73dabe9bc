import Foundation

/// Where a PostgreSQL shard is and how to log in: parsed from a
/// `postgresql://USER@HOST:PORT/DATABASE?…` URL (`postgres://` too).
///
/// The URL never holds the password (it would show in `ps`, the journal and `health`). The
/// password is read from ``passwordFile`` when the shard's configuration names one, else from
/// the file `PGPASSFILE` names (or `~/.pgpass`), in libpq's format
/// `host:port:database:user:password` with `*` for any and `\:` for a colon; none at all is
/// fine for a server that trusts the daemon's user (a Unix socket with `peer` or `trust`).
///
/// Query parameters: `host=/DIR` (a Unix socket directory, libpq's spelling, for an empty host;
/// default `/run/postgresql`) and `port=N` (the socket's port number, default 5432),
/// `sslmode=disable|prefer|require` (default `prefer` over TCP, `disable` on a socket; `require`
/// verifies the server's certificate against the system's roots), `pool_size=N` (connections
/// the pool opens at most, default 8), `connect_timeout=SECONDS` (default 5).
public struct PostgresShardAddress: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    public var user: String
    /// A host name or address; nil for a Unix socket.
    public var host: String?
    public var port: Int
    /// The socket's directory when ``host`` is nil.
    public var socketDirectory: String?
    public var database: String
    public var tls: TLSMode
    public var poolSize: Int
    public var connectTimeout: Duration
    /// A file whose first line is the password. The default is nil: `PGPASSFILE`.
    public var passwordFile: String?

    /// Parses `url`.
    /// - Throws: `INVALID_PARAMS` saying what is wrong, and always for a URL with a password.
    public init(url: String, passwordFile: String? = nil) throws {
        guard let components = URLComponents(string: url),
            components.scheme == "postgresql" || components.scheme == "postgres"
        else {
            throw CollegeDBError.invalidParams("'\(Self.redacted(url))' is not a postgresql:// URL")
        }
        guard components.password == nil else {
            throw CollegeDBError.invalidParams(
                "a shard's URL must not hold its password: put it in a file named by the shard's passwordFile, "
                    + "or in PGPASSFILE"
            )
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { $1 }
        )
        let known: Set<String> = ["host", "port", "sslmode", "pool_size", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw CollegeDBError.invalidParams(
                "unknown URL parameter '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))"
            )
        }
        user = components.user ?? NSUserName()
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        if let host {
            self.host = host
            socketDirectory = nil
        } else {
            self.host = nil
            socketDirectory = query["host"] ?? "/run/postgresql"
        }
        guard let port = components.port ?? Int(query["port"] ?? "5432"), (1...65535).contains(port) else {
            throw CollegeDBError.invalidParams("port must be an integer from 1 to 65535")
        }
        self.port = port
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? (self.host == nil ? "disable" : "prefer")) else {
            throw CollegeDBError.invalidParams("sslmode must be disable, prefer or require")
        }
        tls = mode
        guard let size = Int(query["pool_size"] ?? "8"), (1...1000).contains(size) else {
            throw CollegeDBError.invalidParams("pool_size must be an integer from 1 to 1000")
        }
        poolSize = size
        guard let timeout = Double(query["connect_timeout"] ?? "5"), timeout > 0, timeout <= 600 else {
            throw CollegeDBError.invalidParams("connect_timeout must be a number of seconds above 0, at most 600")
        }
        connectTimeout = .milliseconds(Int64(timeout * 1000))
        self.passwordFile = passwordFile
    }

    /// The URL as shown in reports: no password ever, since it never holds one.
    public var description: String {
        let place = host.map { "\($0):\(port)" } ?? ""
        let socket = socketDirectory.map { "?host=\($0)&port=\(port)" } ?? ""
        return "postgresql://\(user)@\(place)/\(database)\(socket)"
    }

    /// The socket's path, for a Unix socket.
    var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

    /// The password: from ``passwordFile``, else the first matching line of `PGPASSFILE` (or
    /// `~/.pgpass`), else nil.
    /// - Throws: `INVALID_PARAMS` when ``passwordFile`` cannot be read.
    func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let passwordFile {
            // Why it cannot be read adds nothing an operator needs beyond the path.
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw CollegeDBError.invalidParams("the password file \(passwordFile) cannot be read")
            }
            return text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
        let file = environment["PGPASSFILE"] ?? environment["HOME"].map { "\($0)/.pgpass" }
        // No password file (or none readable) where libpq would look means no password, as for libpq.
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let wanted = [host ?? "localhost", String(port), database, user]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = Self.passFileFields(String(line))
            guard fields.count == 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A `.pgpass` line's fields: split at `:`, with `\:` and `\\` escaped.
    private static func passFileFields(_ line: String) -> [String] {
        var fields: [String] = [""]
        var escaped = false
        for character in line {
            if escaped {
                fields[fields.count - 1].append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 5 {
                fields.append("")
            } else {
                fields[fields.count - 1].append(character)
            }
        }
        return fields
    }

    /// `url` with any password replaced, for error messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgresql://…"
    }

    /// Whether `text` names a PostgreSQL shard rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }
}
