import Foundation

#if FUZZING
/// libFuzzer's entry: built by scripts/fuzz with `-sanitize=fuzzer,address -DFUZZING`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let data else { return 0 }
    FuzzTarget.selected.run(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

/// Runs once before fuzzing: opens the engine and starts its thread pools, so that what lives
/// for the whole process is not taken for a leak of the first input.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<Int32>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> Int32 {
    FuzzTarget.selected.warmUp()
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point under this name: hand the process to libFuzzer.
@_cdecl("collegedb_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return llvmFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Without the fuzzer: `collegedb-fuzz TARGET FILE...` runs each file through the target once,
/// so the committed corpus (and any crash found) stays a regression check.
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: collegedb-fuzz json|lines|dispatcher|methods FILE...\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            target.run(Array(FileManager.default.contents(atPath: path) ?? Data()))
        }
        print("\(name): \(arguments.count - 1) input(s) passed")
    }
}
#endif
