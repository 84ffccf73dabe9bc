import CollegeDB

/// Prometheus' text format, written by hand for the series read at each scrape (which the
/// registry would keep after a shard left the busiest), every name under `collegedb_`.
struct PrometheusText {
    private(set) var output = ""

    /// A gauge family, written only when it has samples.
    mutating func gauge(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        guard !samples.isEmpty else { return }
        header(name, help, type: "gauge")
        for (labels, value) in samples { line("collegedb_" + name, labels, value) }
    }

    /// A counter family (its name ends in `_total`), written only when it has samples.
    mutating func counter(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        guard !samples.isEmpty else { return }
        header(name, help, type: "counter")
        for (labels, value) in samples { line("collegedb_" + name, labels, value) }
    }

    /// A histogram family of ``StatementDurations``, written only when it has samples.
    mutating func histogram(_ name: String, _ help: String, _ samples: [([(String, String)], StatementDurations)]) {
        guard !samples.isEmpty else { return }
        header(name, help, type: "histogram")
        let family = "collegedb_" + name
        for (labels, durations) in samples {
            var cumulative: UInt64 = 0
            for (bound, count) in zip(StatementDurations.bounds, durations.counts) {
                cumulative &+= count
                line(family + "_bucket", labels + [("le", Self.seconds(bound))], Double(cumulative))
            }
            line(family + "_bucket", labels + [("le", "+Inf")], Double(durations.count))
            line(family + "_sum", labels, durations.sumSeconds)
            line(family + "_count", labels, Double(durations.count))
        }
    }

    private mutating func header(_ name: String, _ help: String, type: String) {
        output += "# HELP collegedb_\(name) \(help)\n# TYPE collegedb_\(name) \(type)\n"
    }

    private mutating func line(_ series: String, _ labels: [(String, String)], _ value: Double) {
        output += series
        if !labels.isEmpty {
            output += "{" + labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",") + "}"
        }
        output += " " + Self.number(value) + "\n"
    }

    /// A value as Prometheus reads it: whole numbers without a fraction.
    private static func number(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func seconds(_ bound: Duration) -> String {
        let seconds = Double(bound.components.seconds) + Double(bound.components.attoseconds) * 1e-18
        return "\(seconds)"
    }

    /// A label value with backslashes, quotes and line breaks escaped.
    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
