import Foundation

/// Where a device's state lives between runs: its credentials from the start, and what pairing
/// established. The gateway implements it over its database; `InMemoryDeviceStore` serves tests
/// and throwaway sessions.
public protocol DeviceStore: Sendable {
    func loadCredentials() async throws -> DeviceCredentials?
    func saveCredentials(_ credentials: DeviceCredentials) async throws
    /// The linked account, or nil while the device is not paired.
    func loadPairedDevice() async throws -> PairedDevice?
    func savePairedDevice(_ device: PairedDevice) async throws
    /// Forgets everything, after a logout or when the phone removed the device.
    func removeAll() async throws
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
    private var pairedDevice: PairedDevice?

    public init(credentials: DeviceCredentials? = nil, pairedDevice: PairedDevice? = nil) {
        self.credentials = credentials
        self.pairedDevice = pairedDevice
    }

    public func loadCredentials() async throws -> DeviceCredentials? { credentials }

    public func saveCredentials(_ credentials: DeviceCredentials) async throws {
        self.credentials = credentials
    }

    public func loadPairedDevice() async throws -> PairedDevice? { pairedDevice }

    public func savePairedDevice(_ device: PairedDevice) async throws {
        pairedDevice = device
    }

    public func removeAll() async throws {
        credentials = nil
        pairedDevice = nil
    }
}
