/// A table for the terminal: a header line, then one line per row, each column as wide as its
/// widest cell. The last column is not padded, so long values (URLs, names) never wrap the rest.
struct TextTable {
    let headers: [String]
    private(set) var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        precondition(cells.count == headers.count, "a row has one cell per column")
        rows.append(cells)
    }

    func render() -> String {
        let widths = headers.indices.map { column in ([headers] + rows).map { $0[column].count }.max() ?? 0 }
        return ([headers] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
