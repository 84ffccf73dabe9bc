import CollegeDB

/// Every method the daemon serves, by name. The dispatcher and `rpc.discover` both read this
/// table, so the documented methods and the served ones cannot drift apart.
package struct MethodTable: Sendable {
    package let methods: [RPCMethod]
    private let indexByName: [String: Int]

    package init(_ methods: [RPCMethod]) {
        self.methods = methods
        indexByName = Dictionary(uniqueKeysWithValues: methods.enumerated().map { ($1.name, $0) })
    }

    package subscript(name: String) -> RPCMethod? { indexByName[name].map { methods[$0] } }

    /// The engine's methods: every method of the contract that the engine serves by itself.
    static var engineMethods: [RPCMethod] {
        keyedMethods + shardMethods + federationMethods + coordinatorMethods + registryMethods + mappingMethods
            + rebalanceMethods + adoptionMethods + schemaChangeMethods + backupMethods
    }

    /// The engine's methods, `rpc.discover` included: what an engine serves in process, without
    /// a daemon around it (no `reload`, no `metrics`).
    package static let standard: MethodTable = MethodTable(engineMethods + [discoverMethod(describing: engineMethods)])
}
