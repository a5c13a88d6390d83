import Foundation
import SwiftMPI

/// A model file's predictions for a dataset larger than memory: every rank reads its byte
/// range (CSV) or row block (NPY, HDF5) in chunks of bounded size, runs the model (a pipeline's
/// steps, then its estimator; or a forest, k-means or linear model on its features), and
/// writes its rows into one output file in input order, in parallel — so memory per rank
/// stays flat however large the input.
///
/// The output is CSV (`prediction`, then `proba_<class>` columns with `proba`; passed-through
/// columns first), NPY (a 2-D float64 array of the same columns, class codes for labels), or
/// HDF5 (`file.h5:/object`, a 2-D float64 dataset with a `columns` attribute). Each rank's
/// rows go to a scratch file as they are made; at the end one exclusive prefix sum of the
/// ranks' byte counts gives each its offset, and the file appears atomically
/// (``ParallelFile``).
///
/// A row that fails to parse stops the job at file:line:column; with
/// ``BadRows/skip`` it is counted, reported (the first few on rank 0) and written as a row of
/// missing values, so the output still has one row per input record.
public enum StreamingPredict {
    /// What a record that fails to parse does.
    public enum BadRows: String, Sendable, CaseIterable, Codable {
        /// Stops the job naming file:line:column.
        case error
        /// Counted, reported and written as missing.
        case skip
    }

    public struct Options: Sendable {
        /// The output: `.csv` (or a FIFO/device), `.npy`, or `.h5`/`.hdf5` with `:/object`.
        public var output: String
        public var layout: ParallelFile.Layout = .single
        /// Also write class probabilities.
        public var proba = false
        /// Input columns copied to the output before the predictions (an id).
        public var passthrough: [String] = []
        /// Rows per chunk (bounds memory).
        public var chunkRows = 16384
        public var onBadRow: BadRows = .error
        /// Progress lines on rank 0 (rows and rows/s), at most one per `progressSeconds`.
        public var progressSeconds: Double = 5
        /// CSV dialect and missing markers of the input.
        public var csv = CSVOptions()

        public init(output: String) { self.output = output }

        public func validate() throws {
            try require(chunkRows >= 1, "--chunk-rows", chunkRows, "an integer >= 1")
            var seen = Set<String>()
            for c in passthrough { try require(seen.insert(c).inserted, "--columns", c, "each column once") }
        }
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var rows: Int
        public var skipped: Int
        public var seconds: Double
        public var ranks: Int
        public var written: String
        public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }
        public var text: String {
            String(format: "predicted %d rows on %d rank(s) in %.2f s (%.0f rows/s)", rows, ranks, seconds, rowsPerSecond)
                + (skipped > 0 ? "; \(skipped) bad row(s) written as missing" : "") + "; wrote \(written)"
        }
    }

    /// Collective. Loads the model in `model` on every rank, predicts every row of `data`
    /// (a CSV file, folder or glob; an `.npy` file; an HDF5 `file.h5:/object`) chunk by chunk,
    /// and writes the predictions to `options.output`.
    public static func run(model: String, data: String, options: Options, comm: any Communicator,
                           log: (String) -> Void = { _ in }) throws -> Summary {
        try options.validate()
        let start = Date()
        return try run(model: ModelRegistry.load(from: model, comm: comm), path: model, data: data, options: options, start: start,
                       comm: comm, log: log)
    }

    /// Collective. As ``run(model:data:options:comm:log:)``, with a model every rank already
    /// holds (`path` names it in messages): a workflow that checked its kind.
    public static func run(model fitted: any FittedModel, path model: String, data: String, options: Options, comm: any Communicator,
                           log: (String) -> Void = { _ in }) throws -> Summary {
        try run(model: fitted, path: model, data: data, options: options, start: Date(), comm: comm, log: log)
    }

    static func run(model fitted: any FittedModel, path model: String, data: String, options: Options, start: Date, comm: any Communicator,
                    log: (String) -> Void) throws -> Summary {
        try options.validate()
        let predictor = try TablePredictor(fitted, path: model)
        if options.proba && predictor.classes == nil {
            throw MPILearnError.invalidParameter(name: "--proba", value: "set", allowed: "a classifier's model (\(model) is a \(predictor.kind))")
        }
        let format = OutputFormat(options.output)
        if format != .csv {
            // Binary outputs hold numbers only.
            for c in options.passthrough where predictor.input.first(where: { $0.name == c }).map({ $0.kind != .numeric }) ?? false {
                throw MPILearnError.invalidParameter(name: "--columns", value: c, allowed: "numeric columns for a \(format) output (write CSV to pass text through)")
            }
        }
        var source = try ChunkSource.open(data, predictor: predictor, passthrough: options.passthrough, format: format,
                                          options: options, comm: comm)
        let names = options.passthrough + predictor.outputNames(proba: options.proba)
        var rows = 0, skipped = 0, notes: [String] = []
        var lastReport = Date()
        let body: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void = { emit in
            var bytes: [UInt8] = []
            while let chunk = try source.next(rows: options.chunkRows) {
                let context = TransformContext(source: data, locate: chunk.locate)
                let out = try predictor.predict(chunk.table, context: context, proba: options.proba)
                bytes.removeAll(keepingCapacity: true)
                let pass = try options.passthrough.map { try chunk.table.column(named: $0).values }
                if format == .csv {
                    CSVOut.append(rows: out, passthrough: pass, skipped: chunk.skipped, columns: names.count, into: &bytes)
                } else {
                    BinaryOut.append(rows: out, passthrough: pass, skipped: chunk.skipped, into: &bytes)
                }
                try bytes.withUnsafeBytes { try emit($0) }
                rows += chunk.table.rowCount + chunk.skipped.count
                skipped += chunk.skipped.count
                notes += chunk.skippedMessages.prefix(max(0, 5 - notes.count))
                if comm.rank == 0 && Date().timeIntervalSince(lastReport) >= options.progressSeconds {
                    lastReport = Date()
                    let s = Date().timeIntervalSince(start)
                    log(String(format: "rank 0: %d rows in %.1f s (%.0f rows/s on this rank)", rows, s, Double(rows) / max(s, 1e-9)))
                }
            }
        }
        let written: String
        switch format {
        case .csv:
            let header = Array((names.map(CSVOut.quoted).joined(separator: ",") + "\n").utf8)
            try ParallelFile.write(options.output, layout: options.layout, comm: comm, header: { _ in header }, bytes: body)
            written = options.layout == .single ? options.output : "\(options.output).part-*-of-\(String(format: "%05d", comm.size))"
        case .npy:
            let width = names.count
            try ParallelFile.write(options.output, layout: options.layout, comm: comm,
                                   header: { total in NPY.headerBytes(dtype: .float64, shape: [total / (8 * width), width]) }, bytes: body)
            written = options.output
        case .hdf5:
            written = try HDF5Out.write(options.output, columns: names, comm: comm, body: body)
        }
        try source.finish()
        let totals = try comm.allreduce([Int64(rows), Int64(skipped)], op: .sum)
        let allNotes = try comm.gatherObject(notes)
        if comm.rank == 0, totals[1] > 0, let allNotes {
            for n in allNotes.flatMap({ $0 }).prefix(5) { log("skipped bad row: \(n)") }
        }
        return Summary(rows: Int(totals[0]), skipped: Int(totals[1]), seconds: Date().timeIntervalSince(start), ranks: comm.size, written: written)
    }

    enum OutputFormat: CustomStringConvertible {
        case csv, npy, hdf5
        init(_ path: String) {
            if path.lowercased().hasSuffix(".npy") { self = .npy } else if HDF5Source.isHDF5(path) { self = .hdf5 } else { self = .csv }
        }
        var description: String {
            switch self {
            case .csv: return "CSV"
            case .npy: return "NPY"
            case .hdf5: return "HDF5"
            }
        }
    }
}

// MARK: - the model, as a function of a table

/// Any model that predicts from named columns: a pipeline (its input schema) or a model
/// trained on features (its feature names and dictionaries).
public struct TablePredictor {
    /// Predictions of one chunk.
    public struct Output {
        /// Class or cluster codes (classifier, clusterer).
        public var codes: [Int]?
        /// Values (regressor).
        public var values: [Double]?
        /// Probabilities, rows × classes.
        public var proba: Matrix<Double>?
        /// Label text for a code (a classifier's class names).
        public var labels: [String]?
        public var rowCount: Int { codes?.count ?? values?.count ?? 0 }
    }

    public let input: [PipelineColumn]
    public let kind: String
    public let classes: [String]?
    let features: (Table, TransformContext) throws -> Matrix<Double>
    let run: (Matrix<Double>, Bool) throws -> Output
    /// The estimator's features when it cannot predict missing or infinite values (an SVM):
    /// such a value stops the job naming its row and column.
    var finiteFeatures: [String]?

    /// - Throws: ``MPILearnError/invalidParameter`` for a model that does not predict from
    ///   named columns (a text model).
    public init(_ model: any FittedModel, path: String) throws {
        kind = type(of: model).kind
        var model = model
        if let p = model as? TableInputModel {
            input = p.inputColumns
            features = p.features
            model = p.estimator
        } else {
            let schema = (model as? FeatureSchemaModel)?.schema ?? FeatureSchema(featureNames: model.featureNames)
            guard !schema.featureNames.isEmpty else {
                throw MPILearnError.invalidParameter(name: "--model", value: path,
                                                     allowed: "a model that predicts from named columns (\(kind) models read text: use their own predict command)")
            }
            input = zip(schema.featureNames, schema.categories).map { PipelineColumn(name: $0, kind: $1 == nil ? .numeric : .categorical) }
            let dictionaries = schema.dictionaries
            features = { table, _ in
                var t = table
                for (j, name) in schema.featureNames.enumerated() {
                    if let d = dictionaries[j] { try t.recode(column: name, to: d, policy: .missing) }
                }
                return try schema.matrix(t)
            }
        }
        if let f = model as? RandomForestClassifierModel {
            // The trees packed once for every chunk, not once per chunk.
            try f.forest.requireComplete("predict")
            let predictor = try f.forest.predictor()
            let n = Double(max(1, f.forest.treeCount)), k = f.classes.count, threads = f.forest.header.parameters.threads
            classes = f.classes
            let classes = f.classes
            run = { x, proba in
                let sums = try predictor.sumOutputs(x, threads: threads)
                let codes = argmaxRows(sums, classes: k)
                return Output(codes: codes, proba: proba ? Matrix(rows: x.rows, columns: k, storage: sums.map { $0 / n }) : nil, labels: classes)
            }
        } else if let s = (model as? SVCModel) ?? (model as? NuSVCModel)?.fitted {
            // The prediction is the one-vs-one vote, which Platt probabilities can disagree
            // with (as in scikit-learn): not the most probable class.
            classes = s.classes
            let classes = s.classes
            finiteFeatures = s.featureNames
            run = { x, proba in Output(codes: try s.predict(x), proba: proba ? try s.predictProba(x) : nil, labels: classes) }
        } else if let s = model as? SVRModel {
            classes = nil
            finiteFeatures = s.featureNames
            run = { x, _ in Output(values: try s.predict(x)) }
        } else if let c = model as? any ClassifierModel {
            classes = c.classes
            let classes = c.classes
            run = { x, proba in
                if proba {
                    let p = try c.predictProba(x)
                    return Output(codes: argmaxRows(p.storage, classes: p.columns), proba: p, labels: classes)
                }
                return Output(codes: try c.predict(x), labels: classes)
            }
        } else if let r = model as? any RegressorModel {
            classes = nil
            run = { x, _ in Output(values: try r.predict(x)) }
        } else if let k = model as? any ClustererModel {
            classes = nil
            run = { x, _ in Output(codes: try k.predict(x)) }
        } else {
            throw MPILearnError.invalidParameter(name: "--model", value: path, allowed: "a classifier, regressor or clusterer")
        }
    }

    /// The output columns: `prediction`, then `proba_<class>`.
    public func outputNames(proba: Bool) -> [String] {
        ["prediction"] + (proba ? (classes ?? []).map { "proba_\($0)" } : [])
    }

    /// Local. The predictions for the rows of `table`.
    public func predict(_ table: Table, context: TransformContext, proba: Bool) throws -> Output {
        guard table.rowCount > 0 else { return Output(codes: classes == nil ? nil : [], values: classes == nil ? [] : nil, labels: classes) }
        let x = try features(table, context)
        if let names = finiteFeatures { try SVMWorkflow.requireFinite(x, featureNames: names, locate: context.locate) }
        return try run(x, proba)
    }
}

/// A model that knows its input features' names and dictionaries.
public protocol FeatureSchemaModel {
    var schema: FeatureSchema { get }
}

extension RandomForestClassifierModel: FeatureSchemaModel {
    public var schema: FeatureSchema { forest.header.schema }
}
extension RandomForestRegressorModel: FeatureSchemaModel {
    public var schema: FeatureSchema { forest.header.schema }
}
extension LogisticRegressionModel: FeatureSchemaModel {}
extension LinearRegressionModel: FeatureSchemaModel {}
extension RidgeModel: FeatureSchemaModel {}
extension SGDClassifierModel: FeatureSchemaModel {}
extension SGDRegressorModel: FeatureSchemaModel {}

// MARK: - inputs

/// The rows of one chunk, wherever they came from.
struct SourceChunk {
    var table: Table
    var skipped: [Int] = []
    var skippedMessages: [String] = []
    var locate: @Sendable (Int, String) -> SourceLocation
}

enum ChunkSource {
    case csv(CSVChunkReader)
    case matrix(MatrixChunks)
    case hdf5(HDF5Chunks)

    /// Collective. Opens `data` for this rank.
    static func open(_ data: String, predictor: TablePredictor, passthrough: [String], format: StreamingPredict.OutputFormat,
                     options: StreamingPredict.Options, comm: any Communicator) throws -> ChunkSource {
        if data.lowercased().hasSuffix(".npy") {
            return .matrix(try MatrixChunks(npy: data, predictor: predictor, passthrough: passthrough, comm: comm))
        }
        if HDF5Source.isHDF5(data) {
            return .hdf5(try HDF5Input.chunks(data, predictor: predictor, passthrough: passthrough, comm: comm))
        }
        let names = try CSVReader.columnNames(data, options: options.csv)
        let missing = predictor.input.map(\.name).filter { !names.contains($0) }
        if !missing.isEmpty {
            throw MPILearnError.mismatch("\(data): no column \(listPreview(missing.map { "'\($0)'" })), which the model reads (it reads \(listPreview(predictor.input.map(\.name)))); the file has \(listPreview(names))")
        }
        for c in passthrough where !names.contains(c) {
            throw MPILearnError.invalidParameter(name: "--columns", value: "'\(c)'", allowed: "columns of \(data): \(listPreview(names))")
        }
        var columns = predictor.input.map(\.name)
        var types: [String: ColumnType] = [:]
        for c in predictor.input { types[c.name] = c.kind == .inferred ? .numeric : c.kind }
        for c in passthrough where types[c] == nil {
            columns.append(c)
            types[c] = format == .csv ? .categorical : .numeric   // CSV passes the text through as it is
        }
        var csv = options.csv
        csv.bufferSize = 1 << 20
        return .csv(try CSVChunkReader(data, columns: columns, types: types, options: csv, skipBadRows: options.onBadRow == .skip, comm: comm))
    }

    mutating func next(rows: Int) throws -> SourceChunk? {
        switch self {
        case .csv(let r):
            guard let c = try r.next(rows: rows) else { return nil }
            return SourceChunk(table: c.table, skipped: c.skipped, skippedMessages: c.skippedMessages, locate: c.locate)
        case .matrix(var m):
            let c = try m.next(rows: rows)
            self = .matrix(m)
            return c
        case .hdf5(let h):
            return try h.next(rows: rows)
        }
    }

    /// Collective: closes what the ranks opened together (an HDF5 file opened through MPI-IO).
    func finish() throws {
        if case .hdf5(let h) = self { try h.reader.close() }
    }
}

/// Row blocks of a 2-D numeric array (NPY, HDF5), chunk by chunk, as tables with the model's
/// input column names (matched by position).
struct MatrixChunks {
    let path: String
    let names: [String]
    let rows: Range<Int>
    var position: Int
    let read: (Range<Int>) throws -> [[Double]]   // columns of the rows asked for

    init(path: String, names: [String], rows: Range<Int>, read: @escaping (Range<Int>) throws -> [[Double]]) {
        self.path = path
        self.names = names
        self.rows = rows
        position = rows.lowerBound
        self.read = read
    }

    /// This rank's block of an NPY file; its columns are the model's inputs in order (all numeric).
    init(npy path: String, predictor: TablePredictor, passthrough: [String], comm: any Communicator) throws {
        let header = try NPY.readHeader(path)
        let names = try MatrixChunks.columnNames(width: header.columns, source: path, predictor: predictor, passthrough: passthrough)
        let block = Partition.block(count: header.rows, parts: comm.size, index: comm.rank)
        let file = try ByteFile(path: path)
        let width = header.columns
        self.init(path: path, names: names, rows: block) { range in
            let count = range.count * width
            let size = header.dtype.itemSize
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count * size), alignment: 8)
            defer { raw.deallocate() }
            let offset = header.dataOffset + range.lowerBound * width * size
            let n = try file.read(into: raw, count: count * size, at: offset)
            guard n == count * size else {
                throw MPILearnError.dataError(SourceLocation(file: path), "byte \(offset + n): truncated while reading rows \(range)")
            }
            var columns = [[Double]](repeating: [Double](repeating: 0, count: range.count), count: width)
            for j in 0 ..< width {
                columns[j].withUnsafeMutableBufferPointer { out in
                    for i in 0 ..< range.count {
                        switch header.dtype {
                        case .float64: out[i] = raw.assumingMemoryBound(to: Double.self)[i * width + j]
                        case .float32: out[i] = Double(raw.assumingMemoryBound(to: Float.self)[i * width + j])
                        case .int32: out[i] = Double(raw.assumingMemoryBound(to: Int32.self)[i * width + j])
                        case .int64: out[i] = Double(raw.assumingMemoryBound(to: Int64.self)[i * width + j])
                        }
                    }
                }
            }
            return columns
        }
    }

    /// The names of an array's columns: the model's numeric inputs, then the passed-through
    /// columns (given as `x<j>` for the array's column j, or as input names).
    static func columnNames(width: Int, source: String, predictor: TablePredictor, passthrough: [String]) throws -> [String] {
        if let bad = predictor.input.first(where: { $0.kind != .numeric }) {
            throw MPILearnError.mismatch("\(source): an array of numbers cannot hold column '\(bad.name)', which the model reads as \(bad.kind.rawValue); predict from CSV or HDF5 columns")
        }
        guard width == predictor.input.count else {
            throw MPILearnError.mismatch("\(source) has \(width) columns but the model reads \(predictor.input.count) (\(listPreview(predictor.input.map(\.name)))), matched by position")
        }
        for c in passthrough where !predictor.input.contains(where: { $0.name == c }) {
            throw MPILearnError.invalidParameter(name: "--columns", value: "'\(c)'", allowed: "columns the model reads (an array's columns are named by the model: \(listPreview(predictor.input.map(\.name))))")
        }
        return predictor.input.map(\.name)
    }

    mutating func next(rows n: Int) throws -> SourceChunk? {
        guard position < rows.upperBound else { return nil }
        let range = position ..< min(rows.upperBound, position + n)
        let columns = try read(range)
        let table = Table(columns: zip(names, columns).map { Column(name: $0, values: .float64($1)) }, rowCount: range.count,
                          globalRowStart: range.lowerBound, globalRowCount: rows.upperBound)
        position = range.upperBound
        let path = self.path, start = range.lowerBound
        return SourceChunk(table: table, locate: { row, column in SourceLocation(file: "\(path) (row \(start + row + 1), column '\(column)')") })
    }
}

// MARK: - outputs

enum CSVOut {
    /// A CSV field: quoted when it holds the delimiter, a quote or a line end.
    static func quoted(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func appendNumber(_ v: Double, _ out: inout [UInt8]) {
        if v.isNaN { return }
        if v == v.rounded(), abs(v) < 1e15 {
            out.append(contentsOf: String(Int64(v)).utf8)
        } else {
            appendShortest(v, &out)
        }
    }

    /// Appends `v` as Swift's `description` writes it (the shortest text that reads back as
    /// the same Double), without making a String: `Double.write(to:)` hands its digits to
    /// ``ByteSink``'s `_writeASCII` straight from its stack buffer (twice as fast as
    /// `description`, measured).
    @inline(__always)
    static func appendShortest(_ v: Double, _ out: inout [UInt8]) {
        var sink = ByteSink()
        swap(&sink.bytes, &out)
        v.write(to: &sink)
        swap(&sink.bytes, &out)
    }

    static func appendValue(_ c: ColumnValues, _ i: Int, _ out: inout [UInt8]) {
        switch c {
        case .categorical(let codes, let dict):
            if codes[i] >= 0 { out.append(contentsOf: quoted(dict.values[Int(codes[i])]).utf8) }
        case .datetime(let s):
            if s[i] != .min { out.append(contentsOf: ISODatetime.format(s[i]).utf8) }
        default:
            appendNumber(c.double(at: i), &out)
        }
    }

    /// The rows of one chunk as CSV lines; a skipped record becomes a line of empty fields.
    static func append(rows out: TablePredictor.Output, passthrough: [ColumnValues], skipped: [Int], columns: Int, into bytes: inout [UInt8]) {
        let n = out.rowCount
        let labels = out.labels.map { $0.map { Array(quoted($0).utf8) } }
        bytes.reserveCapacity(bytes.count + n * (8 + 20 * (out.proba?.columns ?? 0) + 8 * passthrough.count))
        var s = 0
        func emptyLine() {
            bytes.append(contentsOf: [UInt8](repeating: 44, count: max(0, columns - 1)))
            bytes.append(10)
        }
        for i in 0 ..< n {
            while s < skipped.count && skipped[s] == i { emptyLine(); s += 1 }
            for c in passthrough { appendValue(c, i, &bytes); bytes.append(44) }
            if let codes = out.codes {
                if let labels { bytes.append(contentsOf: labels[codes[i]]) } else { bytes.append(contentsOf: String(codes[i]).utf8) }
            } else if let values = out.values {
                appendNumber(values[i], &bytes)
            }
            if let p = out.proba {
                p.storage.withUnsafeBufferPointer { row in
                    for k in 0 ..< p.columns {
                        bytes.append(44)
                        let v = row[i * p.columns + k]
                        if v == 0 || v == 1 { bytes.append(v == 0 ? 48 : 49) } else { appendShortest(v, &bytes) }
                    }
                }
            }
            bytes.append(10)
        }
        while s < skipped.count { emptyLine(); s += 1 }
    }
}

/// A text stream into a byte array: ASCII (a number's digits) is appended as bytes.
struct ByteSink: TextOutputStream {
    var bytes: [UInt8] = []
    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}

enum BinaryOut {
    /// The rows of one chunk as little-endian float64 rows; a skipped record is a row of NaN.
    static func append(rows out: TablePredictor.Output, passthrough: [ColumnValues], skipped: [Int], into bytes: inout [UInt8]) {
        let n = out.rowCount
        let width = passthrough.count + 1 + (out.proba?.columns ?? 0)
        var row = [Double](repeating: .nan, count: width)
        var s = 0
        func put(_ r: [Double]) { r.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        for i in 0 ..< n {
            while s < skipped.count && skipped[s] == i { put([Double](repeating: .nan, count: width)); s += 1 }
            var k = 0
            for c in passthrough { row[k] = c.double(at: i); k += 1 }
            row[k] = out.codes.map { Double($0[i]) } ?? out.values![i]
            k += 1
            if let p = out.proba { for c in 0 ..< p.columns { row[k] = p[i, c]; k += 1 } }
            put(row)
        }
        while s < skipped.count { put([Double](repeating: .nan, count: width)); s += 1 }
    }
}

// MARK: - HDF5

enum HDF5Input {
    /// Collective. This rank's row block of an HDF5 dataset or group, chunk by chunk. Columns
    /// are matched by name when the object names them after the model's inputs (a group of
    /// columns, a `columns` attribute, a pandas frame), else by position (numeric only).
    static func chunks(_ path: String, predictor: TablePredictor, passthrough: [String], comm: any Communicator) throws -> HDF5Chunks {
        let reader = try HDF5Reader(HDF5Source(parsing: path), comm: comm)
        let names = reader.columns.map(\.name)
        let wanted = predictor.input.map(\.name)
        let block = Partition.block(count: reader.rowCount, parts: comm.size, index: comm.rank)
        if wanted.allSatisfy(names.contains) {
            for c in passthrough where !names.contains(c) {
                throw MPILearnError.invalidParameter(name: "--columns", value: "'\(c)'", allowed: "columns of \(reader.source): \(listPreview(names))")
            }
            for c in predictor.input {
                let info = reader.columns.first { $0.name == c.name }!
                if info.isCategorical != (c.kind == .categorical) && c.kind != .datetime {
                    throw MPILearnError.mismatch("\(reader.source): column '\(c.name)' is \(info.isCategorical ? "text" : "numbers (\(info.storage))"), but the model reads it as \(c.kind.rawValue)")
                }
            }
            var read = wanted
            for c in passthrough where !read.contains(c) { read.append(c) }
            return HDF5Chunks(reader: reader, columns: read, rename: nil, rows: block)
        }
        if names.allSatisfy({ $0.hasPrefix("x") && Int($0.dropFirst()) != nil }) {
            let renamed = try MatrixChunks.columnNames(width: names.count, source: reader.source.description, predictor: predictor, passthrough: passthrough)
            return HDF5Chunks(reader: reader, columns: names, rename: renamed, rows: block)
        }
        let missing = wanted.filter { !names.contains($0) }
        throw MPILearnError.mismatch("\(reader.source): no column \(listPreview(missing.map { "'\($0)'" })), which the model reads (it reads \(listPreview(wanted))); the object has \(listPreview(names))")
    }
}

/// Row chunks of an HDF5 object.
final class HDF5Chunks {
    let reader: HDF5Reader
    let columns: [String]
    let rename: [String]?
    let rows: Range<Int>
    var position: Int

    init(reader: HDF5Reader, columns: [String], rename: [String]?, rows: Range<Int>) {
        self.reader = reader
        self.columns = columns
        self.rename = rename
        self.rows = rows
        position = rows.lowerBound
    }

    func next(rows n: Int) throws -> SourceChunk? {
        guard position < rows.upperBound else { return nil }
        let range = position ..< min(rows.upperBound, position + n)
        var table = try reader.read(rows: range, columns: columns)
        if let rename { for j in table.columns.indices { table.columns[j].name = rename[j] } }
        position = range.upperBound
        let source = reader.source.description
        return SourceChunk(table: table, locate: { row, column in SourceLocation(file: "\(source) (row \(range.lowerBound + row + 1), column '\(column)')") })
    }
}

enum HDF5Out {
    /// Collective. Runs `body` (float64 rows of `columns.count` values, as bytes) into a
    /// scratch file per rank, then writes every rank's rows at its offset into one 2-D
    /// dataset (`file.h5:/object`, default `/predictions`) with a `columns` attribute.
    static func write(_ path: String, columns: [String], comm: any Communicator,
                      body: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> String {
        let target = HDF5Source(parsing: path)
        let object = target.object ?? "/predictions"
        var template = Array((FileManager.default.temporaryDirectory.path + "/.mpilearn-predict-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw MPILearnError.cannotWrite(path: path, reason: "cannot create a scratch file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(fd) }
        var bytes = 0
        try body { chunk in
            var done = 0
            while done < chunk.count {
                let n = Foundation.write(fd, chunk.baseAddress! + done, chunk.count - done)
                if n < 0 { if errno == EINTR { continue }; throw MPILearnError.cannotWrite(path: path, reason: "scratch file: \(String(cString: strerror(errno)))") }
                done += n
            }
            bytes += chunk.count
        }
        let width = columns.count
        let myRows = bytes / (8 * width)
        let counts = try comm.allgatherCounts(myRows)
        let writer = try HDF5Writer(path: target.file, object: object, rows: counts.reduce(0, +), columns: columns, layout: .matrix, comm: comm)
        let blockRows = 65536
        var block = [Double](repeating: 0, count: blockRows * width)
        var done = 0
        let first = counts[..<comm.rank].reduce(0, +)
        while done < myRows {
            let m = min(blockRows, myRows - done)
            let want = m * width * 8
            let got = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(done * width * 8)) }
            guard got == want else { throw MPILearnError.cannotWrite(path: path, reason: "reading this rank's scratch file back") }
            try writer.write(Matrix(rows: m, columns: width, storage: Array(block[0 ..< m * width])), atRow: first + done)
            done += m
        }
        try writer.finish()
        return "\(target.file):\(object)"
    }
}
