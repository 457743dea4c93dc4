import Foundation
import Testing

@testable import WhatsAppProtocol

@Suite struct FrameCodecTests {
    @Test func headerIsSentOnceThenLengthPrefixes() throws {
        var encoder = FrameEncoder()
        let first = try encoder.encode(Data([0xAA, 0xBB]))
        let second = try encoder.encode(Data(repeating: 0xCC, count: 0x01_02_03))
        #expect(first == Data([0x57, 0x41, 0x06, 0x03, 0x00, 0x00, 0x02, 0xAA, 0xBB]))
        #expect(second.prefix(3) == Data([0x01, 0x02, 0x03]))
        #expect(second.count == 3 + 0x01_02_03)
    }

    @Test func refusesPayloadsBeyondTwentyFourBits() {
        var encoder = FrameEncoder()
        #expect(throws: FrameError.tooLarge(1 << 24)) { try encoder.encode(Data(count: 1 << 24)) }
    }

    @Test func joinsFramesSplitAcrossMessages() {
        var decoder = FrameDecoder()
        let stream = Data([0x00, 0x00, 0x03, 1, 2, 3, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 9, 8])
        var frames: [Data] = []
        // One byte per WebSocket message: the worst split.
        for byte in stream { frames += decoder.frames(appending: [byte]) }
        #expect(frames == [Data([1, 2, 3]), Data(), Data([9, 8])])
        #expect(decoder.pendingByteCount == 0)
    }

    @Test func splitsSeveralFramesInOneMessage() {
        var decoder = FrameDecoder()
        let frames = decoder.frames(appending: Data([0, 0, 1, 7, 0, 0, 2, 5, 6, 0, 0, 4, 1]))
        #expect(frames == [Data([7]), Data([5, 6])])
        #expect(decoder.pendingByteCount == 4)
        #expect(decoder.frames(appending: Data([2, 3, 4])) == [Data([1, 2, 3, 4])])
    }

    /// Random payloads, framed and cut at random points, come back whole and in order.
    @Test func randomSplitsRoundTrip() throws {
        var generator = SeededGenerator(seed: 42)
        var encoder = FrameEncoder(header: Data())
        let payloads = (0..<200).map { _ in
            Data((0..<Int.random(in: 0...3000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        var stream = Data()
        for payload in payloads { stream += try encoder.encode(payload) }
        var decoder = FrameDecoder()
        var received: [Data] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + Int.random(in: 1...5000, using: &generator))
            received += decoder.frames(appending: stream[offset..<end])
            offset = end
        }
        #expect(received == payloads)
    }
}
