import CollegeDB

/// The numeric JSON-RPC code of each engine error code. Domain errors use -32000...-32099;
/// clients should branch on the string in `data.code`, which is the stable part.
package enum JSONRPCErrorCodes {
    /// Codes not listed here (added later) share the generic server error.
    package static let genericServerError = -32000

    package static let table: [CollegeDBError.Code: Int] = [
        .invalidParams: -32602,
        .internalError: -32603,
        .shardNotFound: -32001,
        .mappingNotFound: -32002,
        .queryFailed: -32003,
        .invalidTableName: -32004,
        .shardNotEmpty: -32006,
        .shardUnavailable: -32007,
        .noShards: -32008,
        .flushDisabled: -32009,
        .requestTooLarge: -32010,
        .overloaded: -32011,
        .migrationInProgress: -32012,
        .storageFull: -32013,
        .mappingStoreFailed: -32014,
        .keyConflict: -32015,
        .shardExists: -32016,
        .statementRefused: -32017,
        .statementTimeout: -32018,
        .forbidden: -32019,
        .cancelled: -32020,
        .dataDirectoryInUse: -32021,
        .resultTooLarge: -32022,
        .planNotFound: -32023,
        .configRefused: -32024,
        .unsupportedOnBackend: -32025,
        .resultOutOfRange: -32026,
    ]

    package static func numericCode(for code: CollegeDBError.Code) -> Int {
        table[code] ?? genericServerError
    }
}
