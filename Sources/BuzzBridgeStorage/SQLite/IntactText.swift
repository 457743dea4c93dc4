import Foundation
import GRDB

/// Text stored and read back with its length, so that every character survives, U+0000 included.
///
/// GRDB binds a Swift `String` as a C string and reads one back the same way, so text ended at
/// its first U+0000: a message `"visible\u{0}hidden"` was stored as `"visible"` while its webhook
/// carried all of it. Text a user or a contact typed (message bodies, names) is bound as the
/// bytes of its UTF-8 form and turned into TEXT by SQLite (`CAST(? AS TEXT)`, which keeps the
/// length), and read back as bytes.
enum IntactText {
    /// The argument for a `CAST(? AS TEXT)` placeholder.
    static func argument(_ text: String?) -> Data? {
        text.map { Data($0.utf8) }
    }
}

extension Row {
    /// Column `index` as text, all of it (see ``IntactText``).
    func intactText(_ index: Int) -> String? {
        (self[index] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }

    func intactText(_ column: String) -> String? {
        (self[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }
}
