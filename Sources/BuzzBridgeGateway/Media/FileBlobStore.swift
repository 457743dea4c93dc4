import BuzzBridgeEngines
import Crypto
import Foundation
import Hummingbird
import NIOPosix
import Synchronization

/// Blobs as files in the data folder: `media/ab/cd/abcd…` (SHA-256 of the content), written to
/// `media/tmp/` first, flushed to disk, then renamed into place (atomic on one file system).
/// A blob that already exists is not written twice. File work runs on NIO's thread pool, never on
/// the event loops.
public struct FileBlobStore: BlobStore {
    public let root: URL
    private let threadPool: NIOThreadPool

    public init(root: URL, threadPool: NIOThreadPool = .singleton) throws {
        self.root = root
        self.threadPool = threadPool
        let manager = FileManager.default
        try manager.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Provisional files left by a crash are never blobs; they go at start.
        for leftover in (try? manager.contentsOfDirectory(atPath: root.appendingPathComponent("tmp").path)) ?? [] {
            try? manager.removeItem(at: root.appendingPathComponent("tmp").appendingPathComponent(leftover))
        }
    }

    func path(of hash: String) -> URL {
        let scalars = Array(hash)
        return root.appendingPathComponent(String(scalars[0..<2])).appendingPathComponent(String(scalars[2..<4])).appendingPathComponent(hash)
    }

    public func makeWriter() async throws -> any BlobWriter {
        let temporary = root.appendingPathComponent("tmp").appendingPathComponent(UUID().uuidString)
        let handle = try await threadPool.runIfActive { () throws -> FileHandle in
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
            }
            return try FileHandle(forWritingTo: temporary)
        }
        return FileBlobWriter(store: self, temporary: temporary, handle: handle, threadPool: threadPool)
    }

    public func adopt(file path: String) async throws -> BlobReference {
        let source = URL(fileURLWithPath: path)
        let writer = try await makeWriter()
        // Hashed while copied into the store's own folder (the file may be on another file system).
        let input = try FileHandle(forReadingFrom: source)
        do {
            while let chunk = try await threadPool.runIfActive({ try input.read(upToCount: 256 * 1024) }), !chunk.isEmpty {
                try await writer.write(Array(chunk))
            }
            try input.close()
        } catch {
            try? input.close()
            await writer.discard()
            throw error
        }
        let reference = try await writer.commit()
        try? FileManager.default.removeItem(at: source)
        return reference
    }

    /// Renames `temporary` into place as `hash`, unless that blob exists already.
    func place(_ temporary: URL, as hash: String) async throws {
        let destination = path(of: hash)
        try await threadPool.runIfActive {
            let manager = FileManager.default
            if manager.fileExists(atPath: destination.path) {
                try? manager.removeItem(at: temporary)
                return
            }
            try manager.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            if rename(temporary.path, destination.path) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination.path])
            }
        }
    }

    public func size(of hash: String) async throws -> Int? {
        guard BlobReference.isValidHash(hash) else { return nil }
        let file = path(of: hash).path
        return try await threadPool.runIfActive {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else { return nil }
            return (attributes[.size] as? NSNumber)?.intValue
        }
    }

    public func read(_ hash: String, range: ClosedRange<Int>?, context: some RequestContext) async throws -> ResponseBody {
        let file = path(of: hash).path
        let io = FileIO(threadPool: threadPool)
        if let range { return try await io.loadFile(path: file, range: range, context: context) }
        return try await io.loadFile(path: file, context: context)
    }

    public func contentSource(for hash: String) -> any MediaContentSource {
        FileContentSource(path: path(of: hash), threadPool: threadPool)
    }
}

/// Writes a new blob to a provisional file, hashing it on the way. Small pieces (an HTTP body
/// arrives in many) are gathered to ``flushSize`` before each trip to the thread pool, which the
/// server shares with other blocking work.
final class FileBlobWriter: BlobWriter {
    static let flushSize = 256 * 1024

    private struct State {
        var hasher = SHA256()
        var size = 0
        var finished = false
        var gathered: [UInt8] = []
    }

    private let store: FileBlobStore
    private let temporary: URL
    private let handle: FileHandle
    private let threadPool: NIOThreadPool
    private let state = Mutex(State())

    init(store: FileBlobStore, temporary: URL, handle: FileHandle, threadPool: NIOThreadPool) {
        self.store = store
        self.temporary = temporary
        self.handle = handle
        self.threadPool = threadPool
    }

    var size: Int { state.withLock { $0.size } }

    func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let due: [UInt8]? = state.withLock { state in
            state.hasher.update(data: bytes)
            state.size += bytes.count
            state.gathered += bytes
            guard state.gathered.count >= Self.flushSize else { return nil }
            defer { state.gathered = [] }
            return state.gathered
        }
        if let due { try await flush(due) }
    }

    private func flush(_ bytes: [UInt8]) async throws {
        let handle = handle
        try await threadPool.runIfActive { try handle.write(contentsOf: bytes) }
    }

    func commit() async throws -> BlobReference {
        let (hash, size, rest) = state.withLock { state in
            state.finished = true
            defer { state.gathered = [] }
            return (state.hasher.finalize().map { String(format: "%02x", $0) }.joined(), state.size, state.gathered)
        }
        let handle = handle
        do {
            if !rest.isEmpty { try await flush(rest) }
            // On disk before it gets its name: a crash never leaves a named blob with missing bytes.
            try await threadPool.runIfActive {
                try handle.synchronize()
                try handle.close()
            }
            try await store.place(temporary, as: hash)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return BlobReference(hash: hash, size: size)
    }

    func discard() async {
        let alreadyFinished = state.withLock { state in
            defer { state.finished = true }
            return state.finished
        }
        guard !alreadyFinished else { return }
        try? handle.close()
        try? FileManager.default.removeItem(at: temporary)
    }
}

/// A blob file read in pieces for an engine. Each piece is read when the engine asks for it, so
/// a slow consumer (an upload to WhatsApp's media hosts) never makes the file pile up in memory.
struct FileContentSource: MediaContentSource {
    static let pieceSize = 256 * 1024

    let path: URL
    let threadPool: NIOThreadPool

    func chunks() -> AsyncThrowingStream<[UInt8], any Error> {
        let reader = FileContentReader(path: path, threadPool: threadPool)
        return AsyncThrowingStream { try await reader.next() }
    }
}

/// The open file behind one ``FileContentSource/chunks()`` stream: opened on the first read,
/// closed at the end of the file or when the stream is dropped.
final class FileContentReader: Sendable {
    private let path: URL
    private let threadPool: NIOThreadPool
    private let handle = Mutex<FileHandle?>(nil)
    private let done = Atomic(false)

    init(path: URL, threadPool: NIOThreadPool) {
        self.path = path
        self.threadPool = threadPool
    }

    deinit {
        handle.withLock { try? $0?.close() }
    }

    /// The next piece; nil at the end of the file.
    func next() async throws -> [UInt8]? {
        guard !done.load(ordering: .acquiring) else { return nil }
        let path = path
        let piece = try await threadPool.runIfActive { [self] () throws -> Data? in
            try handle.withLock { handle -> Data? in
                if handle == nil { handle = try FileHandle(forReadingFrom: path) }
                let data = try handle?.read(upToCount: FileContentSource.pieceSize)
                if data?.isEmpty ?? true {
                    try? handle?.close()
                    handle = nil
                }
                return data
            }
        }
        guard let piece, !piece.isEmpty else {
            done.store(true, ordering: .releasing)
            return nil
        }
        return Array(piece)
    }
}
