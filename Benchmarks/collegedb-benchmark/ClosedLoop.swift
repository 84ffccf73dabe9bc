import Dispatch
import Foundation
import Synchronization

/// Runs `connections` closed loops for `seconds`: each thread does one operation, waits for it,
/// records its latency, and goes again, until `seconds` have passed or `until` says to stop.
enum ClosedLoop {
    static func measure(
        _ label: String,
        connections: Int,
        seconds: Double,
        until stop: @escaping @Sendable () -> Bool = { false },
        makeWorker: @Sendable (Int) throws -> (@Sendable (Int) throws -> Void)
    ) throws -> LatencyReport {
        let workers = try (0..<connections).map(makeWorker)
        let collected = Mutex<[UInt64]>([])
        let failures = Mutex<[String]>([])
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(seconds * 1e9)
        // A thread per connection: DispatchQueue.concurrentPerform would run only as many loops at
        // once as there are cores.
        let finishedAll = DispatchGroup()
        for index in 0..<connections {
            finishedAll.enter()
            Thread {
                defer { finishedAll.leave() }
                var latencies: [UInt64] = []
                latencies.reserveCapacity(200_000)
                var iteration = index
                do {
                    while true {
                        let before = DispatchTime.now().uptimeNanoseconds
                        if before >= deadline || stop() { break }
                        try workers[index](iteration)
                        latencies.append(DispatchTime.now().uptimeNanoseconds - before)
                        iteration += connections
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                let finished = latencies
                collected.withLock { $0.append(contentsOf: finished) }
            }.start()
        }
        finishedAll.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failure = failures.withLock({ $0.first }) { throw BenchmarkFailure("\(label): \(failure)") }
        return LatencyReport(
            label: label,
            connections: connections,
            nanoseconds: collected.withLock { $0 },
            seconds: elapsed
        )
    }
}
