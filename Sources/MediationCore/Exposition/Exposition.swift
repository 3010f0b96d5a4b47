/// Writing the Prometheus text exposition format 0.0.4.
///
/// Hand-written because swift-prometheus keeps its label escaping `fileprivate` and renders whole
/// registries on every call; the per-meter families are rendered once per change instead (see MetricStore).
public enum Exposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `# HELP` and `# TYPE` lines of one family. HELP escapes backslash and line feed.
    public static func header(name: String, type: String, help: String) -> [UInt8] {
        var out = [UInt8]()
        out.append(contentsOf: "# HELP \(name) ".utf8)
        for byte in help.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            default: out.append(byte)
            }
        }
        out.append(contentsOf: "\n# TYPE \(name) \(type)\n".utf8)
        return out
    }

    /// Appends a label value escaped as the format requires: backslash, double quote and line feed.
    public static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        // Most values need no escaping: copy them whole.
        if !utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) {
            out.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            default: out.append(byte)
            }
        }
    }

    /// Appends one sample line: `name{l1="v1",...} value\n`.
    public static func appendSample(
        _ name: String,
        labels: [(String, String)],
        value: Double,
        to out: inout [UInt8]
    ) {
        out.append(contentsOf: name.utf8)
        var first = true
        for (label, labelValue) in labels {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(contentsOf: label.utf8)
            out.append(contentsOf: "=\"".utf8)
            appendEscaped(labelValue, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        if !first { out.append(UInt8(ascii: "}")) }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: format(value).utf8)
        out.append(UInt8(ascii: "\n"))
    }

    /// One sample line of a meter-version: `name{<meterLabels>,l1="v1",l2="v2"} value\n`. The per-meter
    /// families' path: the shared labels are escaped once per meter, and no label array is built.
    static func appendSample(
        _ name: String,
        meterLabels: [UInt8],
        _ first: (String, String)? = nil,
        _ second: (String, String)? = nil,
        value: Double,
        to out: inout [UInt8]
    ) {
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: "{"))
        out.append(contentsOf: meterLabels)
        for (label, labelValue) in [first, second].lazy.compactMap({ $0 }) {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: label.utf8)
            out.append(contentsOf: "=\"".utf8)
            appendEscaped(labelValue, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: "} ".utf8)
        appendValue(value, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// `format(value)` without building a String for the common case, a small integer.
    static func appendValue(_ value: Double, to out: inout [UInt8]) {
        guard value == value.rounded(), abs(value) < 1e15 else {
            out.append(contentsOf: format(value).utf8)
            return
        }
        var integer = Int64(value)
        if integer < 0 {
            out.append(UInt8(ascii: "-"))
            integer = -integer
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[15 - count] = UInt8(ascii: "0") + UInt8(integer % 10)
                integer /= 10
                count += 1
            } while integer > 0
            out.append(contentsOf: buffer[(16 - count)...])
        }
    }

    /// Integers without a fraction, everything else in Swift's shortest round-trip form, which
    /// Prometheus parses (`+Inf`, `-Inf` and `NaN` spelled as the format wants).
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
