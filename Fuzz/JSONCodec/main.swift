// libFuzzer target for the JSON codec the daemon and the clients share: any bytes either parse
// to a value or throw; a parsed value serializes and parses back to the same value. Built by
// scripts/fuzz with `swiftc -sanitize=fuzzer` from the codec's own sources.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let text = JSONSerializer.serialize(value)
    guard let again = try? JSONParser.parse(text) else {
        fatalError("serialized text does not parse: \(String(decoding: text, as: UTF8.self))")
    }
    precondition(JSONSerializer.serialize(again) == text, "serialization is not stable")
    return 0
}
