import Foundation
import Yams

/// A pipeline spec file: YAML or JSON (JSON is YAML), a list of steps, the last one an
/// estimator.
///
/// ```yaml
/// steps:
///   - {name: select, kind: select, columns: [time_hour, carrier, origin, dep_delay, distance]}
///   - {name: time, kind: datetime-features, columns: [time_hour], features: [hour, dayofweek]}
///   - {name: onehot, kind: one-hot-encoder, columns: [carrier, origin], handle_unknown: ignore}
///   - {name: scale, kind: standard-scaler}
///   - {name: model, kind: logistic-regression, C: 1.0}
/// ```
///
/// Every other key of a step is a parameter of its kind, by scikit-learn's name. `name`
/// defaults to the kind. Errors (an unknown kind or parameter, a value of the wrong type)
/// name the file, line and column of the offending key.
public struct PipelineSpec: Sendable {
    public struct Step: Sendable {
        public var name: String
        public var kind: String
        public var parameters: JSONValue
        /// Where the step is, and where each of its parameter keys is.
        public var location: SourceLocation
        public var keyLocations: [String: SourceLocation]
    }

    public var path: String
    public var steps: [Step]
    public var final: Step

    /// The estimator kinds a spec's last step may name.
    public static var estimatorKinds: [String] { EstimatorRegistry.names }

    /// Reads and checks a spec file: every step kind and parameter is checked here, before
    /// any data is read.
    /// - Throws: ``MPILearnError/cannotRead`` for a missing file; ``MPILearnError/dataError``
    ///   at file:line:column for a syntax error, an unknown step kind or parameter, or a bad value.
    public static func load(_ path: String) throws -> PipelineSpec {
        guard FileManager.default.fileExists(atPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "no such file") }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw MPILearnError.cannotRead(path: path, reason: "not readable as UTF-8 text (\(error.localizedDescription))")
        }
        return try parse(text, path: path)
    }

    /// A spec from its text (`path` names it in messages).
    public static func parse(_ text: String, path: String) throws -> PipelineSpec {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw MPILearnError.dataError(ParameterSpaceParser.location(of: e, path: path), "not valid YAML or JSON: \(ParameterSpaceParser.summary(of: e))")
        } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "not valid YAML or JSON: \(error)")
        }
        func at(_ n: Node) -> SourceLocation { SourceLocation(file: path, line: n.mark.map { $0.line }, column: n.mark.map { $0.column }) }
        func bad(_ n: Node, _ msg: String) -> MPILearnError { .dataError(at(n), msg) }
        guard let node else { throw MPILearnError.dataError(SourceLocation(file: path), "the pipeline spec is empty") }
        let list: [Node]
        if let m = node.mapping {
            for (k, _) in m where k.scalar?.string != "steps" {
                throw bad(k, "unknown key '\(k.scalar?.string ?? "?")' (a pipeline spec has one key, steps: a list of steps)")
            }
            guard let s = m["steps"]?.sequence else { throw bad(node, "expected 'steps:' with a list of steps") }
            list = Array(s)
        } else if let s = node.sequence {
            list = Array(s)
        } else {
            throw bad(node, "expected a mapping with 'steps:' (a list of steps)")
        }
        guard !list.isEmpty else { throw bad(node, "the pipeline has no steps (the last one is the estimator)") }
        var steps: [Step] = []
        for n in list {
            guard let m = n.mapping else { throw bad(n, "a step is a mapping: {name: NAME, kind: KIND, parameters…}") }
            var kind: String?, name: String?
            var params: [String: JSONValue] = [:]
            var keys: [String: SourceLocation] = [:]
            for (k, v) in m {
                guard let key = k.scalar?.string else { throw bad(k, "a key must be a string") }
                switch key {
                case "kind":
                    guard let s = v.scalar?.string else { throw bad(v, "kind must be a string") }
                    kind = s
                case "name":
                    guard let s = v.scalar?.string else { throw bad(v, "name must be a string") }
                    name = s
                default:
                    params[key] = try value(v, bad: bad)
                    keys[key] = at(k)
                }
            }
            guard let kind else { throw bad(n, "the step has no kind (one of \(TransformerRegistry.kinds.joined(separator: ", ")), or an estimator last)") }
            steps.append(Step(name: name ?? kind, kind: kind, parameters: .object(params), location: at(n), keyLocations: keys))
        }
        let final = steps.removeLast()
        let spec = PipelineSpec(path: path, steps: steps, final: final)
        try spec.check()
        return spec
    }

    /// A YAML value as JSON: plain scalars typed (null, booleans, numbers), quoted ones strings.
    static func value(_ n: Node, bad: (Node, String) -> MPILearnError) throws -> JSONValue {
        if let s = n.scalar {
            guard s.style == .plain else { return .string(s.string) }
            switch s.string.lowercased() {
            case "~", "null", "none": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default:
                if let d = Double(s.string), !s.string.lowercased().hasPrefix("inf"), !s.string.lowercased().hasPrefix("nan") { return .number(d) }
                return .string(s.string)
            }
        }
        if let seq = n.sequence { return .array(try seq.map { try value($0, bad: bad) }) }
        if let m = n.mapping {
            var o: [String: JSONValue] = [:]
            for (k, v) in m {
                guard let key = k.scalar?.string else { throw bad(k, "a key must be a string") }
                o[key] = try value(v, bad: bad)
            }
            return .object(o)
        }
        throw bad(n, "unsupported YAML value")
    }

    /// Checks every step: its kind exists, its parameters are known and valid; the last step
    /// is an estimator.
    func check() throws {
        var seen = Set<String>()
        for s in steps + [final] {
            guard seen.insert(s.name).inserted else { throw MPILearnError.dataError(s.location, "step name '\(s.name)' is used twice") }
            guard !s.name.contains("__") else { throw MPILearnError.dataError(s.location, "step name '\(s.name)' contains '__'") }
        }
        for s in steps {
            guard TransformerRegistry.type(of: s.kind) != nil else {
                let hint = Self.estimatorKinds.contains(s.kind) ? " ('\(s.kind)' is an estimator: only the last step may be one)" : ""
                throw MPILearnError.dataError(s.location, "unknown step kind '\(s.kind)'\(hint); the steps are \(TransformerRegistry.kinds.joined(separator: ", "))")
            }
            do { _ = try transformer(s) } catch let e as MPILearnError { throw located(e, s) }
        }
        guard Self.estimatorKinds.contains(final.kind) else {
            let hint = TransformerRegistry.type(of: final.kind) != nil ? " ('\(final.kind)' is a preprocessing step; end the pipeline with an estimator)" : ""
            throw MPILearnError.dataError(final.location, "unknown estimator '\(final.kind)' as the last step\(hint); the estimators are \(Self.estimatorKinds.joined(separator: ", "))")
        }
    }

    /// Sets `format` on every `datetime-features` step that has none (or null), and checks
    /// the steps again.
    public mutating func setDatetimeFormat(_ format: String) throws {
        for i in steps.indices where steps[i].kind == "datetime-features" {
            if case .object(var o) = steps[i].parameters, o["format"] == nil || o["format"] == .null {
                o["format"] = .string(format)
                steps[i].parameters = .object(o)
            }
        }
        do { try check() } catch let e as MPILearnError {
            throw MPILearnError.invalidParameter(name: "--datetime-format", value: "'\(format)'", allowed: "a strptime-style format (\(e.description))")
        }
    }

    /// The step's transformer.
    public func transformer(_ s: Step) throws -> AnyTableTransformer {
        try AnyTableTransformer.decode(kind: s.kind, json: s.parameters.data())
    }

    /// The final step's parameters as `setting` takes them.
    public func finalParameters() throws -> [String: ParameterValue] {
        guard case .object(let o) = final.parameters else { return [:] }
        var out: [String: ParameterValue] = [:]
        for (k, v) in o {
            switch v {
            case .null: out[k] = ParameterValue.none
            case .bool(let b): out[k] = .bool(b)
            case .number(let d): out[k] = d == d.rounded() && abs(d) < 1e15 ? .int(Int(d)) : .double(d)
            case .string(let s): out[k] = .string(s)
            default:
                throw MPILearnError.dataError(final.keyLocations[k] ?? final.location, "parameter \(k) of \(final.kind) must be a single value")
            }
        }
        return out
    }

    /// The error with the location of the parameter it names (or of the step).
    func located(_ e: MPILearnError, _ s: Step) -> MPILearnError {
        switch e {
        case let .unknownParameter(name, _, valid):
            return .dataError(s.keyLocations[name] ?? s.location, "\(s.kind) step '\(s.name)' has no parameter \(name): its parameters are \(valid.joined(separator: ", "))")
        case let .invalidParameter(name, value, allowed):
            let key = name.split(separator: ".").last.map(String.init) ?? name
            return .dataError(s.keyLocations[key] ?? s.location, "\(s.kind) step '\(s.name)': \(name) = \(value) is not valid: expected \(allowed)")
        default:
            return .dataError(s.location, "\(s.kind) step '\(s.name)': \(e.description)")
        }
    }

    /// Calls `visitor` with the pipeline the spec describes, its final estimator typed.
    public func visit<V: PipelineVisitor>(task: String = "classification", _ visitor: V) throws -> V.Result {
        try EstimatorRegistry.visit(final.kind, task: task, Builder(spec: self, visitor: visitor))
    }

    struct Builder<V: PipelineVisitor>: EstimatorVisitor {
        let spec: PipelineSpec
        let visitor: V
        func visit<E: Estimator>(_ estimator: E) throws -> V.Result {
            let final: E
            do {
                final = try estimator.setting(try spec.finalParameters())
                try final.validate()
            } catch let e as MPILearnError { throw spec.located(e, spec.final) }
            let steps = try spec.steps.map { PipelineStep(name: $0.name, transformer: try spec.transformer($0)) }
            return try visitor.visit(Pipeline(steps: steps, final: final, finalName: spec.final.name))
        }
    }
}

/// Receives a pipeline with its final estimator's type (see ``PipelineSpec/visit(task:_:)``).
public protocol PipelineVisitor {
    associatedtype Result
    func visit<E: Estimator>(_ pipeline: Pipeline<E>) throws -> Result
}
