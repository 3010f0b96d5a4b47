// Fuzz target: PathEncoding.segment / formValue and their inverse PathEncoding.decode.
import FuzzSupport
import MediationCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    let text = String(decoding: input, as: UTF8.self)
    let segment = PathEncoding.segment(text)
    for byte in segment.utf8 {
        let unreserved =
            (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57)
            || byte == 45 || byte == 46 || byte == 95 || byte == 126
        if !unreserved && byte != 37 { violated("segment left \(byte) unencoded", input: input) }
    }
    if PathEncoding.decode(Substring(segment)) != text { violated("decode(segment(x)) != x", input: input) }
    let form = PathEncoding.formValue(text)
    if PathEncoding.decode(Substring(form), plusAsSpace: true) != text {
        violated("decode(formValue(x), plusAsSpace) != x", input: input)
    }
    // Decoding arbitrary text (a request path) never traps; what it decodes re-encodes to an equivalent.
    for plus in [false, true] {
        if let decoded = PathEncoding.decode(Substring(text), plusAsSpace: plus),
            PathEncoding.decode(Substring(PathEncoding.segment(decoded))) != decoded
        {
            violated("round trip of a decoded path", input: input)
        }
    }
    return 0
}
