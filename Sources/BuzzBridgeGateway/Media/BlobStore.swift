import BuzzBridgeEngines
import Hummingbird

/// A stored file: its SHA-256 (lower-case hex, also its name) and its length.
public struct BlobReference: Sendable, Equatable {
    public var hash: String
    public var size: Int

    public init(hash: String, size: Int) {
        self.hash = hash
        self.size = size
    }

    /// 64 lower-case hex digits: the only names a blob store accepts (no path can be smuggled in).
    public static func isValidHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// Where media files live, named by their content. Files in the data folder today
/// (``FileBlobStore``); an S3-compatible store can implement the same four operations.
///
/// Guarantees every implementation gives: a blob is visible under its name only once it is
/// whole (a crash mid-write leaves no blob); storing content already present keeps one copy.
public protocol BlobStore: Sendable {
    /// A writer for a new blob: what is written stays provisional until ``BlobWriter/commit()``.
    func makeWriter() async throws -> any BlobWriter
    /// Moves a whole file (written by an engine) in as a blob; the file is gone afterwards.
    func adopt(file path: String) async throws -> BlobReference
    /// The blob's length, or nil when there is no such blob.
    func size(of hash: String) async throws -> Int?
    /// Bytes `range` of the blob (the whole blob when nil), streamed.
    func read(_ hash: String, range: ClosedRange<Int>?, context: some RequestContext) async throws -> ResponseBody
    /// The blob in pieces, for engines (see ``MediaContentSource``).
    func contentSource(for hash: String) -> any MediaContentSource
}

/// Receives a new blob's bytes in order.
public protocol BlobWriter: Sendable {
    /// Bytes written so far.
    var size: Int { get }
    func write(_ bytes: [UInt8]) async throws
    /// Makes the blob visible under its SHA-256 (or drops the copy when it already exists).
    func commit() async throws -> BlobReference
    /// Drops what was written.
    func discard() async
}
