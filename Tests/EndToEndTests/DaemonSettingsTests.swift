import CollegeDB
import CollegeDBJSON
import CollegeDBServer
import Testing

@testable import collegedbd

/// How flags and the config file combine into the daemon's settings.
@Suite(.blocksWhileWaiting) struct DaemonSettingsTests {
    func file(_ text: String) throws -> ConfigFile {
        try ConfigFile(try JSONParser.parse(Array(text.utf8)), path: "test.json")
    }

    func settings(
        _ flags: [String],
        _ text: String = "{}",
        activation: SystemdSocketActivation = .init(sockets: [])
    )
        throws -> DaemonSettings
    {
        try DaemonSettings(
            options: try DaemonOptions.parse(flags),
            file: try file(text),
            activation: activation,
            environment: [:]
        )
    }

    @Test func aFlagWinsOverTheConfigFile() throws {
        let text =
            #"{"dataDir": "/srv/c", "strategy": "random", "maxDatabaseSize": 100, "shards": [{"name": "a", "region": "weur", "priority": 2}]}"#
        let fromFile = try settings([], text)
        #expect(fromFile.database.strategy == RoutingStrategy(.random))
        #expect(fromFile.database.shards.map(\.name) == ["a"])
        #expect(fromFile.database.shards.first?.region == .weur)
        #expect(fromFile.database.maxDatabaseSize == 100)
        #expect(fromFile.server.listener == .path("/srv/c/collegedb.sock"))
        let flagged = try settings(
            [
                "--strategy", "hash", "--write-strategy", "round-robin", "--shard", "x=/d/x.db", "--max-database-size",
                "5",
            ],
            text
        )
        #expect(flagged.database.strategy == RoutingStrategy(read: .hash, write: .roundRobin))
        #expect(flagged.database.shards == [ShardDescriptor(name: "x", path: "/d/x.db")])
        #expect(flagged.database.maxDatabaseSize == 5)
    }

    @Test func theDataDirectoryIsTheFirstOfSystemdsStateDirectories() throws {
        func dataDirectory(_ environment: [String: String], _ flags: [String] = []) throws -> String {
            try DaemonSettings(
                options: try DaemonOptions.parse(flags),
                file: try file("{}"),
                activation: .init(sockets: []),
                environment: environment
            ).database.dataDirectory
        }
        // The package's unit names two state directories: the data, then the backups.
        #expect(
            try dataDirectory(["STATE_DIRECTORY": "/var/lib/collegedb:/var/lib/collegedb-backups"])
                == "/var/lib/collegedb"
        )
        #expect(try dataDirectory(["STATE_DIRECTORY": "/var/lib/collegedb"]) == "/var/lib/collegedb")
        #expect(try dataDirectory([:]).hasSuffix("/" + DaemonSettings.defaultDataDirectory))
        #expect(try dataDirectory(["STATE_DIRECTORY": "/a:/b"], ["--data-dir", "/c"]) == "/c")
    }

    @Test func connectionLimitsComeFromFlagsOverTheFile() throws {
        #expect(try settings([]).server.connectionLimits == ConnectionLimits(maximum: 1024, maximumPerUser: 256))
        let text = #"{"maxConnections": 50, "maxConnectionsPerUser": 5}"#
        #expect(try settings([], text).server.connectionLimits == ConnectionLimits(maximum: 50, maximumPerUser: 5))
        #expect(
            try settings(["--max-connections-per-user", "7"], text).server.connectionLimits
                == ConnectionLimits(maximum: 50, maximumPerUser: 7)
        )
        #expect(throws: DaemonSettings.Invalid.self) { try settings(["--max-connections", "0"]) }
        #expect(throws: DaemonSettings.Invalid.self) { try settings([], #"{"maxConnectionsPerUser": -1}"#) }
        #expect(throws: DaemonSettings.Invalid.self) { try settings(["--max-connections", "9223372036854775807"]) }
    }

    @Test func autoRebalanceIsOffUnlessConfigured() throws {
        #expect(try settings([]).database.autoRebalance == nil)
        #expect(try settings([], #"{"autoRebalance": false}"#).database.autoRebalance == nil)
        #expect(try settings([], #"{"autoRebalance": true}"#).database.autoRebalance == AutoRebalancePolicy())
        let policy = try #require(
            try settings(
                [],
                #"{"autoRebalance": {"tolerance": 1.5, "rowsPerSecond": null, "quietHours": "23:00-05:30", "checkInterval": 60, "minRecords": 10, "maxMoves": 500}}"#
            ).database.autoRebalance
        )
        #expect(
            policy
                == AutoRebalancePolicy(
                    tolerance: 1.5,
                    rowsPerSecond: nil,
                    quietHours: QuietHours(parsing: "23:00-05:30"),
                    checkInterval: .seconds(60),
                    minimumRecords: 10,
                    maxMoves: 500
                )
        )
    }

    @Test func mixedStrategiesLocationsAndOwnership() throws {
        let text =
            #"{"strategy": {"read": "hash", "write": "location"}, "targetRegion": "apac", "ownership": {"posts": "user_id"}}"#
        let combined = try settings(["--shard-location", "db-2=oc:3", "--owner", "likes=user_id"], text)
        #expect(combined.database.strategy == RoutingStrategy(read: .hash, write: .location))
        #expect(combined.database.targetRegion == .apac)
        #expect(combined.database.shards.first { $0.name == "db-2" }?.region == .oc)
        #expect(combined.database.shards.first { $0.name == "db-2" }?.priority == 3)
        #expect(combined.database.ownership == ["posts": "user_id", "likes": "user_id"])
    }

    @Test func anInheritedSocketIsServedInsteadOfTheSocketPath() throws {
        let activated = try settings(
            ["--socket", "/tmp/x.sock"],
            activation: .init(sockets: [.init(descriptor: 3, name: "collegedb")])
        )
        #expect(activated.server.listener == .inherited(descriptor: 3, name: "collegedb"))
    }

    @Test(arguments: [
        (#"{"colour": "blue"}"#, "unknown member 'colour'"),
        (#"{"strategy": "fastest"}"#, "hash, round-robin, random or location"),
        (#"{"shards": [{"name": "a", "regoin": "weur"}]}"#, "unknown member 'regoin'"),
        (#"{"targetRegion": "mars"}"#, "unknown region 'mars'"),
        (#"{"socketMode": "999"}"#, "octal permission bits"),
        (#"{"maxDatabaseSize": -1}"#, "must be positive"),
    ])
    func mistakesAreNamed(text: String, message: String) {
        do {
            _ = try settings([], text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
