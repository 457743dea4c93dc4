/// A QR Code (Model 2) symbol holding bytes in byte mode, ISO/IEC 18004.
///
/// ```swift
/// let code = try QRCode(text: pairingString, errorCorrection: .medium)
/// let uri = code.pngDataURI()   // "data:image/png;base64,..."
/// ```
public struct QRCode: Sendable, Hashable {
    /// How many codewords are spent on recovery: about 7 %, 15 %, 25 % and 30 % of the symbol.
    public enum ErrorCorrection: Sendable, Hashable, CaseIterable {
        case low, medium, quartile, high
    }

    public enum EncodingError: Error, Sendable, Hashable {
        /// Even version 40 (or the versions from the requested minimum) cannot hold `byteCount` bytes.
        case dataTooLong(byteCount: Int, maximumByteCount: Int)
        /// Masks are numbered 0 through 7.
        case invalidMask(Int)
        /// Versions are numbered 1 through 40.
        case invalidVersion(Int)
    }

    /// 1 through 40; the side is `4 · version + 17` modules.
    public let version: Int
    public let errorCorrection: ErrorCorrection
    /// The data mask pattern (0–7) applied to the symbol.
    public let mask: Int
    /// Row-major, `true` is dark.
    let modules: [Bool]

    /// Modules per side, without quiet zone.
    public var size: Int { version * 4 + 17 }

    /// Whether the module at column `x`, row `y` is dark; (0, 0) is the top-left corner.
    public subscript(x: Int, y: Int) -> Bool {
        precondition((0..<size).contains(x) && (0..<size).contains(y), "module (\(x), \(y)) outside a \(size)-module symbol")
        return modules[y * size + x]
    }

    /// Encodes `bytes` in the smallest version, from `minimumVersion` up, that holds them at
    /// `errorCorrection`. Without a `mask`, the one with the lowest penalty score is chosen.
    public init(
        bytes: some Collection<UInt8>,
        errorCorrection: ErrorCorrection = .medium,
        mask: Int? = nil,
        minimumVersion: Int = 1
    ) throws(EncodingError) {
        if let mask, !(0...7).contains(mask) { throw .invalidMask(mask) }
        guard SymbolVersion.range.contains(minimumVersion) else { throw .invalidVersion(minimumVersion) }
        let byteCount = bytes.count
        guard
            let symbolVersion = (minimumVersion...40).lazy
                .map({ SymbolVersion($0, errorCorrection) })
                .first(where: { $0.byteCapacity >= byteCount })
        else {
            throw .dataTooLong(byteCount: byteCount, maximumByteCount: SymbolVersion(40, errorCorrection).byteCapacity)
        }

        var matrix = ModuleMatrix(version: symbolVersion)
        matrix.placeCodewords(Self.codewords(for: bytes, in: symbolVersion))
        let chosenMask = mask ?? Self.bestMask(for: matrix)
        matrix.applyMask(chosenMask)
        matrix.drawFormatInformation(mask: chosenMask)

        self.version = symbolVersion.number
        self.errorCorrection = errorCorrection
        self.mask = chosenMask
        self.modules = matrix.modules
    }

    /// Encodes the UTF-8 bytes of `text` (plain ASCII for pairing strings and URLs) in byte mode.
    public init(
        text: String,
        errorCorrection: ErrorCorrection = .medium,
        mask: Int? = nil,
        minimumVersion: Int = 1
    ) throws(EncodingError) {
        try self.init(bytes: Array(text.utf8), errorCorrection: errorCorrection, mask: mask, minimumVersion: minimumVersion)
    }

    /// The final codeword sequence (ISO/IEC 18004 §7.4–7.6): the byte-mode segment padded to
    /// the data capacity, split into blocks, each followed by its Reed–Solomon codewords,
    /// and both interleaved column by column.
    static func codewords(for bytes: some Collection<UInt8>, in version: SymbolVersion) -> [UInt8] {
        let capacityBits = version.dataCodewords * 8
        var bits = BitBuffer(reservingCapacity: capacityBits)
        bits.append(0b0100, width: 4)
        bits.append(UInt32(bytes.count), width: version.byteCountIndicatorWidth)
        bits.append(contentsOf: bytes)
        bits.append(0, width: min(4, capacityBits - bits.count))  // terminator
        bits.append(0, width: (8 - bits.count % 8) % 8)
        var data = bits.bytes
        var pad: UInt8 = 0xEC
        while data.count < version.dataCodewords {
            data.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }

        let encoder = ReedSolomonEncoder(degree: version.errorCorrectionCodewordsPerBlock)
        var dataBlocks: [ArraySlice<UInt8>] = []
        var errorBlocks: [[UInt8]] = []
        var start = 0
        for length in version.dataCodewordsPerBlock {
            let block = data[start..<start + length]
            dataBlocks.append(block)
            errorBlocks.append(encoder.remainder(of: block))
            start += length
        }

        var result: [UInt8] = []
        result.reserveCapacity(version.totalCodewords)
        let longestDataBlock = dataBlocks.last?.count ?? 0
        for i in 0..<longestDataBlock {
            for block in dataBlocks where i < block.count {
                result.append(block[block.startIndex + i])
            }
        }
        for i in 0..<encoder.degree {
            for block in errorBlocks { result.append(block[i]) }
        }
        return result
    }

    /// The mask whose finished symbol scores the lowest penalty; ties go to the lower number.
    static func bestMask(for matrix: ModuleMatrix) -> Int {
        var best = (mask: 0, penalty: Int.max)
        for mask in 0...7 {
            var candidate = matrix
            candidate.applyMask(mask)
            candidate.drawFormatInformation(mask: mask)
            let penalty = MaskPenalty(candidate).total
            if penalty < best.penalty { best = (mask, penalty) }
        }
        return best.mask
    }
}
