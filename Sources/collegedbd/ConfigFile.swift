import CollegeDBJSON
import CollegeDBRPC
import Foundation

/// The config file: one JSON object whose members mirror the flags. Unknown members are errors,
/// so a typo cannot silently change nothing.
struct ConfigFile: Sendable {
    struct Shard: Sendable {
        var name: String
        var path: String?
        /// A `postgresql://` URL, for a PostgreSQL shard.
        var postgres: String?
        /// A file holding the PostgreSQL shard's password on its first line.
        var passwordFile: String?
        var weight: Double?
        var region: String?
        var priority: Double?
    }

    var socket: String?
    var socketName: String?
    var shutdownTimeout: Double?
    var socketMode: String?
    var dataDirectory: String?
    var shards: [Shard]?
    /// A `postgresql://` URL of a catalog shared by daemons.
    var catalog: String?
    /// A file holding the catalog's password on its first line.
    var catalogPasswordFile: String?
    var strategy: String?
    var readStrategy: String?
    var writeStrategy: String?
    var targetRegion: String?
    var maxDatabaseSize: Int64?
    var ownership: [String: String]?
    var hashKeys: Bool?
    var keyedDigest: Bool?
    var allowFlush: Bool?
    var maxLineBytes: Int?
    var maxConnections: Int?
    var maxConnectionsPerUser: Int?
    var maxOpenShards: Int?
    var shardDirectory: String?
    var logLevel: String?
    var statementTimeout: Double?
    var durability: String?
    var allowPragmas: [String]?
    var allowUids: [UInt32]?
    var allowGroups: [String]?
    var adminUids: [UInt32]?
    var adminGroups: [String]?
    var autoRebalance: AutoRebalance?

    /// `autoRebalance`: `true` for the defaults, or an object that overrides some of them.
    struct AutoRebalance: Sendable {
        var tolerance: Double?
        /// `.some(nil)` when the file says `null`: unthrottled.
        var rowsPerSecond: Double??
        var quietHours: String?
        var checkInterval: Double?
        var minRecords: Int64?
        var maxMoves: Int64?
    }

    struct Invalid: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "config file \(path): \(reason)" }
    }

    static func load(_ path: String) throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(path: path, reason: "cannot be read")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(data)
        } catch {
            throw Invalid(path: path, reason: "not valid JSON: \(error)")
        }
        return try ConfigFile(value, path: path)
    }

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let members) = value else { throw Invalid(path: path, reason: "must be a JSON object") }
        func string(_ value: JSONValue, _ name: String) throws -> String {
            guard case .string(let text) = value else { throw Invalid(path: path, reason: "\(name) must be a string") }
            return text
        }
        func number(_ value: JSONValue, _ name: String) throws -> Double {
            switch value {
            case .integer, .double, .number: return value.doubleValue ?? .nan
            default: throw Invalid(path: path, reason: "\(name) must be a number")
            }
        }
        func integer(_ value: JSONValue, _ name: String) throws -> Int64 {
            guard case .integer(let integer) = value else {
                throw Invalid(path: path, reason: "\(name) must be an integer")
            }
            return integer
        }
        func strings(_ value: JSONValue, _ name: String) throws -> [String] {
            guard case .array(let elements) = value else {
                throw Invalid(path: path, reason: "\(name) must be an array")
            }
            return try elements.map { try string($0, "\(name)[]") }
        }
        func uids(_ value: JSONValue, _ name: String) throws -> [UInt32] {
            guard case .array(let elements) = value else {
                throw Invalid(path: path, reason: "\(name) must be an array")
            }
            return try elements.map { element in
                guard case .integer(let uid) = element, let valid = UInt32(exactly: uid) else {
                    throw Invalid(path: path, reason: "\(name) must hold user ids")
                }
                return valid
            }
        }
        func bool(_ value: JSONValue, _ name: String) throws -> Bool {
            guard case .bool(let flag) = value else {
                throw Invalid(path: path, reason: "\(name) must be true or false")
            }
            return flag
        }
        for (name, member) in members {
            switch name {
            case "socket": socket = try string(member, name)
            case "socketName": socketName = try string(member, name)
            case "shutdownTimeout": shutdownTimeout = try number(member, name)
            case "socketMode": socketMode = try string(member, name)
            case "dataDir": dataDirectory = try string(member, name)
            case "catalog": catalog = try string(member, name)
            case "catalogPasswordFile": catalogPasswordFile = try string(member, name)
            case "strategy":
                if case .object = member {
                    readStrategy = try member["read"].map { try string($0, "strategy.read") }
                    writeStrategy = try member["write"].map { try string($0, "strategy.write") }
                } else {
                    strategy = try string(member, name)
                }
            case "targetRegion": targetRegion = try string(member, name)
            case "maxDatabaseSize": maxDatabaseSize = try integer(member, name)
            case "ownership":
                guard case .object(let tables) = member else {
                    throw Invalid(path: path, reason: "ownership must be an object of table to column")
                }
                ownership = try Dictionary(
                    tables.map { ($0.0, try string($0.1, "ownership.\($0.0)")) },
                    uniquingKeysWith: { $1 }
                )
            case "hashKeys": hashKeys = try bool(member, name)
            case "keyedDigest": keyedDigest = try bool(member, name)
            case "allowFlush": allowFlush = try bool(member, name)
            case "maxLineBytes": maxLineBytes = Int(try integer(member, name))
            case "maxConnections": maxConnections = Int(try integer(member, name))
            case "maxConnectionsPerUser": maxConnectionsPerUser = Int(try integer(member, name))
            case "maxOpenShards": maxOpenShards = Int(try integer(member, name))
            case "shardDirectory": shardDirectory = try string(member, name)
            case "logLevel": logLevel = try string(member, name)
            case "statementTimeout": statementTimeout = try number(member, name)
            case "durability": durability = try string(member, name)
            case "allowPragmas": allowPragmas = try strings(member, name)
            case "allowGroups": allowGroups = try strings(member, name)
            case "adminGroups": adminGroups = try strings(member, name)
            case "allowUids": allowUids = try uids(member, name)
            case "adminUids": adminUids = try uids(member, name)
            case "autoRebalance":
                switch member {
                case .bool(false): autoRebalance = nil
                case .bool(true): autoRebalance = AutoRebalance()
                case .object(let fields):
                    var policy = AutoRebalance()
                    for (field, value) in fields {
                        let label = "autoRebalance.\(field)"
                        switch field {
                        case "tolerance": policy.tolerance = try number(value, label)
                        case "rowsPerSecond":
                            policy.rowsPerSecond = value == .null ? .some(nil) : try number(value, label)
                        case "quietHours": policy.quietHours = try string(value, label)
                        case "checkInterval": policy.checkInterval = try number(value, label)
                        case "minRecords": policy.minRecords = try integer(value, label)
                        case "maxMoves": policy.maxMoves = try integer(value, label)
                        default: throw Invalid(path: path, reason: "autoRebalance: unknown member '\(field)'")
                        }
                    }
                    autoRebalance = policy
                default:
                    throw Invalid(path: path, reason: "autoRebalance must be true, false or an object")
                }
            case "shards":
                guard case .array(let elements) = member else {
                    throw Invalid(path: path, reason: "shards must be an array")
                }
                shards = try elements.enumerated().map { index, element in
                    let label = "shards[\(index)]"
                    guard case .object(let fields) = element, let name = element["name"] else {
                        throw Invalid(path: path, reason: "\(label) must be an object with a name")
                    }
                    var shard = Shard(name: try string(name, "\(label).name"))
                    for (field, value) in fields {
                        switch field {
                        case "name": break
                        case "path": shard.path = try string(value, "\(label).path")
                        case "postgres": shard.postgres = try string(value, "\(label).postgres")
                        case "passwordFile": shard.passwordFile = try string(value, "\(label).passwordFile")
                        case "weight": shard.weight = try number(value, "\(label).weight")
                        case "region": shard.region = try string(value, "\(label).region")
                        case "priority": shard.priority = try number(value, "\(label).priority")
                        default: throw Invalid(path: path, reason: "\(label): unknown member '\(field)'")
                        }
                    }
                    return shard
                }
            default:
                throw Invalid(path: path, reason: "unknown member '\(name)'")
            }
        }
    }
}
