import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import Logging

/// Fetches the files of incoming messages that arrived as `IncomingMedia.Content.remote`, in
/// the background, never holding up the message or its `message.received` event.
///
/// Guarantees:
/// - The queue is the database: a message keeps its download source until its file is `ready`
///   or `failed`, so a download pending or running at a crash is started again after the restart
///   (``resumeAwaiting()``); a file is never half-stored (the blob store keeps only whole files).
/// - At most ``Configuration/concurrency`` downloads run at once; a file announced larger than
///   ``Configuration/maximumFileSize`` is `failed` without a byte fetched.
/// - A failure for a passing reason (network, the session offline, a host's 5xx) is retried after
///   the delays of ``Configuration/retryDelays``, the message `pending` meanwhile; a permanent one
///   (gone from the hosts, too large, does not verify) or the last retry's failure makes it
///   `failed`, and a failed file is never served.
/// - The message's `media.status` shows each step: `pending`, `downloading`, then `ready` or
///   `failed` (docs/webhooks.md: clients poll the message, or fetch the file once `ready`).
actor MediaDownloads {
    struct Configuration: Sendable {
        var maximumFileSize: Int
        var concurrency: Int
        var retryDelays: [Duration]

        static let defaultConcurrency = 4
        static let defaultRetryDelays: [Duration] = [1, 2, 4, 8, 16, 30, 60, 60].map { .seconds($0) }

        init(maximumFileSize: Int, concurrency: Int = defaultConcurrency, retryDelays: [Duration] = defaultRetryDelays) {
            self.maximumFileSize = maximumFileSize
            self.concurrency = max(1, concurrency)
            self.retryDelays = retryDelays
        }
    }

    private let store: any GatewayStore
    private let blobs: any BlobStore
    /// Where engines write files being fetched (on the blob store's file system).
    private let scratch: URL
    private let configuration: Configuration
    private let logger: Logger
    private var engines: (@Sendable (SessionID) async -> (any WhatsAppEngine)?)?

    private var running: [MessageID: Task<Void, Never>] = [:]
    private var slotsInUse = 0
    private var slotWaiters: [CheckedContinuation<Void, Never>] = []
    private var isShutDown = false

    init(store: any GatewayStore, blobs: any BlobStore, scratch: URL, configuration: Configuration, logger: Logger) {
        self.store = store
        self.blobs = blobs
        self.scratch = scratch
        self.configuration = configuration
        self.logger = logger
    }

    /// How downloads find the engine of a session (the session hub, which is built after this).
    func attach(engines: @escaping @Sendable (SessionID) async -> (any WhatsAppEngine)?) {
        self.engines = engines
    }

    /// Starts fetching the file of `message` (stored with a download source) unless it is already being fetched.
    func enqueue(_ message: Message) {
        guard !isShutDown, running[message.id] == nil, let media = message.media, let source = media.downloadSource else { return }
        let id = message.id
        running[id] = Task { [weak self] in
            await self?.download(id, in: message.sessionID, media: media, source: source)
            await self?.finished(id)
        }
    }

    /// After a restart: every file still awaited is fetched again from the start; only `session`'s
    /// when given (with several nodes, each fetches the files of the sessions it takes).
    func resumeAwaiting(session: SessionID? = nil) async {
        do {
            let awaiting = try await store.messagesAwaitingMedia().filter { session == nil || $0.sessionID == session }
            if !awaiting.isEmpty { logger.info("resuming media downloads", metadata: ["count": "\(awaiting.count)"]) }
            for message in awaiting { enqueue(message) }
        } catch {
            logger.error("could not list the media downloads to resume", metadata: ["error": "\(error)"])
        }
    }

    /// Stops every download; what was not finished stays queued in the database for the next start.
    func shutdown() async {
        isShutDown = true
        let tasks = running.values
        for task in tasks { task.cancel() }
        for waiter in slotWaiters { waiter.resume() }
        slotWaiters = []
        for task in tasks { await task.value }
    }

    /// Whether a download of this message runs (or waits for a slot or a retry) in this process.
    func isActive(_ id: MessageID) -> Bool { running[id] != nil }

    private func finished(_ id: MessageID) {
        running[id] = nil
    }

    private func acquireSlot() async {
        if slotsInUse < configuration.concurrency {
            slotsInUse += 1
            return
        }
        await withCheckedContinuation { slotWaiters.append($0) }
    }

    private func releaseSlot() {
        if slotWaiters.isEmpty {
            slotsInUse -= 1
        } else {
            slotWaiters.removeFirst().resume()
        }
    }

    private enum Outcome {
        case stored(BlobReference)
        case failed(String, permanent: Bool)
    }

    private func download(_ id: MessageID, in session: SessionID, media: MediaAttachment, source: String) async {
        var media = media
        var failures = 0
        while !Task.isCancelled {
            await acquireSlot()
            if Task.isCancelled || isShutDown {
                releaseSlot()
                return
            }
            media.status = .downloading
            await update(id, in: session, to: media)
            let outcome = await fetch(source, in: session)
            releaseSlot()
            // A download cut off by shutdown stays queued as it is in the database.
            if Task.isCancelled { return }
            switch outcome {
            case .stored(let blob):
                media.status = .ready
                media.blobHash = blob.hash
                media.size = blob.size
                media.downloadSource = nil
                await update(id, in: session, to: media)
                logger.debug("media downloaded", metadata: ["message": "\(id)", "size": "\(blob.size)"])
                return
            case .failed(let reason, let permanent):
                if permanent || failures >= configuration.retryDelays.count {
                    media.status = .failed
                    media.downloadSource = nil
                    await update(id, in: session, to: media)
                    logger.warning(
                        "media download failed", metadata: ["message": "\(id)", "reason": "\(reason)", "attempts": "\(failures + 1)"])
                    return
                }
                media.status = .pending
                await update(id, in: session, to: media)
                logger.info(
                    "media download failed; retrying", metadata: ["message": "\(id)", "reason": "\(reason)", "attempt": "\(failures + 1)"])
                try? await Task.sleep(for: configuration.retryDelays[failures])
                failures += 1
            }
        }
    }

    private func fetch(_ source: String, in session: SessionID) async -> Outcome {
        guard let engine = await engines?(session) else { return .failed("the session's engine is not running", permanent: false) }
        guard let downloader = engine as? any RemoteMediaDownloading else {
            return .failed("this session's engine does not fetch media", permanent: true)
        }
        let path = scratch.appendingPathComponent("download-\(UUID().uuidString)").path
        do {
            try await downloader.downloadMedia(source, to: path, maximumBytes: configuration.maximumFileSize)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            return .failed(error.reason, permanent: error.isPermanent)
        }
        do {
            return .stored(try await blobs.adopt(file: path))
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            return .failed("could not store the file: \(error)", permanent: false)
        }
    }

    private func update(_ id: MessageID, in session: SessionID, to media: MediaAttachment) async {
        do {
            _ = try await store.updateMedia(of: id, in: session, to: media) { _ in [] }
        } catch {
            logger.error("could not record a media download's state", metadata: ["message": "\(id)", "error": "\(error)"])
        }
    }
}
