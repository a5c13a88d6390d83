import Foundation
import SwiftMPI

// scikit-learn's Pipeline: named preprocessing steps, then any estimator. The pipeline is an
// `Estimator` itself (its parameters are `step__param` names, so search and `setting` work on
// it unchanged) and its fitted model is one `FittedModel` saved as one file: every fitted step,
// the final model, and the input schema (the columns a prediction file must hold, and their
// kinds).

/// One column a pipeline (or any model predicting from a table) reads: its name, its kind, and
/// for a categorical column read from an in-memory dataset, the dictionary its codes index.
public struct PipelineColumn: Codable, Equatable, Sendable {
    public var name: String
    /// numeric, categorical or datetime.
    public var kind: ColumnType
    /// The dictionary of the training data's codes (used only to turn a code matrix back
    /// into values: ``PipelineModel/table(from:)``).
    public var categories: [String]?

    public init(name: String, kind: ColumnType, categories: [String]? = nil) {
        self.name = name
        self.kind = kind
        self.categories = categories
    }
}

/// A named preprocessing step of a pipeline.
public struct PipelineStep: Sendable {
    public var name: String
    public var transformer: AnyTableTransformer

    public init(name: String, _ transformer: any TableTransformer) {
        self.name = name
        self.transformer = AnyTableTransformer(transformer)
    }

    public init(name: String, transformer: AnyTableTransformer) {
        self.name = name
        self.transformer = transformer
    }
}

/// scikit-learn's `Pipeline`: preprocessing steps on a table, then the estimator `Final`.
///
/// ```swift
/// let pipe = Pipeline(steps: [PipelineStep(name: "onehot", OneHotEncoder(handleUnknown: "ignore")),
///                             PipelineStep(name: "scale", StandardScaler())],
///                     final: LogisticRegression(), finalName: "model")
/// let model = try pipe.fit(table: table, target: y, classNames: ["false", "true"], comm: comm)
/// ```
///
/// Parameters are scikit-learn's `step__param` names (`scale__with_mean`, `model__C`), which
/// ``Estimator/setting(_:)`` and search grids use; `steps` holds the whole structure as JSON.
/// Fitting is collective: each step learns its statistics from every rank's rows (merged by
/// value, so it is the same for any number of ranks), transforms the rows, and the next step
/// fits on the result; the final estimator fits on the last table's columns.
public struct Pipeline<Final: Estimator>: Estimator {
    public typealias Model = PipelineModel<Final.Model>
    public static var estimatorName: String { "pipeline" }
    public static var role: EstimatorRole { Final.role }
    public static var fitsShardedData: Bool { Final.fitsShardedData }

    public var steps: [PipelineStep]
    public var final: Final
    public var finalName: String

    public init(steps: [PipelineStep], final: Final, finalName: String = "model") {
        self.steps = steps
        self.final = final
        self.finalName = finalName
    }

    public func validate() throws {
        var seen = Set<String>()
        for name in steps.map(\.name) + [finalName] {
            try require(!name.isEmpty && !name.contains("__"), "pipeline step name", "'\(name)'", "a non-empty name without '__'")
            try require(seen.insert(name).inserted, "pipeline step name", "'\(name)'", "names used once each")
        }
        for s in steps {
            do { try s.transformer.base.validate() } catch let e as MPILearnError {
                throw Self.named(e, step: s.name, keys: Set((try? TransformerRegistry.parameterNames(of: s.transformer.kind)) ?? []))
            }
        }
        do { try final.validate() } catch let e as MPILearnError {
            throw Self.named(e, step: finalName, keys: Set((try? final.parameterNames()) ?? []))
        }
    }

    /// A step's parameter error under the pipeline's name for the parameter (`scale__with_mean`).
    static func named(_ e: MPILearnError, step: String, keys: Set<String>) -> MPILearnError {
        guard case let .invalidParameter(name, value, allowed) = e else { return e }
        guard let key = name.split(separator: ".").map(String.init).first(where: keys.contains) else { return e }
        return .invalidParameter(name: "\(step)__\(key)", value: value, allowed: allowed)
    }

    public func expectedCost(rows: Int) -> Double { final.expectedCost(rows: rows) }

    // MARK: coding: `steps` (JSON) and `step__param` scalars

    typealias Key = NamedCodingKey

    /// The structure as `steps` holds it.
    struct StepsJSON: Codable {
        struct Step: Codable {
            var name: String
            var kind: String
            var params: JSONValue
        }
        var steps: [Step]
        var final: Step
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        var list: [StepsJSON.Step] = []
        for s in steps {
            let params = try JSONValue(json: s.transformer.parameterJSON())
            list.append(StepsJSON.Step(name: s.name, kind: s.transformer.kind, params: params))
            if case .object(let o) = params {
                for (k, v) in o where v.isScalar { try c.encode(v, forKey: Key("\(s.name)__\(k)")) }
            }
        }
        let finalParams = try JSONValue(json: ModelJSON.encoder.encode(final))
        if case .object(let o) = finalParams {
            for (k, v) in o { try c.encode(v, forKey: Key("\(finalName)__\(k)")) }
        }
        let structure = StepsJSON(steps: list, final: StepsJSON.Step(name: finalName, kind: Final.estimatorName, params: finalParams))
        try c.encode(String(decoding: ModelJSON.encoder.encode(structure), as: UTF8.self), forKey: Key("steps"))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        guard let text = try c.decodeIfPresent(String.self, forKey: Key("steps")) else {
            throw MPILearnError.invalidParameter(name: "steps", value: "none", allowed: "the pipeline's steps (a pipeline spec file)")
        }
        var structure = try ModelJSON.decoder.decode(StepsJSON.self, from: Data(text.utf8))
        // `step__param` values override the structure's.
        for key in c.allKeys where key.stringValue != "steps" {
            let parts = key.stringValue.components(separatedBy: "__")
            guard parts.count == 2 else {
                throw MPILearnError.unknownParameter(name: key.stringValue, estimator: Self.estimatorName,
                                                     valid: ["steps"] + structure.steps.map { "\($0.name)__…" } + ["\(structure.final.name)__…"])
            }
            let value = try c.decode(JSONValue.self, forKey: key)
            if parts[0] == structure.final.name {
                structure.final.params = structure.final.params.setting(parts[1], value)
            } else if let i = structure.steps.firstIndex(where: { $0.name == parts[0] }) {
                guard case .object(let o) = structure.steps[i].params, o[parts[1]] != nil else {
                    let valid = (try? TransformerRegistry.type(of: structure.steps[i].kind).map { try TransformerRegistry.validNames($0).sorted() }) ?? nil
                    throw MPILearnError.unknownParameter(name: key.stringValue, estimator: "\(structure.steps[i].kind) step '\(parts[0])'",
                                                         valid: (valid ?? []).map { "\(parts[0])__\($0)" })
                }
                structure.steps[i].params = structure.steps[i].params.setting(parts[1], value)
            } else {
                throw MPILearnError.unknownParameter(name: key.stringValue, estimator: Self.estimatorName,
                                                     valid: structure.steps.map(\.name) + [structure.final.name])
            }
        }
        guard structure.final.kind == Final.estimatorName else {
            throw MPILearnError.invalidParameter(name: "steps", value: "final kind '\(structure.final.kind)'", allowed: Final.estimatorName)
        }
        steps = try structure.steps.map { s in
            do {
                return PipelineStep(name: s.name, transformer: try AnyTableTransformer.decode(kind: s.kind, json: s.params.data()))
            } catch let e as MPILearnError {
                throw Self.named(e, step: s.name, keys: Set((try? TransformerRegistry.parameterNames(of: s.kind)) ?? []))
            }
        }
        do {
            final = try ModelJSON.decoder.decode(Final.self, from: structure.final.params.data())
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: "\(structure.final.name)__\(key)", value: "?",
                                                 allowed: "a value of type \(ParameterValue.typeName(type))")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw MPILearnError.invalidParameter(name: "\(structure.final.name)__\(key)", value: "?", allowed: context.debugDescription)
        } catch let e as MPILearnError {
            throw Self.named(e, step: structure.final.name, keys: Set(structure.final.params.keys))
        }
        finalName = structure.final.name
    }

    // MARK: fit

    public func fit(_ data: Dataset<Double>, comm: any Communicator) throws -> Model {
        let (table, columns) = PipelineData.table(from: data)
        return try fit(table: table, input: columns, target: data.target, targetName: data.targetName, classNames: data.classNames,
                       source: data.source, comm: comm)
    }

    /// Collective. Fits every step, then the final estimator, on every rank's rows of `table`.
    /// - Parameters:
    ///   - table: this rank's rows: the columns a prediction file will hold.
    ///   - input: the input schema (default: the table's columns and kinds).
    ///   - target: one value per row (class codes for a classifier), nil for a clusterer.
    ///   - classNames: a classifier's class names in code order.
    public func fit(table: Table, input: [PipelineColumn]? = nil, target: [Double]?, targetName: String = "target",
                    classNames: [String]? = nil, source: String = "training data", comm: any Communicator) throws -> Model {
        try validate()
        let inputColumns = input ?? table.columns.map { PipelineColumn(name: $0.name, kind: $0.values.columnType) }
        var t = table
        var fitted: [PipelineModel<Final.Model>.FittedStep] = []
        let context = TransformContext.memory(source)
        for s in steps {
            let f: AnyFittedTransformer
            do {
                f = try s.transformer.fit(t, comm: comm)
                t = try f.transform(t, context: context)
            } catch let e as MPILearnError {
                throw e.prefixed("pipeline step '\(s.name)' (\(s.transformer.kind))")
            }
            fitted.append(.init(name: s.name, step: f))
        }
        // Categorical columns that reach the estimator get one dictionary over every rank.
        t = try PipelineData.globalDictionaries(t, comm: comm)
        var data = try t.columnDataset(features: t.columnNames)
        data.target = target
        data.targetName = targetName
        data.classNames = classNames
        data.source = source
        data.globalRowStart = table.globalRowStart
        data.globalRowCount = table.globalRowCount
        let model = try final.fit(data, comm: comm)
        return PipelineModel(input: inputColumns, steps: fitted, finalName: finalName, finalFeatures: data.schema, final: model,
                             specification: try String(decoding: ModelJSON.encoder.encode(self), as: UTF8.self))
    }
}

// MARK: - the fitted pipeline

/// What every model that predicts from a table offers the streaming predict: the columns it
/// reads and its features from a table of them.
public protocol TableInputModel {
    /// The columns a prediction file must hold, and their kinds.
    var inputColumns: [PipelineColumn] { get }
    /// Local. The final estimator's features from a table holding ``inputColumns``.
    func features(_ table: Table, context: TransformContext) throws -> Matrix<Double>
    /// The model that predicts from those features.
    var estimator: any FittedModel { get }
}

/// A fitted pipeline: fitted steps, the fitted final model `M`, and the input schema.
public struct PipelineModel<M: FittedModel>: FittedModel, TableInputModel {
    public static var kind: String { "pipeline" }
    public static var role: EstimatorRole { M.role }

    public struct FittedStep: Sendable {
        public var name: String
        public var step: AnyFittedTransformer
    }

    /// The columns predictions read (name, kind).
    public var input: [PipelineColumn]
    public var steps: [FittedStep]
    public var finalName: String
    /// The final estimator's features: names and the dictionaries of categorical ones.
    public var finalFeatures: FeatureSchema
    public var final: M
    /// The pipeline's parameters (JSON of ``Pipeline``'s coding).
    public var specification: String

    public var featureNames: [String] { input.map(\.name) }
    public var inputColumns: [PipelineColumn] { input }
    public var estimator: any FittedModel { final }

    /// Local. The rows after every preprocessing step.
    public func transform(_ table: Table, context: TransformContext) throws -> Table {
        var t = table
        for s in steps {
            do { t = try s.step.transform(t, context: context) } catch let e as MPILearnError {
                throw e.prefixed("pipeline step '\(s.name)' (\(s.step.kind))")
            }
        }
        return t
    }

    /// Local. The final estimator's features: the steps' output, its categorical columns
    /// recoded onto the training dictionaries (an unseen value becomes missing), in the
    /// training order.
    public func features(_ table: Table, context: TransformContext) throws -> Matrix<Double> {
        var t = try transform(table, context: context)
        for (j, name) in finalFeatures.featureNames.enumerated() {
            guard let k = t.columns.firstIndex(where: { $0.name == name }) else {
                throw MPILearnError.mismatch("pipeline: the steps' output has no column '\(name)' that \(finalName) was trained on (output columns: \(listPreview(t.columnNames)))")
            }
            if let cats = finalFeatures.categories[j] {
                guard case .categorical = t.columns[k].values else {
                    throw MPILearnError.mismatch("pipeline: column '\(name)' is \(t.columns[k].values.columnType.rawValue), but \(finalName) was trained on it as categorical")
                }
                try t.recode(column: name, to: CategoryDictionary(sortedUnique: cats), policy: .missing)
            }
        }
        return try t.matrix(Double.self, columns: finalFeatures.featureNames)
    }

    /// The rows of a matrix in the input's column order (categorical columns as codes into
    /// the input's dictionaries, datetimes as seconds) as a table.
    public func table(from x: Matrix<Double>) throws -> Table {
        try checkFeatures(x.columns)
        var columns: [Column] = []
        for (j, c) in input.enumerated() {
            let values = (0 ..< x.rows).map { x[$0, j] }
            switch c.kind {
            case .categorical:
                let dict = CategoryDictionary(sortedUnique: c.categories ?? [])
                let codes = values.map { v -> Int32 in v.isNaN || v < 0 || Int(v) >= dict.count ? -1 : Int32(v) }
                columns.append(Column(name: c.name, values: .categorical(codes, dict)))
            case .datetime:
                columns.append(Column(name: c.name, values: .datetime(values.map { $0.isNaN ? Int64.min : Int64($0) })))
            default:
                columns.append(Column(name: c.name, values: .float64(values)))
            }
        }
        return Table(columns: columns, rowCount: x.rows, globalRowStart: 0, globalRowCount: x.rows)
    }

    /// The final features of matrix rows in the input's order.
    func finalMatrix(_ x: Matrix<Double>) throws -> Matrix<Double> {
        try features(table(from: x), context: .memory("input rows"))
    }

    // MARK: persistence

    struct Header: Codable {
        var input: [PipelineColumn]
        var steps: [StepHeader]
        var finalName: String
        var finalKind: String
        var finalFeatures: FeatureSchema
        var specification: String
        var mpilearnVersion: String
        struct StepHeader: Codable {
            var name: String
            var kind: String
        }
    }

    public func container() throws -> ModelContainer {
        let h = Header(input: input, steps: steps.map { .init(name: $0.name, kind: $0.step.kind) }, finalName: finalName, finalKind: M.kind,
                       finalFeatures: finalFeatures, specification: specification, mpilearnVersion: MPILearnVersion.string)
        var sections: [(name: String, bytes: Data)] = []
        for (i, s) in steps.enumerated() { sections.append(("step.\(i)", try s.step.fittedJSON())) }
        sections.append(("final", try final.container().encoded()))
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(h), sections: sections)
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> PipelineModel<M> {
        func bad(_ msg: String) -> MPILearnError { .dataError(SourceLocation(file: path), msg) }
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch { throw bad("pipeline model header is not valid: \(error)") }
        guard h.finalKind == M.kind else { throw bad("the pipeline's final model is a '\(h.finalKind)', not a '\(M.kind)'") }
        var steps: [FittedStep] = []
        for (i, s) in h.steps.enumerated() {
            do {
                steps.append(FittedStep(name: s.name, step: try AnyFittedTransformer.decode(kind: s.kind, json: try c.section("step.\(i)", in: path))))
            } catch let e as MPILearnError { throw e } catch {
                throw bad("pipeline step '\(s.name)' (\(s.kind)) is not valid: \(error)")
            }
        }
        let inner = try ModelContainer.decode(try c.section("final", in: path), path: path, expectedKinds: [M.kind])
        return PipelineModel(input: h.input, steps: steps, finalName: h.finalName, finalFeatures: h.finalFeatures,
                             final: try M.decode(inner, path: path), specification: h.specification)
    }

    public func summary() -> [(String, String)] {
        var out: [(String, String)] = [("input", input.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", "))]
        for (i, s) in steps.enumerated() {
            out.append(("step \(i + 1)", "\(s.name): \(s.step.kind)"))
            for (k, line) in s.step.base.summary().enumerated() { out.append(("  \(s.name)[\(k + 1)]", line)) }
        }
        out.append(("step \(steps.count + 1)", "\(finalName): \(M.kind) on \(finalFeatures.featureNames.count) features (\(listPreview(finalFeatures.featureNames, limit: 8)))"))
        for (k, v) in final.summary() { out.append(("  \(finalName).\(k)", v)) }
        return out
    }
}

extension PipelineModel: ClassifierModel where M: ClassifierModel {
    public var classes: [String] { final.classes }
    public func predictProba(_ x: Matrix<Double>) throws -> Matrix<Double> { try final.predictProba(finalMatrix(x)) }
    public func predict(_ x: Matrix<Double>) throws -> [Int] { try final.predict(finalMatrix(x)) }
}

extension PipelineModel: RegressorModel where M: RegressorModel {
    public func predict(_ x: Matrix<Double>) throws -> [Double] { try final.predict(finalMatrix(x)) }
}

extension PipelineModel: ClustererModel where M: ClustererModel {
    public func predict(_ x: Matrix<Double>) throws -> [Int] { try final.predict(finalMatrix(x)) }
    public func score(_ x: Matrix<Double>) throws -> Double { try final.score(finalMatrix(x)) }
}

/// Decoding a pipeline file of any final kind.
public enum PipelineModels {
    /// The pipeline in `c` (kind `pipeline`), whatever its final model.
    public static func decode(_ c: ModelContainer, path: String) throws -> any FittedModel {
        let inner = try ModelContainer.decode(try c.section("final", in: path), path: path)
        guard let t = ModelRegistry.types.first(where: { $0.kind == inner.kind }) else {
            throw MPILearnError.dataError(SourceLocation(file: path), "unknown final model kind '\(inner.kind)' in the pipeline")
        }
        return try open(t, c, path: path)
    }

    static func open<M: FittedModel>(_ t: M.Type, _ c: ModelContainer, path: String) throws -> any FittedModel {
        try PipelineModel<M>.decode(c, path: path)
    }
}

// MARK: - tables from datasets, global dictionaries

public enum PipelineData {
    /// A dataset's features as a table (categorical features keep their dictionaries) and the
    /// input schema they make.
    public static func table(from data: Dataset<Double>) -> (Table, [PipelineColumn]) {
        var d = data
        if d.features.isSparse { d.makeDense() }
        var columns: [Column] = []
        var schema: [PipelineColumn] = []
        let n = d.rowCount
        func column(_ j: Int) -> [Double] {
            switch d.features {
            case .columns(let c, _): return c[j]
            case .coded(let c, _): return c[j].decoded()
            case .dense(let m): return (0 ..< n).map { m[$0, j] }
            case .sparse: return []
            }
        }
        for (j, name) in d.featureNames.enumerated() {
            let v = column(j)
            if let dict = d.categories[j] {
                columns.append(Column(name: name, values: .categorical(v.map { $0.isNaN ? -1 : Int32($0) }, dict)))
                schema.append(PipelineColumn(name: name, kind: .categorical, categories: dict.values))
            } else {
                columns.append(Column(name: name, values: .float64(v)))
                schema.append(PipelineColumn(name: name, kind: .numeric))
            }
        }
        return (Table(columns: columns, rowCount: n, globalRowStart: d.globalRowStart, globalRowCount: d.globalRowCount), schema)
    }

    /// Collective. The table with each categorical column recoded onto the sorted union of
    /// every rank's values (one allgather), so codes mean the same on every rank.
    public static func globalDictionaries(_ table: Table, comm: any Communicator) throws -> Table {
        let names = table.categoricalColumnNames
        guard !names.isEmpty else { return table }
        let local: [[String]] = try names.map { name in
            guard case .categorical(let codes, let dict) = table.columns[try table.requireColumn(name, for: "pipeline")].values else { return [] }
            var used = [Bool](repeating: false, count: dict.count)
            for c in codes where c >= 0 { used[Int(c)] = true }
            return dict.values.indices.filter { used[$0] }.map { dict.values[$0] }
        }
        let all = try comm.allgatherObject(local)
        var t = table
        for (j, name) in names.enumerated() {
            let dict = CategoryDictionary(all.flatMap { $0[j] })
            try t.recode(column: name, to: dict, policy: .missing)
        }
        return t
    }
}

// MARK: - a JSON value (parameters of any shape)

/// A JSON value, for parameters of any shape (lists, mappings) inside the pipeline's coding.
public indirect enum JSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    init(json: Data) throws { self = try ModelJSON.decoder.decode(JSONValue.self, from: json) }
    func data() throws -> Data { try ModelJSON.encoder.encode(self) }

    /// An object's keys (none for other values).
    var keys: [String] {
        if case .object(let o) = self { return Array(o.keys) }
        return []
    }

    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var o) = self else { return self }
        o[key] = value
        return .object(o)
    }
}
