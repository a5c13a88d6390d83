import SwiftMPI

extension ColumnValues {
    /// Number of missing entries (NaN, code −1, `Int64.min`).
    public var missingCount: Int {
        switch self {
        case .float64(let v): return v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
        case .float32(let v): return v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
        case .categorical(let v, _): return v.reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
        case .datetime(let v): return v.reduce(0) { $0 + ($1 == .min ? 1 : 0) }
        }
    }

    /// The column type these values have.
    public var columnType: ColumnType {
        switch self {
        case .float64, .float32: return .numeric
        case .categorical: return .categorical
        case .datetime: return .datetime
        }
    }
}

extension Table {
    /// The rows moved between ranks so that rank `r` holds block `r` of
    /// `Partition.block(count: globalRowCount, parts: size, index: r)`: counts differ by at
    /// most one, no rank is empty when there are at least `size` rows, and global row order is
    /// kept (one alltoallv per column).
    ///
    /// Collective.
    public func rebalanced(comm: any Communicator) throws -> Table {
        let counts = try comm.allgatherCounts(rowCount)
        let total = counts.reduce(0, +)
        let myStart = counts[0 ..< comm.rank].reduce(0, +)
        let mine = myStart ..< myStart + rowCount
        let send = (0 ..< comm.size).map { d -> Int in
            let t = Partition.block(count: total, parts: comm.size, index: d)
            return max(0, min(t.upperBound, mine.upperBound) - max(t.lowerBound, mine.lowerBound))
        }
        let target = Partition.block(count: total, parts: comm.size, index: comm.rank)
        let moved = try columns.map { c -> Column in
            switch c.values {
            case .float64(let v): return Column(name: c.name, values: .float64(try comm.alltoallv(v, sendCounts: send).values))
            case .float32(let v): return Column(name: c.name, values: .float32(try comm.alltoallv(v, sendCounts: send).values))
            case .datetime(let v): return Column(name: c.name, values: .datetime(try comm.alltoallv(v, sendCounts: send).values))
            case .categorical(let v, let d):
                return Column(name: c.name, values: .categorical(try comm.alltoallv(v, sendCounts: send).values, d))
            }
        }
        return Table(columns: moved, rowCount: target.count, globalRowStart: target.lowerBound, globalRowCount: total)
    }

    /// This table with columns derived from its datetime columns (all, or those named), each
    /// called `<column>_<feature>` and holding Doubles (NaN where the date is missing), placed
    /// after the datetime column.
    public func addingDatetimeFeatures(_ features: [DatetimeFeature], columns names: [String]? = nil) -> Table {
        var out: [Column] = []
        for c in columns {
            out.append(c)
            guard case .datetime(let secs) = c.values, names?.contains(c.name) ?? true else { continue }
            for feature in features {
                // The same arithmetic as the pipeline's datetime-features step.
                let f = TimestampFeature(rawValue: feature.rawValue)!
                let v = secs.map { $0 == .min ? Double.nan : f.value(seconds: $0) }
                out.append(Column(name: "\(c.name)_\(feature.rawValue)", values: .float64(v)))
            }
        }
        return Table(columns: out, rowCount: rowCount, globalRowStart: globalRowStart, globalRowCount: globalRowCount)
    }

    /// Re-codes categorical column `name` against `dictionary` (for example a model's training
    /// categories, so a test set read on its own uses the model's codes). Missing stays −1; a
    /// value not in `dictionary` becomes −1 under ``UnseenCategoryPolicy/missing`` or throws
    /// under ``UnseenCategoryPolicy/error``.
    ///
    /// Local: no communication (the dictionary is the same everywhere).
    /// - Throws: ``MPILearnError/invalidParameter`` if the column is missing or not
    ///   categorical; ``MPILearnError/mismatch`` naming the value, column and global row for an
    ///   unseen category under `.error`.
    public mutating func recode(column name: String, to dictionary: CategoryDictionary, policy: UnseenCategoryPolicy) throws {
        guard let j = columns.firstIndex(where: { $0.name == name }) else {
            _ = try column(named: name)
            return
        }
        guard case .categorical(let codes, let old) = columns[j].values else {
            throw MPILearnError.invalidParameter(name: "column", value: "'\(name)'", allowed: "a categorical column")
        }
        let map = old.values.map { dictionary.code(of: $0) ?? -1 }
        var out = [Int32](repeating: -1, count: codes.count)
        for (i, c) in codes.enumerated() where c >= 0 {
            let m = map[Int(c)]
            if m < 0 && policy == .error {
                throw MPILearnError.mismatch("column '\(name)', row \(globalRowStart + i): category \"\(old.values[Int(c)])\" was not seen in training (\(dictionary.count) categories; unseen category policy: error)")
            }
            out[i] = m
        }
        columns[j].values = .categorical(out, dictionary)
    }

    /// Re-codes every categorical column that has an entry in `dictionaries`.
    public mutating func recode(to dictionaries: [String: CategoryDictionary], policy: UnseenCategoryPolicy) throws {
        for c in columns {
            if let d = dictionaries[c.name], case .categorical = c.values { try recode(column: c.name, to: d, policy: policy) }
        }
    }
}

extension Table {
    /// Bytes the column values of this shard occupy (dictionaries not counted).
    public var valueBytes: Int {
        columns.reduce(0) { s, c in
            switch c.values {
            case .float64(let v): return s + v.count * 8
            case .float32(let v): return s + v.count * 4
            case .categorical(let v, _): return s + v.count * 4
            case .datetime(let v): return s + v.count * 8
            }
        }
    }
}

extension Table {
    /// The named feature columns as a row-major matrix, with the `target` column split off.
    ///
    /// Categorical features become their codes (missing: NaN) and keep their dictionaries in
    /// ``Dataset/categories``; datetimes become seconds. The target is a Double per row (codes
    /// for a categorical target, NaN where missing). Global row indices are kept.
    /// - Parameters:
    ///   - features: feature columns; `nil` means every column except `target`.
    ///   - target: the target column, if any.
    /// - Throws: ``MPILearnError/invalidParameter`` for an unknown column.
    public func dataset<T: LinearAlgebraScalar>(_ type: T.Type = Double.self, features: [String]? = nil, target: String? = nil) throws -> Dataset<T> {
        let names = features ?? columnNames.filter { $0 != target }
        let x = try matrix(T.self, columns: names)
        let categories = try names.map { name -> CategoryDictionary? in
            if case .categorical(_, let d) = try column(named: name).values { return d }
            return nil
        }
        var y: [Double]? = nil
        if let target {
            let c = try column(named: target)
            y = (0 ..< rowCount).map { c.values.double(at: $0) }
        }
        return Dataset(features: x, target: y, featureNames: names, categories: categories,
                       globalRowStart: globalRowStart, globalRowCount: globalRowCount)
    }

    /// The named feature columns as a ``Dataset`` of separate Double columns
    /// (``Dataset/Features/columns(_:rows:)``), for a learner that reads one feature at a
    /// time: no row-major matrix is formed. A float64 column is
    /// shared with the table, not copied; other columns are converted as in ``dataset(_:features:target:)``.
    /// - Throws: ``MPILearnError/invalidParameter`` for an unknown column.
    public func columnDataset(features names: [String]) throws -> Dataset<Double> {
        var columns: [[Double]] = []
        var categories: [CategoryDictionary?] = []
        for name in names {
            let c = try column(named: name)
            switch c.values {
            case .float64(let v): columns.append(v)
            default: columns.append((0 ..< rowCount).map { c.values.double(at: $0) })
            }
            if case .categorical(_, let d) = c.values { categories.append(d) } else { categories.append(nil) }
        }
        return Dataset(columns: columns, rows: rowCount, featureNames: names, categories: categories,
                       globalRowStart: globalRowStart, globalRowCount: globalRowCount)
    }

    /// The dictionary of categorical column `name`, or nil if it is not categorical.
    public func categories(of name: String) throws -> CategoryDictionary? {
        if case .categorical(_, let d) = try column(named: name).values { return d }
        return nil
    }
}
