// Training and test sets for supervised learners: every file the forest, search and (later)
// pipeline workflows read goes through `TrainingData`, which uses the data layer's parallel
// `CSVReader` (each rank parses its byte range; categorical columns get global dictionaries)
// and shapes the table for a learner: features, a target from a spec, class names.

import Foundation
import SwiftMPI

/// How the target becomes a label: a column itself, a comparison of a column with a number
/// (`arr_delay>15`, a binary target), or any ``ColumnExpression`` over the columns
/// (`arr_delay>15 and dep_delay>0`, `log1p(distance)`).
///
/// A plain column and `COLUMN OP NUMBER` (OP one of `>`, `>=`, `<`, `<=`) set ``column``,
/// ``op`` and ``value`` exactly as they always have; any other expression sets ``expression``
/// (and ``column`` to its text, for messages). A target is binary, with classes `false` and
/// `true`, when ``op`` is set or the expression is a condition (a comparison, `and`, `or`,
/// `not`, `isnan`); otherwise it is a number per row (regression). A row whose target is
/// missing (NaN, or any operand missing) has no label.
public struct TargetSpec {
    /// The target column; for a general expression, the expression's text.
    public var column: String
    /// `>`, `>=`, `<` or `<=` for `COLUMN OP NUMBER`; nil otherwise.
    public var op: String?
    public var value: Double = 0
    /// A target that is neither a column nor `COLUMN OP NUMBER`.
    public var expression: ColumnExpression?

    /// Parses `name`, `name>15` / `name>=15` / `name<15` / `name<=15` (binary target), or an
    /// expression. With the file's `columns` known, a column's exact name (`dep-delay`,
    /// `arr delay`) is that column, and `NAME OP NUMBER` with NAME a column is a threshold,
    /// before anything is read as an expression.
    /// - Throws: ``MPILearnError/invalidParameter`` (`--target`) for an expression that does
    ///   not parse, naming the position.
    public init(_ s: String, columns: [String]? = nil) throws {
        column = s
        if let columns, columns.contains(s) { return }
        let legacy = Self.legacyThreshold(s)
        if let columns, let legacy, columns.contains(legacy.column) {
            (column, op, value) = (legacy.column, legacy.op, legacy.value)
            return
        }
        do {
            let e = try ColumnExpression(s, parameter: "--target")
            if let name = e.singleColumn {
                column = name
            } else if let t = e.simpleThreshold {
                (column, op, value) = (t.column, t.op, t.value)
            } else {
                expression = e
            }
        } catch {
            if let legacy {
                (column, op, value) = (legacy.column, legacy.op, legacy.value)
            } else if [">", "<", "="].contains(where: { s.contains($0) }) {
                throw error
            }
            // Otherwise a column name that is not an expression: the caller checks it exists.
        }
    }

    /// `NAME OP NUMBER` split at the first of `>=`, `<=`, `>`, `<` (the original syntax).
    static func legacyThreshold(_ s: String) -> (column: String, op: String, value: Double)? {
        for op in [">=", "<=", ">", "<"] {
            if let r = s.range(of: op) {
                let name = String(s[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                let num = String(s[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, let v = Double(num) else { return nil }
                return (name, op, v)
            }
        }
        return nil
    }

    /// Every column the target reads.
    public var columns: [String] { expression?.columnNames ?? [column] }

    /// Whether the target is binary (classes `false`, `true`).
    public var isBinary: Bool { op != nil || (expression?.isBoolean ?? false) }

    /// The types to read the target's columns with: a plain column as classes
    /// (classification) or numbers; a column an expression compares with a string as text
    /// (`categorical` from `given`, else inferred: categorical or datetime); others numeric.
    public func columnTypes(classification: Bool, given: [String: ColumnType] = [:]) -> [String: ColumnType] {
        guard let expression else { return [column: op == nil && classification ? .categorical : .numeric] }
        let text = expression.textColumns
        var out: [String: ColumnType] = [:]
        for c in expression.columnNames {
            out[c] = text.contains(c) ? (given[c] == .categorical ? .categorical : .inferred) : .numeric
        }
        return out
    }

    /// - Throws: ``MPILearnError/invalidParameter`` if a classifier is given an expression
    ///   that is a number per row rather than a condition.
    func checkClassification() throws {
        guard let expression, !expression.isBoolean else { return }
        throw MPILearnError.invalidParameter(
            name: "--target", value: "'\(expression.text)'",
            allowed: "a class column, or a condition for two classes (a comparison, and, or, not, isnan): this expression is a number per row; use --task regression")
    }

    public func apply(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        switch op {
        case ">": return x > value ? 1 : 0
        case ">=": return x >= value ? 1 : 0
        case "<": return x < value ? 1 : 0
        case "<=": return x <= value ? 1 : 0
        default: return x
        }
    }
}

public enum TrainingData {
    /// Reads a CSV with the data layer's parallel reader (collective), with messages worded
    /// for the forest commands.
    ///
    /// Reads go in 1 MB blocks rather than the reader's default 8 MB: the buffer is resident
    /// next to the table being built, and on rank 0 (which reads a broadcast test set alone)
    /// next to the fitted trees (on the flights data load times did not change measurably).
    public static func read(_ path: String, options: CSVOptions, comm: any Communicator) throws -> Table {
        var options = options
        options.bufferSize = 1 << 20
        do {
            return try CSVReader.read(path, options: options, comm: comm)
        } catch MPILearnError.cannotRead(let p, let reason) {
            throw MPILearnError.cannotRead(path: p, reason: reason.prefix(1).lowercased() + reason.dropFirst())
        }
    }

    /// The column names of `path` (local: reads only the header).
    public static func columnNames(_ path: String) throws -> [String] {
        do {
            return try CSVReader.columnNames(path)
        } catch MPILearnError.cannotRead(let p, let reason) {
            throw MPILearnError.cannotRead(path: p, reason: reason.prefix(1).lowercased() + reason.dropFirst())
        }
    }

    /// The target of every row: class codes of a categorical column (with the class names),
    /// or the numeric column through `spec` (NaN where missing).
    public static func targetValues(_ column: Column, spec: TargetSpec) -> (y: [Double], classNames: [String]?) {
        switch column.values {
        case .categorical(let codes, let dict):
            return (codes.map { $0 < 0 ? Double.nan : Double($0) }, dict.values)
        default:
            let n = column.values.count
            return ((0 ..< n).map { spec.apply(column.values.double(at: $0)) }, spec.op != nil ? ["false", "true"] : nil)
        }
    }

    /// The target of every row of `table` through `spec`: ``targetValues(_:spec:)`` of its
    /// column, or its expression evaluated (class names `false`/`true` for a condition).
    public static func targetValues(_ table: Table, spec: TargetSpec) throws -> (y: [Double], classNames: [String]?) {
        guard let e = spec.expression else { return targetValues(try table.column(named: spec.column), spec: spec) }
        return (try e.evaluate(table), e.isBoolean ? ["false", "true"] : nil)
    }

    /// Keeps the rows where `keep` is true in every column (local).
    public static func filterRows(_ table: inout Table, keep: [Bool]) {
        let n = keep.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard n < table.rowCount else { return }
        func pick<T>(_ v: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(n)
            for i in v.indices where keep[i] { out.append(v[i]) }
            return out
        }
        var columns = table.columns
        table.columns = []
        for j in columns.indices {
            switch columns[j].values {
            case .float64(let v): columns[j].values = .float64(pick(v))
            case .float32(let v): columns[j].values = .float32(pick(v))
            case .categorical(let v, let d): columns[j].values = .categorical(pick(v), d)
            case .datetime(let v): columns[j].values = .datetime(pick(v))
            }
        }
        table = Table(columns: columns, rowCount: n, globalRowStart: table.globalRowStart, globalRowCount: table.globalRowCount)
    }

    /// Collective. Loads a training shard: `path` (CSV, read in parallel: every rank parses
    /// its byte range) or a generator spec `classification:N,F[,SEED]` / `regression:N,F[,SEED]`.
    /// - Parameters:
    ///   - target: column or `COLUMN>NUMBER`; rows whose target is missing are dropped (and counted).
    ///   - categorical: text columns coded against a global dictionary (sorted distinct values).
    ///   - features: columns to use (default: every numeric and categorical column but the target).
    ///   - classification: labels (true) or numeric target (false).
    /// - Returns: this rank's rows: a CSV's feature columns as they were read
    ///   (``Dataset/Features/columns(_:rows:)``: a forest bins them one at a time, and
    ///   ``Dataset/makeDense()`` turns them into a matrix in place), generated data dense.
    public static func loadTrain(path: String, target: String?, categorical: [String], features: [String]?, classification: Bool,
                          comm: any Communicator, note: (String) -> Void) throws -> Dataset<Double> {
        if let g = try generated(path, comm: comm, test: false) { return g }
        let names = try columnNames(path)
        let spec = try target.map { try TargetSpec($0, columns: names) }
        let targetColumns = Set(spec?.columns ?? [])
        if let spec {
            for c in spec.columns where !names.contains(c) {
                throw MPILearnError.invalidParameter(name: "--target", value: "'\(c)'", allowed: "a column of \(path): \(listPreview(names))")
            }
            if classification { try spec.checkClassification() }
        }
        for c in categorical where !names.contains(c) {
            throw MPILearnError.invalidParameter(name: "--categorical", value: "'\(c)'", allowed: "columns of \(path): \(listPreview(names))")
        }
        if let features {
            for f in features where targetColumns.contains(f) {
                throw MPILearnError.invalidParameter(name: "--features", value: "'\(f)'", allowed: "columns other than the target")
            }
            for f in features where !names.contains(f) {
                throw MPILearnError.invalidParameter(name: "--features", value: "'\(f)'", allowed: "columns of \(path): \(listPreview(names))")
            }
        }
        var types: [String: ColumnType] = [:]
        for c in categorical { types[c] = .categorical }
        if let features { for f in features where types[f] == nil { types[f] = .numeric } }
        if let spec { types.merge(spec.columnTypes(classification: classification, given: types)) { $1 } }
        var table = try read(path, options: CSVOptions(columns: features.map { $0 + (spec?.columns ?? []) }, types: types), comm: comm)

        // The features: named, or every numeric and --categorical column but the target.
        let featureNames: [String]
        if let features {
            featureNames = features
        } else {
            let usable = { (c: Column) -> Bool in
                if case .categorical = c.values { return categorical.contains(c.name) }
                if case .datetime = c.values { return false }
                return true
            }
            featureNames = table.columns.filter { !targetColumns.contains($0.name) && usable($0) }.map(\.name)
            let skipped = table.columns.filter { !targetColumns.contains($0.name) && !usable($0) }.map(\.name)
            if !skipped.isEmpty { note("ignoring non-numeric columns \(listPreview(skipped)) (list them in --categorical to use them)") }
            table.columns.removeAll { !targetColumns.contains($0.name) && !usable($0) }
        }
        guard !featureNames.isEmpty else { throw MPILearnError.mismatch("\(path) has no usable feature columns") }

        // The target; rows without one are dropped.
        var y: [Double]? = nil, classNames: [String]? = nil
        if let spec {
            if classification && spec.op == nil && spec.expression == nil {
                try checkClassificationTarget(try table.column(named: spec.column), path: path)
            }
            var values: [Double]
            (values, classNames) = try targetValues(table, spec: spec)
            table.columns.removeAll { targetColumns.contains($0.name) }
            let keep = values.map { !$0.isNaN }
            var dropped = [Int64(values.count - keep.reduce(0) { $0 + ($1 ? 1 : 0) })]
            try comm.allreduce(&dropped, op: .sum)
            if dropped[0] > 0 {
                note("dropped \(dropped[0]) rows whose target \(spec.column) is missing")
                filterRows(&table, keep: keep)
                values = values.filter { !$0.isNaN }
            }
            y = values
        }
        let counts = try comm.allgatherCounts(table.rowCount)
        // The table's columns go to the fit as they are (float64 columns shared, not copied):
        // it bins them one at a time, so no row-major copy of the shard is ever made.
        var data = try table.columnDataset(features: featureNames)
        table.columns = []
        data.target = y
        data.targetName = target ?? ""
        data.classNames = classNames
        data.globalRowStart = counts[0 ..< comm.rank].reduce(0, +)
        data.globalRowCount = counts.reduce(0, +)
        data.source = path
        return data
    }

    /// The most distinct numeric values a classification target may have before the load
    /// stops and suggests a regression.
    public static let maxNumericClasses = 100

    /// A class target read as text whose values are all numbers: more than
    /// ``maxNumericClasses`` of them, or any that is not an integer, means a numeric
    /// target was meant for regression (or a threshold), so the load stops before any fit.
    static func checkClassificationTarget(_ column: Column, path: String) throws {
        guard case .categorical(_, let dict) = column.values else { return }
        let numbers = dict.values.compactMap(Double.init)
        guard numbers.count == dict.values.count, !numbers.isEmpty else { return }
        let fractional = numbers.contains { $0 != $0.rounded() }
        guard numbers.count > maxNumericClasses || fractional else { return }
        let shown = numbers.sorted().map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }
        throw MPILearnError.invalidParameter(
            name: "--target", value: "'\(column.name)'",
            allowed: "a class label column; \(column.name) in \(path) is numeric with \(numbers.count) distinct values (\(listPreview(shown)))"
                + (fractional ? ", some not integers" : "")
                + ": use --task regression, or a threshold such as --target '\(column.name)>\(shown[shown.count / 2])' for two classes")
    }

    /// Collective. Loads a test set for a forest model (its header's ``ForestHeader/schema``).
    public static func loadTest(path: String, header: ForestHeader, target: String?, broadcast: Bool,
                         comm: any Communicator, note: (String) -> Void, whenRead: () throws -> Void = {}) throws -> Dataset<Double> {
        try loadTest(path: path, schema: header.schema, target: target, broadcast: broadcast, comm: comm, note: note, whenRead: whenRead)
    }

    /// Collective. Loads a test set shaped for a model's ``FeatureSchema``: its features in
    /// its order (dense), categorical values recoded onto its dictionaries
    /// (``FeatureSchema/align(_:)``), and, if `target` is given, labels as its class codes
    /// (classification) or numbers (regression). With `broadcast`, every rank gets every row
    /// (rank 0 reads, then broadcasts); otherwise each rank gets its block.
    public static func loadTest(path: String, schema: FeatureSchema, target: String?, broadcast: Bool,
                         comm: any Communicator, note: (String) -> Void, whenRead: () throws -> Void = {}) throws -> Dataset<Double> {
        if var g = try generated(path, comm: comm, test: true) {
            try checkGenerated(g, schema: schema)
            if broadcast {
                // Generated rows are a pure function of the row index: every rank makes all.
                g = try generated(path, comm: LocalCommunicator.solo(), test: true)!
                try whenRead()
            }
            g.target = target == nil ? nil : try codes(g.target!, schema: schema, names: nil, path: path)
            return g
        }
        func shaped(_ x: Matrix<Double>, y: [Double]?, globalRowStart: Int, globalRowCount: Int) -> Dataset<Double> {
            var out = Dataset(features: x, target: y, schema: schema, globalRowStart: globalRowStart, globalRowCount: globalRowCount)
            out.targetName = target ?? schema.target
            out.source = path
            return out
        }
        let d = schema.featureNames.count
        var x: [Double] = [], y: [Double] = [], rows = 0, notes: [String] = [], hasY = false
        var start = 0
        if !broadcast || comm.rank == 0 {
            // broadcast: rank 0 reads the whole file alone; otherwise every rank its byte range.
            let readComm: any Communicator = broadcast ? LocalCommunicator.solo() : comm
            let names = try columnNames(path)
            try schema.requireColumns(names, path: path)
            let spec = try target.map { try TargetSpec($0, columns: names) }
            if let spec {
                for c in spec.columns where !names.contains(c) {
                    throw MPILearnError.invalidParameter(name: "--target", value: "'\(c)'", allowed: "a column of \(path): \(names.joined(separator: ", "))")
                }
                if schema.classes != nil { try spec.checkClassification() }
            }
            var types = schema.columnTypes
            var columns = schema.featureNames
            if let spec {
                let targetTypes = spec.columnTypes(classification: schema.classes != nil)
                for c in spec.columns where !columns.contains(c) {
                    columns.append(c)
                    types[c] = targetTypes[c]
                }
            }
            var table = try read(path, options: CSVOptions(columns: columns, types: types), comm: readComm)
            notes += try schema.align(&table)
            var localDropped = 0
            if let spec {
                let (values, names) = try targetValues(table, spec: spec)
                var labels = values
                if let classes = schema.classes {
                    // Label names (the column's dictionary, or false/true) onto the model's classes.
                    var index: [String: Int] = [:]
                    for (i, c) in classes.enumerated() { index[c] = i }
                    for i in labels.indices where !labels[i].isNaN {
                        let label: String
                        if let names { label = names[Int(labels[i])] } else {
                            let v = labels[i]
                            label = v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
                        }
                        guard let c = index[label] else {
                            throw MPILearnError.dataError(SourceLocation(file: path),
                                                          "data row \(table.globalRowStart + i + 1): label '\(label)' was never seen in training (the model's classes: \(listPreview(classes)))")
                        }
                        labels[i] = Double(c)
                    }
                }
                let keep = labels.map { !$0.isNaN }
                localDropped = labels.count - keep.reduce(0) { $0 + ($1 ? 1 : 0) }
                if localDropped > 0 { filterRows(&table, keep: keep); labels.removeAll { $0.isNaN } }
                y = labels
                hasY = true
            }
            var droppedAll = [Int64(localDropped)]
            if !broadcast { try comm.allreduce(&droppedAll, op: .sum) }
            if let spec, droppedAll[0] > 0 { notes.append("dropped \(droppedAll[0]) test rows whose target \(spec.column) is missing") }
            rows = table.rowCount
            x = try schema.matrix(table).storage
            table.columns = []
            if !broadcast {
                let counts = try comm.allgatherCounts(rows)
                start = counts[0 ..< comm.rank].reduce(0, +)
                for n in notes where comm.rank == 0 { note(n) }
                return shaped(Matrix(rows: rows, columns: d, storage: x), y: hasY ? y : nil, globalRowStart: start, globalRowCount: counts.reduce(0, +))
            }
        }
        try whenRead()
        struct TestMeta: Codable { var rows: Int; var notes: [String]; var hasY: Bool }
        let m = try comm.broadcastObject(comm.rank == 0 ? TestMeta(rows: rows, notes: notes, hasY: hasY) : nil)
        for n in m.notes { note(n) }
        try comm.broadcast(&x)
        if m.hasY { try comm.broadcast(&y) }
        return shaped(Matrix(rows: m.rows, columns: d, storage: x), y: m.hasY ? y : nil, globalRowStart: 0, globalRowCount: m.rows)
    }

    /// Maps test labels to the model's class codes; a label never seen in training is an error.
    public static func codes(_ labels: [Double], schema header: FeatureSchema, names: [String]?, path: String, lines: [Int]? = nil, boolean: Bool = false) throws -> [Double] {
        guard let classes = header.classes else { return labels }
        var index: [String: Int] = [:]
        for (i, c) in classes.enumerated() { index[c] = i }
        return try labels.indices.map { i in
            let label: String
            if let names { label = names[i] } else if boolean { label = labels[i] == 1 ? "true" : "false" } else {
                let v = labels[i]
                label = v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
            }
            guard let c = index[label] else {
                throw MPILearnError.dataError(SourceLocation(file: path, line: lines?[i]),
                                              "label '\(label)' was never seen in training (the model's classes: \(listPreview(classes)))")
            }
            return Double(c)
        }
    }

    public static func checkGenerated(_ g: Dataset<Double>, schema header: FeatureSchema) throws {
        guard g.featureCount == header.featureNames.count else {
            throw MPILearnError.mismatch("\(g.source): the columns differ from the model's: \(g.featureCount) features, the model has \(header.featureNames.count)")
        }
    }

    /// Whether `spec` names generated data (`classification:…` or `regression:…`), not a file.
    public static func isGeneratorSpec(_ spec: String) -> Bool {
        let parts = spec.split(separator: ":", maxSplits: 1)
        return parts.count == 2 && ["classification", "regression"].contains(parts[0])
    }

    /// A generator spec (`classification:N,F[,SEED]` or `regression:N,F[,SEED]`) as this rank's
    /// block (dense); nil if `spec` is a path. Test sets use rows from 2^40 on, disjoint from training.
    public static func generated(_ spec: String, comm: any Communicator, test: Bool) throws -> Dataset<Double>? {
        guard isGeneratorSpec(spec) else { return nil }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let nums = parts[1].split(separator: ",").map { Int($0) }
        guard nums.count >= 2, nums.count <= 3, nums.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw MPILearnError.invalidParameter(name: "generated data", value: spec, allowed: "\(parts[0]):ROWS,FEATURES[,SEED]")
        }
        let n = nums[0]!, f = nums[1]!, seed = UInt64(nums.count == 3 ? nums[2]! : 0)
        let offset = test ? 1 << 40 : 0
        let local = Partition.block(count: n, parts: comm.size, index: comm.rank)
        let rows = (offset + local.lowerBound) ..< (offset + local.upperBound)
        var data: Dataset<Double>
        if parts[0] == "classification" {
            data = try Generators.makeClassification(nSamples: offset + n, nFeatures: f, nInformative: min(f, max(2, f / 2)),
                                                     nRedundant: min(max(0, f - max(2, f / 2)), 2), randomState: seed, rows: rows)
        } else {
            data = try Generators.makeRegression(nSamples: offset + n, nFeatures: f, nInformative: min(f, 5), noise: 1, randomState: seed, rows: rows).data
        }
        data.globalRowStart = local.lowerBound
        data.globalRowCount = n
        data.targetName = "y"
        data.source = spec
        return data
    }
}

/// What a fitted model expects of its input: its features in order, each one's category
/// dictionary (nil for a numeric feature), and its target (name, and class names for a
/// classifier). Test and prediction data are shaped by it (``align(_:)``, ``matrix(_:)``).
public struct FeatureSchema: Codable, Equatable, Sendable {
    public var featureNames: [String]
    /// Per feature, the training dictionary's values in code order, or nil (numeric).
    public var categories: [[String]?]
    public var target: String
    /// Class names in code order for a classifier; nil otherwise.
    public var classes: [String]?

    public init(featureNames: [String], categories: [[String]?]? = nil, target: String = "", classes: [String]? = nil) {
        self.featureNames = featureNames
        self.categories = categories ?? Array(repeating: nil, count: featureNames.count)
        self.target = target
        self.classes = classes
    }

    /// The CSV column types that read these features (categorical or numeric).
    public var columnTypes: [String: ColumnType] {
        var t: [String: ColumnType] = [:]
        for (j, f) in featureNames.enumerated() { t[f] = categories[j] != nil ? .categorical : .numeric }
        return t
    }

    /// Checks that a file's columns hold every feature.
    /// - Throws: ``MPILearnError/mismatch`` naming the missing features.
    public func requireColumns(_ names: [String], path: String) throws {
        let missing = featureNames.filter { !names.contains($0) }
        guard missing.isEmpty else {
            throw MPILearnError.mismatch("\(path): the columns differ from the model's: missing \(listPreview(missing)) (the model uses \(listPreview(featureNames)))")
        }
    }

    /// Recodes the table's categorical features onto this schema's dictionaries, so a value
    /// has its training code; a value never seen in training becomes missing.
    /// - Returns: a note per feature with unseen values (how many, the first five).
    public func align(_ table: inout Table) throws -> [String] {
        var notes: [String] = []
        for (j, f) in featureNames.enumerated() {
            guard let values = categories[j] else { continue }
            let dict = CategoryDictionary(sortedUnique: values)
            if let own = try table.categories(of: f) {
                let unseen = own.values.filter { dict.code(of: $0) == nil }
                if !unseen.isEmpty { notes.append("\(f): \(unseen.count) value(s) not seen in training (\(listPreview(unseen, limit: 5))) treated as missing") }
            }
            try table.recode(column: f, to: dict, policy: .missing)
        }
        return notes
    }

    /// The category dictionaries of the features (nil for a numeric feature), as a
    /// ``Dataset`` holds them.
    public var dictionaries: [CategoryDictionary?] {
        categories.map { $0.map(CategoryDictionary.init(sortedUnique:)) }
    }

    /// The features of an aligned table, in this schema's order, as a row-major matrix.
    public func matrix(_ table: Table) throws -> Matrix<Double> {
        try table.matrix(Double.self, columns: featureNames)
    }
}

extension ForestHeader {
    /// The forest's input schema.
    public var schema: FeatureSchema {
        FeatureSchema(featureNames: featureNames, categories: categories, target: target, classes: task == .classification ? classes : nil)
    }
}

extension Dataset {
    /// Rows shaped by `schema`: its feature names and dictionaries, its target name and
    /// class names.
    public init(features: Matrix<T>, target: [Double]? = nil, schema: FeatureSchema, globalRowStart: Int = 0, globalRowCount: Int? = nil) {
        self.init(features: features, target: target, featureNames: schema.featureNames, categories: schema.dictionaries,
                  globalRowStart: globalRowStart, globalRowCount: globalRowCount, targetName: schema.target, classNames: schema.classes)
    }

    /// The schema of these rows: features, their dictionaries, the target and its class names.
    public var schema: FeatureSchema {
        FeatureSchema(featureNames: featureNames, categories: categories.map { $0?.values }, target: targetName, classes: classNames)
    }
}
