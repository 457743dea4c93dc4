import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation

// A child process for the store's crash-safety tests: it performs the protocol-state writes of a
// pairing or of a prekey upload and stops at a chosen point, says so on standard output, and
// waits to be killed (SIGKILL). The test then reopens the file and checks what survived.
//
//   ProtocolStoreProbe DB pairing  STOP    STOP: committed-credentials | inside-pairing | committed-pairing
//   ProtocolStoreProbe DB prekeys  STOP    STOP: inside-generation | generated | inside-marking | uploaded
//
// Pairing: credentials are written at first start; the pairing is one transaction of three
// writes (paired device, the primary device's identity, the LID↔phone pair).
// Prekey upload: one transaction reserves ids and stores the keys; "upload" (printed as
// `uploaded FIRST LAST` only once they are committed, as the engine sends only committed keys);
// a second transaction marks them uploaded.

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: ProtocolStoreProbe DB pairing|prekeys STOP\n".utf8))
    exit(2)
}
let path = arguments[1], scenario = arguments[2], stop = arguments[3]
let session = SessionID(rawValue: "session_crashprobe")
let preKeyCount = 812

/// Says `line` on standard output at once (a pipe would otherwise buffer it) .
@Sendable func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Waits for the SIGKILL; inside a transaction body this holds the transaction open.
@Sendable func waitForKill(_ point: String) -> Never {
    say("ready \(point)")
    while true { sleep(60) }
}

@Sendable func record(_ label: String, _ id: UInt32) -> [UInt8] { Array("\(label)-\(id)".utf8) }

let store = try await SQLiteStore.open(path: path)
if try await store.session(session) == nil {
    try await store.createSession(Session(id: session, kind: .live, name: "Crash probe", createdAt: .now()))
}

switch scenario {
case "pairing":
    try await store.withTransaction(session: session) { tx in try tx.setCredentials(Array("credentials".utf8)) }
    if stop == "committed-credentials" { waitForKill(stop) }
    try await store.withTransaction(session: session) { tx in
        try tx.setPairedDevice(Array("paired-device".utf8))
        try tx.putIdentity(Array("primary-identity".utf8), of: ProtocolAddressKey(user: "100000000000001", device: 0))
        if stop == "inside-pairing" { waitForKill(stop) }
        try tx.putLIDMapping(lid: "100000000000001", phone: "60123456789")
    }
    if stop == "committed-pairing" { waitForKill(stop) }
case "prekeys":
    let ids = try await store.withTransaction(session: session) { tx in
        let ids = try tx.reservePreKeyIDs(count: preKeyCount)
        for (index, id) in ids.enumerated() {
            try tx.putPreKey(id: id, record: record("prekey", id))
            if index == preKeyCount / 2, stop == "inside-generation" { waitForKill(stop) }
        }
        return ids
    }
    say("uploaded \(ids.first!) \(ids.last!)")
    if stop == "generated" { waitForKill(stop) }
    try await store.withTransaction(session: session) { tx in
        try tx.markPreKeysUploaded(Array(ids.prefix(preKeyCount / 2)))
        if stop == "inside-marking" { waitForKill(stop) }
        try tx.markPreKeysUploaded(Array(ids.dropFirst(preKeyCount / 2)))
    }
    if stop == "uploaded" { waitForKill(stop) }
default:
    FileHandle.standardError.write(Data("unknown scenario \(scenario)\n".utf8))
    exit(2)
}
say("finished")
