import CollegeDB
import CoreMetrics

/// Per-method request counts, errors by code and latency, through swift-metrics: whatever
/// backend the process bootstrapped (the daemon: Prometheus) receives them; without one they
/// cost nothing. Methods outside the table share the label `other`, so that names a client
/// makes up cannot grow the set of series.
struct RequestMetrics: Sendable {
    private struct MethodSeries: Sendable {
        let requests: Counter
        let duration: Timer
    }

    private let series: [String: MethodSeries]
    private let other: MethodSeries

    init(methods: MethodTable) {
        func makeSeries(_ method: String) -> MethodSeries {
            MethodSeries(
                requests: Counter(label: "collegedb_requests_total", dimensions: [("method", method)]),
                duration: Timer(label: "collegedb_request_duration_seconds", dimensions: [("method", method)])
            )
        }
        series = Dictionary(uniqueKeysWithValues: methods.methods.map { ($0.name, makeSeries($0.name)) })
        other = makeSeries("other")
    }

    /// Counts one call of `method` that took `elapsed`, and its error's code when it failed.
    func record(method: String, elapsed: Duration, errorCode: String?) {
        let known = series[method]
        let chosen = known ?? other
        chosen.requests.increment()
        chosen.duration.recordNanoseconds(
            elapsed.wholeNanoseconds
        )
        if let errorCode {
            Counter(
                label: "collegedb_request_errors_total",
                dimensions: [("method", known == nil ? "other" : method), ("code", errorCode)]
            ).increment()
        }
    }
}
