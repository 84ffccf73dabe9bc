import CollegeDB
import CollegeDBRPC
import Foundation
import Testing

/// The documents users hold (`docs/protocol.md`, the man pages, the Swift client's error codes)
/// against what the daemon really serves, so that they cannot drift apart.
@Suite(.blocksWhileWaiting) struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The cells of the Markdown table rows of `text` that start with a code span.
    static func tableRows(_ text: Substring) -> [[String]] {
        text.split(separator: "\n").filter { $0.hasPrefix("| `") || $0.hasPrefix("| (none)") }.map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// The text of the section that starts with `heading`, up to the next heading of its level.
    static func section(_ heading: String, of text: String) throws -> Substring {
        let start = try #require(text.range(of: "\n" + heading + "\n")).upperBound
        let level = heading.prefix { $0 == "#" }
        let end = text.range(of: "\n" + level + " ", range: start..<text.endIndex)?.lowerBound ?? text.endIndex
        return text[start..<end]
    }

    /// The output of running `executable` with `arguments`.
    static func output(of executable: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text
    }

    @Test func theProtocolReferenceListsEveryServedMethodWithItsParamsInOrder() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let document = try #require(try daemon.connect().result("rpc.discover") as? [String: Any])
        let methods = try #require(document["methods"] as? [[String: Any]])
        var served: [String: [String]] = [:]
        for method in methods {
            let name = try #require(method["name"] as? String)
            let params = try #require(method["params"] as? [[String: Any]])
            served[name] = try params.map { param in
                let name = try #require(param["name"] as? String)
                return (param["required"] as? Bool ?? false) ? "`\(name)`" : "`\(name)`?"
            }
        }

        let methodSection = try Self.section("## Methods", of: try Self.text("docs/protocol.md"))
        var documented: [String: [String]] = [:]
        for row in Self.tableRows(methodSection) where row.count == 4 {
            let name = row[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            #expect(documented[name] == nil, "\(name) is documented twice")
            documented[name] = row[1] == "—" ? [] : row[1].components(separatedBy: ", ")
        }
        #expect(
            Set(documented.keys) == Set(served.keys),
            "documented but not served: \(Set(documented.keys).subtracting(served.keys)); served but not documented: \(Set(served.keys).subtracting(documented.keys))"
        )
        for (name, params) in served where documented[name] != nil {
            #expect(documented[name] == params, "\(name): documented \(documented[name]!), served \(params)")
        }
    }

    @Test func theErrorTableHasEveryCodeTheServerHasWithItsNumber() throws {
        let errors = try Self.section("## Errors", of: try Self.text("docs/protocol.md"))
        var documented: [String: Int] = [:]
        for row in Self.tableRows(errors) where row[0].hasPrefix("`") {
            documented[row[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = Int(row[1])
        }
        let server = Dictionary(uniqueKeysWithValues: JSONRPCErrorCodes.table.map { ($0.key.rawValue, $0.value) })
        #expect(documented == server)
    }

    /// The Swift client names every code a client can receive, and no code the server never sends.
    @Test func theSwiftClientKnowsExactlyTheCodesAClientCanReceive() throws {
        let source = try Self.text("clients/swift/Sources/CollegeDBClient/CollegeDBClientError.swift")
        let pattern = try NSRegularExpression(pattern: #"Code\(rawValue: "([A-Z_]+)"\)"#)
        let client = Set(
            pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)).map {
                String(source[Range($0.range(at: 1), in: source)!])
            }
        )
        // Never in an answer: CANCELLED has no one to go to; DATA_DIRECTORY_IN_USE stops a start.
        let neverSent: Set = ["CANCELLED", "DATA_DIRECTORY_IN_USE"]
        let standard: Set = ["PARSE_ERROR", "INVALID_REQUEST", "METHOD_NOT_FOUND"]
        let transport: Set = ["CONNECTION_FAILED", "CONNECTION_LOST", "TIMEOUT", "INVALID_RESPONSE"]
        let sent = Set(JSONRPCErrorCodes.table.keys.map(\.rawValue)).subtracting(neverSent)
        #expect(
            client == sent.union(standard).union(transport),
            "missing: \(sent.subtracting(client)); not sent: \(client.subtracting(sent).subtracting(standard).subtracting(transport))"
        )
    }

    @Test func theDaemonsManPageDescribesEveryOption() throws {
        let help = try Self.output(of: Daemon.binary, ["--help"])
        let options = Set(help.matches(of: /--[a-z][a-z-]+/).map { String($0.output) })
        #expect(options.count > 20)
        let manual = try Self.text("docs/man/collegedbd.8")
        for option in options {
            let name = option.dropFirst(2)
            #expect(
                manual.contains(".It Fl -\(name)") || manual.contains(", -\(name)\n"),
                "collegedbd.8 lacks \(option): run scripts/man"
            )
        }
    }

    @Test func theShellClientsManPageAndCompletionKnowEveryCommand() throws {
        let commands = try Self.output(of: SystemdUnitTests.shellClient, ["--list-commands"])
            .split(separator: "\n").map(String.init)
        #expect(commands.contains("reload") && commands.contains("metrics") && commands.count > 40)
        let manual = try Self.text("docs/man/collegedb.1")
        for command in commands {
            #expect(
                manual.contains(".B " + command.replacingOccurrences(of: "-", with: "\\-")),
                "collegedb.1 lacks \(command)"
            )
        }
        // bash completion offers the commands the client lists.
        let completion = Self.root.appendingPathComponent("clients/shell/collegedb.bash-completion").path
        let offered = try Self.output(
            of: URL(fileURLWithPath: "/bin/bash"),
            [
                "-c",
                #"source "$1"; COMP_WORDS=("$2" re); COMP_CWORD=1; _collegedb; printf '%s\n' "${COMPREPLY[@]}""#,
                "bash", completion, SystemdUnitTests.shellClient.path,
            ]
        )
        #expect(
            offered.split(separator: "\n").map(String.init) == commands.filter { $0.hasPrefix("re") },
            "\(offered)"
        )
    }
}
