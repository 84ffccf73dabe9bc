import CollegeDB
import CollegeDBJSON
import CollegeDBRPC
import CollegeDBServer
import Dispatch
import Foundation
import NIOCore
import NIOEmbedded

/// The fuzz targets: each takes any bytes and must neither crash nor break its invariant.
enum FuzzTarget: String, CaseIterable {
    /// The JSON codec: bytes parse or throw; what parses serializes and parses back the same.
    case json
    /// The line decoder: the same lines whether the bytes arrive at once or split in two, none
    /// longer than the limit, none holding a newline.
    case lines
    /// The dispatcher on a real engine in a temporary directory: every line gets a JSON answer
    /// or, for notifications, none, and the engine keeps answering `health`.
    case dispatcher
    /// Every method of the method table, called by an administrator with extreme numbers,
    /// names and ids (``MethodCallFuzzing``): each call is answered with its own id, exactly,
    /// and the engine keeps answering `health`.
    case methods

    func run(_ bytes: [UInt8]) {
        switch self {
        case .json: Self.checkJSON(bytes)
        case .lines: Self.checkLines(bytes)
        case .dispatcher: Self.checkDispatcher(bytes)
        case .methods: Self.checkMethodCall(bytes)
        }
    }

    /// Makes what the target keeps for the whole run (the engine, its thread pools).
    func warmUp() {
        guard self == .dispatcher || self == .methods else { return }
        for request in [
            #"{"jsonrpc":"2.0","id":1,"method":"run","params":["warm","INSERT INTO t (v) VALUES ('x')"]}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"all","params":["warm","SELECT * FROM t"]}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"allAllShards","params":["SELECT 1"]}"#,
        ] {
            Self.checkDispatcher(Array(request.utf8))
        }
    }

    private static func checkJSON(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        let text = JSONSerializer.serialize(value)
        guard let again = try? JSONParser.parse(text) else {
            fatalError("serialized text does not parse: \(String(decoding: text, as: UTF8.self))")
        }
        precondition(JSONSerializer.serialize(again) == text, "serialization is not stable")
    }

    static let lineLimit = 64

    private static func checkLines(_ bytes: [UInt8]) {
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let whole = decodedLines([bytes])
        let parts = decodedLines([Array(bytes[..<split]), Array(bytes[split...])])
        precondition(whole == parts, "splitting the input changed the lines: \(whole) vs \(parts)")
        for line in whole {
            guard case .line(let buffer) = line else { continue }
            precondition(buffer.readableBytes <= lineLimit, "a line over the limit")
            precondition(!buffer.readableBytesView.contains(UInt8(ascii: "\n")), "a line holding a newline")
        }
    }

    private static func decodedLines(_ chunks: [[UInt8]]) -> [InboundLine] {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(LengthLimitedLineDecoder(maximumLineLength: lineLimit))
        )
        for chunk in chunks { try! channel.writeInbound(ByteBuffer(bytes: chunk)) }
        _ = try! channel.finish()
        var lines: [InboundLine] = []
        while let line = try! channel.readInbound(as: InboundLine.self) { lines.append(line) }
        return lines
    }

    /// One engine for the whole run: opening one per input would measure file creation.
    private static let engineDispatcher: JSONRPCDispatcher = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("collegedb-fuzz-\(getpid())")
        var settings = ShardSettings()
        settings.statementTimeout = .milliseconds(200)
        let configuration = CollegeDBConfiguration(dataDirectory: directory.path, shardSettings: settings)
        let database = blocking { try await CollegeDB.open(configuration) }
        _ = blocking {
            try await database.createSchema("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        }
        return JSONRPCDispatcher(database: database)
    }()

    /// Not an administrator: the fuzzer must not register shard files at paths it makes up.
    private static let context = CallContext(mayAdminister: false)

    private static func checkDispatcher(_ bytes: [UInt8]) {
        let dispatcher = engineDispatcher
        if let answer = blocking({ await dispatcher.respond(toLine: bytes, context: context) }) {
            precondition((try? JSONParser.parse(answer)) != nil, "an answer that is not JSON")
        }
        let health = blocking {
            await dispatcher.respond(toLine: Array(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8))
        }
        precondition(health.map { String(decoding: $0, as: UTF8.self).contains("\"status\"") } == true, "health")
    }

    /// An administrator: the methods target calls the layout methods too, with names and
    /// paths that must be refused inside the engine's own temporary directory.
    private static let administrator = CallContext(mayAdminister: true)

    private static func checkMethodCall(_ bytes: [UInt8]) {
        let dispatcher = engineDispatcher
        guard let request = MethodCallFuzzing(methods: MethodTable.standard.methods).request(bytes) else { return }
        let answer = blocking { await dispatcher.respond(to: request, context: administrator) }
        let line = answer.map { JSONSerializer.serialize($0) } ?? []
        if let answer {
            precondition((try? JSONParser.parse(line)) == answer, "an answer that does not parse back")
            precondition(answer["id"] == request["id"], "answered with another id: \(answer) for \(request)")
        }
        let health = blocking {
            await dispatcher.respond(toLine: Array(#"{"jsonrpc":"2.0","id":1,"method":"health"}"#.utf8))
        }
        precondition(health.map { String(decoding: $0, as: UTF8.self).contains("\"status\"") } == true, "health")
    }

    /// Waits on this (non-cooperative) thread for `body`.
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> T {
        let semaphore = DispatchSemaphore(value: 0)
        let result = ResultBox<T>()
        Task {
            do {
                result.value = .success(try await body())
            } catch {
                result.value = .failure(error)
            }
            semaphore.signal()
        }
        semaphore.wait()
        return try! result.value!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable {
        var value: Result<T, any Error>?
    }

    /// The target named by `COLLEGEDB_FUZZ_TARGET`.
    static var selected: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["COLLEGEDB_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("set COLLEGEDB_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }
}
