import Foundation

/// Where a device's credentials live between runs. The gateway implements it over its database;
/// `InMemoryDeviceStore` serves tests and throwaway sessions.
public protocol DeviceStore: Sendable {
    func loadCredentials() async throws -> DeviceCredentials?
    func saveCredentials(_ credentials: DeviceCredentials) async throws
}

extension DeviceStore {
    /// The stored credentials, or new ones generated and saved now: keys are made exactly once.
    public func loadOrCreateCredentials() async throws -> DeviceCredentials {
        if let existing = try await loadCredentials() { return existing }
        let credentials = DeviceCredentials.generate()
        try await saveCredentials(credentials)
        return credentials
    }
}

public actor InMemoryDeviceStore: DeviceStore {
    private var credentials: DeviceCredentials?

    public init(credentials: DeviceCredentials? = nil) {
        self.credentials = credentials
    }

    public func loadCredentials() async throws -> DeviceCredentials? { credentials }

    public func saveCredentials(_ credentials: DeviceCredentials) async throws {
        self.credentials = credentials
    }
}
