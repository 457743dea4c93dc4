/// A `Range: bytes=…` request header against a file of `size` bytes (RFC 9110 §14): one range,
/// `first-last`, `first-` or `-suffix`. Several ranges are answered with the whole file (allowed).
enum ByteRange: Equatable {
    /// No usable Range header: the whole file, 200.
    case whole
    /// 206 with these bytes.
    case partial(ClosedRange<Int>)
    /// 416: no byte of the range is in the file.
    case unsatisfiable

    init(header: String?, size: Int) {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else {
            self = .whole
            return
        }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int(last) else {
                self = .whole
                return
            }
            guard suffix > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .partial(max(0, size - suffix)...(size - 1))
            return
        }
        guard let start = Int(first), start >= 0 else {
            self = .whole
            return
        }
        if last.isEmpty {
            self = start < size ? .partial(start...(size - 1)) : .unsatisfiable
            return
        }
        // A last position before the first makes the header invalid, and an invalid header is ignored.
        guard let end = Int(last), end >= start else {
            self = .whole
            return
        }
        guard start < size else {
            self = .unsatisfiable
            return
        }
        self = .partial(start...min(end, size - 1))
    }
}
