import CollegeDB

extension MethodTable {
    /// `rpc.discover`: an OpenRPC document generated from `methods` and itself.
    static func discoverMethod(describing methods: [RPCMethod]) -> RPCMethod {
        let summary = "This OpenRPC document."
        let selfDescription = OpenRPCDocument.method(
            name: "rpc.discover",
            summary: summary,
            parameters: [],
            result: "an OpenRPC document"
        )
        let document = OpenRPCDocument.document(methods: methods.map(OpenRPCDocument.method) + [selfDescription])
        return RPCMethod("rpc.discover", summary, result: "an OpenRPC document") { _, _ in document }
    }
}
