import Foundation

/// The 4 bytes a client sends once before its first frame: "WA", the protocol magic 6 and the
/// token dictionary version (whatsmeow socket/constants.go: WAConnHeader). They are also the
/// Noise prologue.
public enum ConnectionHeader {
    public static let magic: UInt8 = 6
    public static let bytes = Data([UInt8(ascii: "W"), UInt8(ascii: "A"), magic, TokenDictionary.version])
}

public enum FrameError: Error, Equatable, Sendable {
    case tooLarge(Int)
}

/// Outgoing frames: the connection header before the first one, then a 3-byte big-endian
/// length and the payload.
public struct FrameEncoder: Sendable {
    /// Frames carry a 24-bit length.
    public static let maximumPayloadSize = (1 << 24) - 1

    private var headerSent = false
    private let header: Data

    public init(header: Data = ConnectionHeader.bytes) {
        self.header = header
    }

    public mutating func encode(_ payload: Data) throws(FrameError) -> Data {
        guard payload.count <= Self.maximumPayloadSize else { throw .tooLarge(payload.count) }
        var frame = Data()
        frame.reserveCapacity(payload.count + 7)
        if !headerSent {
            frame += header
            headerSent = true
        }
        frame += [UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF)]
        frame += payload
        return frame
    }
}

/// Incoming frames reassembled from WebSocket messages: a message may hold several frames or
/// only part of one.
public struct FrameDecoder: Sendable {
    private var buffer = Data()

    public init() {}

    public mutating func append(_ bytes: some DataProtocol) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, or nil until more bytes arrive.
    public mutating func nextFrame() -> Data? {
        guard buffer.count >= 3 else { return nil }
        let start = buffer.startIndex
        let length = Int(buffer[start]) << 16 | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2])
        guard buffer.count >= 3 + length else { return nil }
        let payload = buffer.subdata(in: (start + 3)..<(start + 3 + length))
        buffer.removeSubrange(start..<(start + 3 + length))
        return payload
    }

    /// Appends `bytes` and returns every frame now complete.
    public mutating func frames(appending bytes: some DataProtocol) -> [Data] {
        append(bytes)
        var frames: [Data] = []
        while let frame = nextFrame() { frames.append(frame) }
        return frames
    }

    /// Bytes received that do not yet form a whole frame.
    public var pendingByteCount: Int { buffer.count }
}
