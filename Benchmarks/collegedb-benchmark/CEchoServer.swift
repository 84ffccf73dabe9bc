import Foundation

/// Builds and starts `Benchmarks/c-echo-server/echo.c`: the transport's limit.
enum CEchoServer {
    static func start(socket: String, in directory: String) throws -> Process {
        let source = CollegeDBBenchmark.binaryDirectory
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Benchmarks/c-echo-server/echo.c").path
        let binary = directory + "/echo"
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        compiler.arguments = ["-O2", "-pthread", "-o", binary, source]
        try compiler.run()
        compiler.waitUntilExit()
        guard compiler.terminationStatus == 0 else { throw BenchmarkFailure("cc \(source) failed") }
        return try CollegeDBBenchmark.startProcess(URL(fileURLWithPath: binary), [socket], socket: socket)
    }
}
