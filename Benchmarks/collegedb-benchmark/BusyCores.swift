import Foundation

/// A busy loop on each core at the idle scheduling class (`chrt --idle 0`): it yields to any
/// real work, but keeps the cores from sleeping, so wake-ups cost what they cost on a loaded
/// machine rather than an idle VM's 30 µs. Every figure of the benchmark is taken with them.
final class BusyCores {
    private var loops: [Process] = []

    init() throws {
        for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
            let loop = Process()
            loop.executableURL = URL(fileURLWithPath: "/usr/bin/chrt")
            loop.arguments = ["--idle", "0", "/bin/sh", "-c", "while :; do :; done"]
            try loop.run()
            loops.append(loop)
        }
    }

    deinit {
        // SIGKILL: the loops inherit the benchmark's blocked SIGTERM.
        for loop in loops where loop.isRunning { kill(loop.processIdentifier, SIGKILL) }
    }
}
