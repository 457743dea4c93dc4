import PostgresNIO

/// A `WHERE` clause built from conditions, each with one bound value.
struct PostgresFilter {
    private(set) var sql = ""
    private(set) var binds = PostgresBindings()

    mutating func add(_ condition: String, _ value: some PostgresEncodable & Sendable) throws {
        let placeholder = try bindThrowing(value)
        sql += (sql.isEmpty ? "" : " AND ") + condition + placeholder
    }

    /// Binds `value` and returns its placeholder (`$n`).
    mutating func bind(_ value: Int) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    private mutating func bindThrowing(_ value: some PostgresEncodable & Sendable) throws -> String {
        try binds.append(value)
        return "$\(binds.count)"
    }
}
