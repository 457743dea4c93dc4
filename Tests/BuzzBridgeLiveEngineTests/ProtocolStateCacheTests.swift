import Foundation
import Testing
import WhatsAppProtocol

@testable import BuzzBridgeLiveEngine

/// The cache beside the protocol store: a value read before a write never enters it afterwards,
/// and known absences are kept apart from "not cached".
@Suite struct ProtocolStateCacheTests {
    @Test func aReadOvertakenByAWriteIsNotCached() {
        let cache = ProtocolStateCache()
        let tom = JID.user("60111222333")
        let old = DeviceList(user: tom, devices: [tom], fetchedAt: .distantPast)
        let new = DeviceList(user: tom, devices: [tom, JID.user(tom.user, device: 2)], fetchedAt: .now)

        let (cached, version) = cache.lookUp { $0.deviceLists[tom] }
        #expect(cached == nil, "nothing cached yet")
        cache.update { $0.deviceLists.updateValue(new, forKey: tom) }  // a write lands while the read runs
        cache.fill(readAt: version) { $0.deviceLists.updateValue(old, forKey: tom) }
        #expect(cache.lookUp { $0.deviceLists[tom] }.cached == .some(.some(new)))

        let lena = JID.lid("496527116239567")
        let (_, now) = cache.lookUp { $0.deviceLists[lena] }
        cache.fill(readAt: now) { $0.deviceLists.updateValue(nil, forKey: lena) }
        #expect(cache.lookUp { $0.deviceLists[lena] }.cached == .some(.none), "known absent")
        cache.clear()
        #expect(cache.lookUp { $0.deviceLists[tom] }.cached == nil)
    }
}
