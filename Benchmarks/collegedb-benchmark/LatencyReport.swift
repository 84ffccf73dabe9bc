/// Latencies of one run: percentiles in microseconds and throughput.
struct LatencyReport {
    let label: String
    let connections: Int
    let samples: [Double]
    let seconds: Double

    init(label: String, connections: Int, nanoseconds: [UInt64], seconds: Double) {
        self.label = label
        self.connections = connections
        samples = nanoseconds.map { Double($0) / 1000 }.sorted()
        self.seconds = seconds
    }

    func percentile(_ p: Double) -> Double {
        samples.isEmpty ? .nan : samples[min(samples.count - 1, Int(Double(samples.count) * p))]
    }

    var p50: Double { percentile(0.50) }
    var p99: Double { percentile(0.99) }
    var mean: Double { samples.isEmpty ? .nan : samples.reduce(0, +) / Double(samples.count) }
    var throughput: Double { Double(samples.count) / seconds }

    var row: String {
        "| \(label) | \(connections) | \(format(p50)) | \(format(p99)) | \(format(throughput, digits: 0)) |"
    }

    private func format(_ value: Double, digits: Int = 1) -> String {
        let scale = digits == 0 ? 1.0 : 10.0
        let rounded = (value * scale).rounded() / scale
        return digits == 0 ? String(Int(rounded)) : String(rounded)
    }
}
