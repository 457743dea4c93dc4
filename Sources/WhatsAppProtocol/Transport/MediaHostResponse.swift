import Foundation

/// What a media host answered: the status and a small body (JSON for uploads).
public struct MediaHostResponse: Sendable, Equatable {
    public var status: Int
    public var body: Data
}
