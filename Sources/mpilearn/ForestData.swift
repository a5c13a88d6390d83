// ============================================================================================
// TEMPORARY DATA SEAM for `mpilearn forest`. Every file the forest commands read goes through
// `ForestData`. Until the data layer's `CSVReader.read(_:options:comm:)` is merged, this file
// holds a minimal CSV reader: rank 0 reads the whole file, parses numeric and categorical
// columns, and scatters contiguous row blocks (`Partition.block`). When the branches merge,
// replace `readCSV(...)` (and only it) by the data layer's reader plus its recoding of
// categorical columns onto the model's dictionaries (UnseenCategoryPolicy.missing).
// ============================================================================================

import Foundation
import MPILearn
import SwiftMPI

/// A shard ready for a forest: features, target, and what the columns mean.
struct ForestShard {
    var data: Dataset<Double>
    /// Display names of the class labels, indexed by label value (classification).
    var classNames: [String]?
    /// The target's name as given (`arr_delay>15`).
    var target: String
    /// Where the data came from (path or generator spec).
    var source: String
}

/// How the target column becomes a label: the column itself, or a comparison with a number.
struct TargetSpec {
    var column: String
    var op: String?
    var value: Double = 0

    /// Parses `name`, or `name>15` / `name>=15` / `name<15` / `name<=15` (binary target).
    init(_ s: String) throws {
        for op in [">=", "<=", ">", "<"] {
            if let r = s.range(of: op) {
                let name = String(s[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                let num = String(s[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, let v = Double(num) else {
                    throw MPILearnError.invalidParameter(name: "--target", value: "'\(s)'", allowed: "a column name, or COLUMN>NUMBER (also >=, <, <=)")
                }
                column = name; self.op = op; value = v
                return
            }
        }
        column = s
    }

    func apply(_ x: Double) -> Double {
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

/// Rows parsed on rank 0: numeric columns as Doubles, categorical ones as strings.
struct ParsedCSV {
    var path: String
    var names: [String]
    var numeric: [String: [Double]] = [:]
    var strings: [String: [String]] = [:]
    /// Columns dropped as not numeric, with the first offending location and value.
    var nonNumeric: [String: (line: Int, column: Int, value: String)] = [:]
    var rows = 0
}

enum ForestData {
    static let missingTokens: Set<String> = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]

    /// Reads a plain CSV (header row, `,` separator, optional double quotes without embedded
    /// separators) keeping the numeric columns and the `stringColumns` as text.
    static func readCSV(_ path: String, stringColumns: Set<String>) throws -> ParsedCSV {
        guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else {
            throw MPILearnError.cannotRead(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")
        }
        bytes.append(0)
        var out = ParsedCSV(path: path, names: [])
        try bytes.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            let n = buf.count - 1
            var pos = 0
            var line = 1
            func fields() -> [(Int, Int)] {   // [start, end) of each field of the current line
                var f: [(Int, Int)] = []
                var s = pos
                while pos < n && base[pos] != 10 {
                    if base[pos] == 44 { f.append((s, pos)); s = pos + 1 }
                    pos += 1
                }
                var e = pos
                if e > s && base[e - 1] == 13 { e -= 1 }
                f.append((s, e))
                pos += 1
                return f
            }
            func text(_ r: (Int, Int)) -> String {
                var (s, e) = r
                if e - s >= 2 && base[s] == 34 && base[e - 1] == 34 { s += 1; e -= 1 }
                return String(decoding: UnsafeBufferPointer(start: base + s, count: e - s), as: UTF8.self)
            }
            guard n > 0 else { throw MPILearnError.dataError(SourceLocation(file: path, line: 1), "file is empty (expected a header row)") }
            let header = fields().map(text)
            out.names = header
            let cols = header.count
            var isString = header.map { stringColumns.contains($0) }
            var alive = [Bool](repeating: true, count: cols)
            var num = [[Double]](repeating: [], count: cols)
            var str = [[String]](repeating: [], count: cols)
            while pos < n {
                line += 1
                if base[pos] == 10 { pos += 1; continue }
                let f = fields()
                guard f.count == cols else {
                    throw MPILearnError.dataError(SourceLocation(file: path, line: line), "row has \(f.count) fields but the header has \(cols)")
                }
                for j in 0 ..< cols where alive[j] {
                    let (s, e) = f[j]
                    if isString[j] {
                        str[j].append(text(f[j]))
                        continue
                    }
                    if e == s { num[j].append(.nan); continue }
                    let saved = base[e]
                    base[e] = 0
                    var end: UnsafeMutablePointer<CChar>? = nil
                    let v = base.advanced(by: s).withMemoryRebound(to: CChar.self, capacity: e - s + 1) { p -> Double in
                        let v = strtod(p, &end)
                        if end != p + (e - s) { end = nil }
                        return v
                    }
                    base[e] = saved
                    if end != nil {
                        num[j].append(v)
                    } else {
                        let t = text(f[j])
                        if missingTokens.contains(t) { num[j].append(.nan); continue }
                        alive[j] = false
                        num[j] = []
                        out.nonNumeric[header[j]] = (line, j + 1, t)
                    }
                }
                out.rows += 1
            }
            for j in 0 ..< cols where alive[j] {
                if isString[j] { out.strings[header[j]] = str[j] } else { out.numeric[header[j]] = num[j] }
            }
            isString = []
        }
        return out
    }

    /// What rank 0 broadcasts about a loaded table.
    struct Meta: Codable {
        var features: [String]
        var categories: [[String]?]
        var classNames: [String]?
        var rows: Int
        var notes: [String]
    }

    /// Collective. Loads a training shard: `path` (CSV) or a generator spec
    /// `classification:N,F[,SEED]` / `regression:N,F[,SEED]`.
    /// - Parameters:
    ///   - target: column or `COLUMN>NUMBER`; rows whose target is missing are dropped.
    ///   - categorical: text columns coded against a dictionary (sorted distinct values).
    ///   - features: columns to use (default: every numeric and categorical column but the target).
    ///   - classification: labels (true) or numeric target (false).
    static func loadTrain(path: String, target: String, categorical: [String], features: [String]?, classification: Bool,
                          comm: any Communicator, note: (String) -> Void) throws -> ForestShard {
        if let g = try generated(path, comm: comm, test: false) { return g }
        let spec = try TargetSpec(target)
        var x: [Double] = [], y: [Double] = [], meta: Meta? = nil
        if comm.rank == 0 {
            let csv = try readCSV(path, stringColumns: Set(categorical + (spec.op == nil && classification ? [spec.column] : [])))
            guard csv.names.contains(spec.column) else {
                throw MPILearnError.invalidParameter(name: "--target", value: "'\(spec.column)'", allowed: "a column of \(path): \(csv.names.joined(separator: ", "))")
            }
            for c in categorical where !csv.names.contains(c) {
                throw MPILearnError.invalidParameter(name: "--categorical", value: "'\(c)'", allowed: "columns of \(path): \(csv.names.joined(separator: ", "))")
            }
            var notes: [String] = []
            // The target.
            var labels: [Double]
            var classNames: [String]? = nil
            if let s = csv.strings[spec.column] {
                let dict = CategoryDictionary(s.filter { !missingTokens.contains($0) })
                labels = s.map { t in dict.code(of: t).map(Double.init) ?? .nan }
                classNames = dict.values
            } else if let v = csv.numeric[spec.column] {
                labels = v.map(spec.apply)
                if spec.op != nil { classNames = ["false", "true"] }
            } else {
                let bad = csv.nonNumeric[spec.column]!
                throw MPILearnError.dataError(SourceLocation(file: path, line: bad.line, column: bad.column), "target \(spec.column) is not numeric ('\(bad.value)'); a text target is read as class labels by a classifier")
            }
            // The features.
            let names: [String]
            if let features {
                for f in features where f == spec.column {
                    throw MPILearnError.invalidParameter(name: "--features", value: "'\(f)'", allowed: "columns other than the target")
                }
                for f in features where csv.numeric[f] == nil && csv.strings[f] == nil {
                    if let bad = csv.nonNumeric[f] {
                        throw MPILearnError.dataError(SourceLocation(file: path, line: bad.line, column: bad.column), "feature \(f) is not numeric ('\(bad.value)'); list it in --categorical to code its values")
                    }
                    throw MPILearnError.invalidParameter(name: "--features", value: "'\(f)'", allowed: "columns of \(path): \(csv.names.joined(separator: ", "))")
                }
                names = features
            } else {
                names = csv.names.filter { $0 != spec.column && (csv.numeric[$0] != nil || csv.strings[$0] != nil) }
                let skipped = csv.names.filter { $0 != spec.column && csv.nonNumeric[$0] != nil }
                if !skipped.isEmpty { notes.append("ignoring non-numeric columns \(skipped.joined(separator: ", ")) (list them in --categorical to use them)") }
            }
            guard !names.isEmpty else { throw MPILearnError.mismatch("\(path) has no usable feature columns") }
            var cats: [[String]?] = []
            var columns: [[Double]] = []
            for f in names {
                if let s = csv.strings[f] {
                    let dict = CategoryDictionary(s.filter { !missingTokens.contains($0) })
                    cats.append(dict.values)
                    columns.append(s.map { dict.code(of: $0).map(Double.init) ?? .nan })
                } else {
                    cats.append(nil)
                    columns.append(csv.numeric[f]!)
                }
            }
            let keep = labels.indices.filter { !labels[$0].isNaN }
            if keep.count < labels.count { notes.append("dropped \(labels.count - keep.count) rows whose target \(spec.column) is missing") }
            let d = names.count
            x = [Double](repeating: 0, count: keep.count * d)
            for (r, i) in keep.enumerated() { for j in 0 ..< d { x[r * d + j] = columns[j][i] } }
            y = keep.map { labels[$0] }
            meta = Meta(features: names, categories: cats, classNames: classNames, rows: keep.count, notes: notes)
        }
        let m = try comm.broadcastObject(meta)
        for n in m.notes { note(n) }
        let block = Partition.block(count: m.rows, parts: comm.size, index: comm.rank)
        let counts = (0 ..< comm.size).map { Partition.block(count: m.rows, parts: comm.size, index: $0).count }
        let d = m.features.count
        let xs = try comm.scatterv(x, counts: counts.map { $0 * d })
        x = []
        let ys = try comm.scatterv(y, counts: counts)
        let data = Dataset(features: Matrix(rows: block.count, columns: d, storage: xs), target: ys, featureNames: m.features,
                           categories: m.categories.map { $0.map { CategoryDictionary(sortedUnique: $0) } },
                           globalRowStart: block.lowerBound, globalRowCount: m.rows)
        return ForestShard(data: data, classNames: m.classNames, target: target, source: path)
    }

    /// Test rows shaped for a model: its feature columns in its order, categorical values
    /// recoded onto its dictionaries (unseen values become missing), and, if `target` is
    /// given, labels as class codes of the model (classification) or numbers (regression).
    struct TestRows {
        var x: Matrix<Double>
        var y: [Double]?
        var globalRowStart: Int
        var globalRows: Int
    }

    /// Collective. Loads a test set for `header`'s model. With `broadcast`, every rank gets
    /// every row (rank 0 reads, then broadcasts); otherwise each rank gets its block.
    static func loadTest(path: String, header: ForestHeader, target: String?, broadcast: Bool,
                         comm: any Communicator, note: (String) -> Void) throws -> TestRows {
        if let g = try generated(path, comm: comm, test: true) {
            try checkGenerated(g, header: header)
            if broadcast {
                // Generated rows are a pure function of the row index: every rank makes all.
                let all = try generated(path, comm: LocalCommunicator.solo(), test: true)!
                return TestRows(x: all.data.features, y: target == nil ? nil : try codes(all.data.target!, header: header, names: nil, path: path),
                                globalRowStart: 0, globalRows: all.data.rowCount)
            }
            return TestRows(x: g.data.features, y: target == nil ? nil : try codes(g.data.target!, header: header, names: nil, path: path),
                            globalRowStart: g.data.globalRowStart, globalRows: g.data.globalRowCount)
        }
        let spec = try target.map(TargetSpec.init)
        var x: [Double] = [], y: [Double] = [], rows = 0, notes: [String] = [], hasY = false
        let d = header.featureNames.count
        if comm.rank == 0 {
            let cats = Set(header.featureNames.indices.filter { header.categories[$0] != nil }.map { header.featureNames[$0] })
            var stringCols = cats
            if let spec, spec.op == nil, header.task == .classification { stringCols.insert(spec.column) }
            let csv = try readCSV(path, stringColumns: stringCols)
            let missing = header.featureNames.filter { !csv.names.contains($0) }
            guard missing.isEmpty else {
                throw MPILearnError.mismatch("\(path): the columns differ from the model's: missing \(missing.joined(separator: ", ")) (the model uses \(header.featureNames.joined(separator: ", ")))")
            }
            var columns: [[Double]] = []
            for (j, f) in header.featureNames.enumerated() {
                if let dict = header.categories[j] {
                    let cd = CategoryDictionary(sortedUnique: dict)
                    var unseen = Set<String>()
                    columns.append(csv.strings[f]!.map { s in
                        if let c = cd.code(of: s) { return Double(c) }
                        if !missingTokens.contains(s) { unseen.insert(s) }
                        return .nan
                    })
                    if !unseen.isEmpty { notes.append("\(f): \(unseen.count) value(s) not seen in training (\(unseen.sorted().prefix(5).joined(separator: ", "))) treated as missing") }
                } else if let v = csv.numeric[f] {
                    columns.append(v)
                } else {
                    let bad = csv.nonNumeric[f]!
                    throw MPILearnError.dataError(SourceLocation(file: path, line: bad.line, column: bad.column), "feature \(f) is numeric in the model but this value is not: '\(bad.value)'")
                }
            }
            var keep = Array(0 ..< csv.rows)
            if let spec {
                guard csv.names.contains(spec.column) else {
                    throw MPILearnError.invalidParameter(name: "--target", value: "'\(spec.column)'", allowed: "a column of \(path): \(csv.names.joined(separator: ", "))")
                }
                var labels: [Double]
                var names: [String]? = nil
                if let s = csv.strings[spec.column] {
                    names = s
                    labels = s.map { missingTokens.contains($0) ? .nan : 0 }
                } else if let v = csv.numeric[spec.column] {
                    labels = v.map(spec.apply)
                } else {
                    let bad = csv.nonNumeric[spec.column]!
                    throw MPILearnError.dataError(SourceLocation(file: path, line: bad.line, column: bad.column), "target \(spec.column) is not numeric: '\(bad.value)'")
                }
                keep = keep.filter { !labels[$0].isNaN }
                if keep.count < csv.rows { notes.append("dropped \(csv.rows - keep.count) test rows whose target \(spec.column) is missing") }
                let kept = keep.map { labels[$0] }
                let keptNames = names.map { n in keep.map { n[$0] } }
                let mapped = try codes(kept, header: header, names: keptNames, path: path, lines: keep.map { $0 + 2 },
                                       boolean: spec.op != nil)
                y = mapped
                hasY = true
            }
            rows = keep.count
            x = [Double](repeating: 0, count: rows * d)
            for (r, i) in keep.enumerated() { for j in 0 ..< d { x[r * d + j] = columns[j][i] } }
        }
        struct TestMeta: Codable { var rows: Int; var notes: [String]; var hasY: Bool }
        let m = try comm.broadcastObject(comm.rank == 0 ? TestMeta(rows: rows, notes: notes, hasY: hasY) : nil)
        for n in m.notes { note(n) }
        if broadcast {
            try comm.broadcast(&x)
            if m.hasY { try comm.broadcast(&y) }
            return TestRows(x: Matrix(rows: m.rows, columns: d, storage: x), y: m.hasY ? y : nil, globalRowStart: 0, globalRows: m.rows)
        }
        let counts = (0 ..< comm.size).map { Partition.block(count: m.rows, parts: comm.size, index: $0).count }
        let xs = try comm.scatterv(x, counts: counts.map { $0 * d })
        let ys = m.hasY ? try comm.scatterv(y, counts: counts) : nil
        let block = Partition.block(count: m.rows, parts: comm.size, index: comm.rank)
        return TestRows(x: Matrix(rows: block.count, columns: d, storage: xs), y: ys, globalRowStart: block.lowerBound, globalRows: m.rows)
    }

    /// Maps test labels to the model's class codes; a label never seen in training is an error.
    static func codes(_ labels: [Double], header: ForestHeader, names: [String]?, path: String, lines: [Int]? = nil, boolean: Bool = false) throws -> [Double] {
        guard header.task == .classification else { return labels }
        var index: [String: Int] = [:]
        for (i, c) in header.classes.enumerated() { index[c] = i }
        return try labels.indices.map { i in
            let label: String
            if let names { label = names[i] } else if boolean { label = labels[i] == 1 ? "true" : "false" } else {
                let v = labels[i]
                label = v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
            }
            guard let c = index[label] else {
                throw MPILearnError.dataError(SourceLocation(file: path, line: lines?[i]),
                                              "label '\(label)' was never seen in training (the model's classes: \(header.classes.joined(separator: ", ")))")
            }
            return Double(c)
        }
    }

    static func checkGenerated(_ g: ForestShard, header: ForestHeader) throws {
        guard g.data.featureCount == header.featureNames.count else {
            throw MPILearnError.mismatch("\(g.source): the columns differ from the model's: \(g.data.featureCount) features, the model has \(header.featureNames.count)")
        }
    }

    /// A generator spec (`classification:N,F[,SEED]` or `regression:N,F[,SEED]`) as this rank's
    /// block; nil if `spec` is a path. Test sets use rows from 2^40 on, disjoint from training.
    static func generated(_ spec: String, comm: any Communicator, test: Bool) throws -> ForestShard? {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["classification", "regression"].contains(parts[0]) else { return nil }
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
        return ForestShard(data: data, classNames: nil, target: "y", source: spec)
    }
}
