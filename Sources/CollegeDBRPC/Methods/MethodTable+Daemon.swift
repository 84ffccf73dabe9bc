import CollegeDB
import CollegeDBJSON

extension MethodTable {
    /// The methods only a running daemon serves: `reload` and `metrics`.
    static func daemonMethods(_ control: any DaemonControl) -> [RPCMethod] {
        [
            RPCMethod(
                "reload",
                "Reads the config file again and applies it, as SIGHUP does; answers once it is applied, "
                    + "or with CONFIG_REFUSED (and the reason) when the running configuration stays.",
                result: "{success: true, added}",
                administrative: true
            ) { _, _ in
                let added = try await control.reloadConfiguration()
                return .object([("success", .bool(true)), ("added", .array(added.map(JSONValue.string)))])
            },
            RPCMethod(
                "metrics",
                "Per-method and per-shard counters and latency histograms, in Prometheus' text format.",
                result: "a string (text/plain; version=0.0.4)"
            ) { _, _ in
                .string(await control.metricsText())
            },
        ]
    }

    /// The contract's methods and the daemon's own (`reload`, `metrics`), `rpc.discover`
    /// included: what `collegedbd` serves.
    ///
    /// - Parameter control: The daemon that applies a reload and renders its metrics.
    package static func serving(_ control: any DaemonControl) -> MethodTable {
        let served = engineMethods + daemonMethods(control)
        return MethodTable(served + [discoverMethod(describing: served)])
    }
}
