import Foundation
import SwiftMPI

/// The `mpilearn pipeline fit` workflow as a library call: read a spec file, load the
/// training rows (each rank its byte range), fit the pipeline collectively, save one model file.
public enum PipelineWorkflow {
    /// What a fit did.
    public struct FitSummary: Sendable {
        public var rows: Int
        public var input: [PipelineColumn]
        public var steps: [String]
        public var finalKind: String
        public var finalFeatures: [String]
        public var seconds: Double
        public var model: String?
        /// The training score (accuracy, R² or −inertia) on the training rows.
        public var trainingScore: Double?

        public var text: String {
            var lines = ["pipeline: \(rows) rows, \(input.count) input columns (\(listPreview(input.map { "\($0.name):\($0.kind.rawValue)" }, limit: 10)))"]
            lines.append("steps: " + (steps + [finalKind]).joined(separator: " → "))
            lines.append("\(finalKind): \(finalFeatures.count) features (\(listPreview(finalFeatures, limit: 12)))")
            if let s = trainingScore { lines.append(String(format: "training score: %.6f", s)) }
            lines.append(String(format: "fit: %.2f s", seconds) + (model.map { "; saved \($0)" } ?? ""))
            return lines.joined(separator: "\n")
        }
    }

    /// Collective. Loads the training rows for a pipeline: the columns its first `select` step
    /// keeps (or every column), each rank its byte range, types inferred over every rank (a
    /// column of ISO dates is a datetime, of text categorical); the target from `target`
    /// (a column, or `COLUMN>NUMBER`); rows whose target is missing are dropped and counted.
    /// - Returns: the feature table (target removed unless the spec selects it), the input
    ///   schema, targets and class names.
    public static func loadTraining(_ path: String, spec: PipelineSpec, target: String?, role: EstimatorRole, comm: any Communicator,
                                    note: (String) -> Void) throws -> (table: Table, input: [PipelineColumn], y: [Double]?, classNames: [String]?) {
        if TrainingData.isGeneratorSpec(path) {
            var d = try TrainingData.generated(path, comm: comm, test: false)!
            if role == .clusterer { d.target = nil }
            let (t, input) = PipelineData.table(from: d)
            return (t, input, d.target, role == .classifier ? d.classNames ?? Array(Set(d.target ?? [])).sorted().map { String(Int($0)) } : nil)
        }
        let names = try TrainingData.columnNames(path)
        var selected: [String]? = nil
        if let first = spec.steps.first, first.kind == "select", case .object(let o) = first.parameters, case .array(let cols)? = o["columns"] {
            selected = cols.compactMap { if case .string(let s) = $0 { return s }; return nil }
        }
        let targetSpec = try target.map { try TargetSpec($0, columns: names) }
        if role != .clusterer && targetSpec == nil {
            throw MPILearnError.invalidParameter(name: "--target", value: "none", allowed: "the target column of \(path) (a \(role.rawValue) learns one)")
        }
        for c in targetSpec?.columns ?? [] where !names.contains(c) {
            throw MPILearnError.invalidParameter(name: "--target", value: "'\(c)'", allowed: "a column of \(path): \(listPreview(names))")
        }
        if role == .classifier { try targetSpec?.checkClassification() }
        for c in selected ?? [] where !names.contains(c) {
            throw MPILearnError.dataError(spec.steps[0].keyLocations["columns"] ?? spec.steps[0].location,
                                          "select keeps column '\(c)', which \(path) does not have (its columns: \(listPreview(names)))")
        }
        var read = selected ?? names
        var types: [String: ColumnType] = [:]
        if let t = targetSpec {
            for c in t.columns where !read.contains(c) { read.append(c) }
            for (c, type) in t.columnTypes(classification: role == .classifier) where !(selected?.contains(c) ?? false) { types[c] = type }
        }
        var table = try TrainingData.read(path, options: CSVOptions(columns: read, types: types), comm: comm)
        var y: [Double]? = nil, classNames: [String]? = nil
        if let t = targetSpec {
            if role == .classifier && !t.isBinary { try TrainingData.checkClassificationTarget(try table.column(named: t.column), path: path) }
            var values: [Double]
            (values, classNames) = try TrainingData.targetValues(table, spec: t)
            if role == .regressor { classNames = nil }
            if role == .classifier && classNames == nil {
                // Numeric class labels: code them by their sorted distinct values.
                let distinct = Array(Set(try comm.allgatherv(values.filter { !$0.isNaN }).values)).sorted()
                classNames = distinct.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }
                var index: [Double: Double] = [:]
                for (i, v) in distinct.enumerated() { index[v] = Double(i) }
                values = values.map { $0.isNaN ? .nan : index[$0]! }
            }
            // The target's columns are not features unless the spec selects them.
            table.columns.removeAll { t.columns.contains($0.name) && !(selected?.contains($0.name) ?? false) }
            let keep = values.map { !$0.isNaN }
            let dropped = try comm.allreduce(Int64(keep.filter { !$0 }.count), op: .sum)
            if dropped > 0 {
                note("dropped \(dropped) rows whose target \(t.column) is missing")
                TrainingData.filterRows(&table, keep: keep)
                values.removeAll { $0.isNaN }
            }
            y = values
        }
        let counts = try comm.allgatherCounts(table.rowCount)
        table.globalRowStart = counts[..<comm.rank].reduce(0, +)
        table.globalRowCount = counts.reduce(0, +)
        let input = table.columns.map { PipelineColumn(name: $0.name, kind: $0.values.columnType) }
        return (table, input, y, classNames)
    }

    /// Collective. Reads the spec at `specPath`, loads `train`, fits the pipeline and, on
    /// rank 0, saves it to `model` (atomically). Spec errors come before any data is read.
    /// - Parameter datetimeFormat: a strptime-style format (`%d/%m/%Y %H:%M`) for every
    ///   `datetime-features` step whose spec gives none (the command line's `--datetime-format`).
    public static func fit(spec specPath: String, train: String, target: String?, task: String = "classification", model: String?,
                           datetimeFormat: String? = nil,
                           comm: any Communicator, log: @escaping (String) -> Void = { _ in }) throws -> FitSummary {
        let start = Date()
        try require(["classification", "regression"].contains(task), "--task", task, "classification or regression")
        var spec = try PipelineSpec.load(specPath)
        if let datetimeFormat { try spec.setDatetimeFormat(datetimeFormat) }
        // Before any data is read: the model's folder must take the file.
        if let model, comm.rank == 0 { try OutputTarget.requireWritableFolder(of: model) }
        return try spec.visit(task: task, Fitter(spec: spec, train: train, target: target, model: model, comm: comm, log: log, start: start))
    }

    struct Fitter: PipelineVisitor {
        let spec: PipelineSpec
        let train: String
        let target: String?
        let model: String?
        let comm: any Communicator
        let log: (String) -> Void
        let start: Date

        func visit<E: Estimator>(_ pipeline: Pipeline<E>) throws -> FitSummary {
            let root = comm.rank == 0
            let data = try loadTraining(train, spec: spec, target: target, role: E.role, comm: comm) { if root { log($0) } }
            let fitted = try pipeline.fit(table: data.table, input: data.input, target: data.y, targetName: target ?? "",
                                          classNames: data.classNames, source: train, comm: comm)
            var score: Double? = nil
            if let y = data.y, let scoring = Scoring.defaultScoring(for: E.role) {
                // The estimator's default score on the rows as loaded (every rank its rows).
                let x = try fitted.features(data.table, context: .memory(train))
                score = try scoring.score(fitted.final, x: x, y: y, labels: data.classNames ?? [], comm: comm)
            }
            if root, let model { try fitted.save(to: model) }
            try comm.barrier()
            return FitSummary(rows: data.table.globalRowCount, input: data.input, steps: pipeline.steps.map { "\($0.name) (\($0.transformer.kind))" },
                              finalKind: E.estimatorName, finalFeatures: fitted.finalFeatures.featureNames,
                              seconds: Date().timeIntervalSince(start), model: model, trainingScore: score)
        }
    }
}
