import Foundation
import Yams

/// Candidate hyper-parameters: a grid (scikit-learn's `ParameterGrid`, one dict or a list of
/// dicts of value lists) or distributions to sample (`ParameterSampler`).
///
/// Grid order is scikit-learn's: within one dict the names are sorted and the last name
/// varies fastest; dicts follow each other. So `cv_results` rows come in the same order as
/// scikit-learn's for the same grid.
public struct ParameterGrid: Sendable, Equatable {
    /// One or more grids, each a name → values map.
    public var grids: [[String: [ParameterValue]]]

    public init(_ grid: [String: [ParameterValue]]) { grids = [grid] }
    public init(grids: [[String: [ParameterValue]]]) { self.grids = grids }

    /// Checks that there is something to search.
    /// - Throws: ``MPILearnError/invalidParameter`` for no grid, no name, or a name with no values.
    public func validate() throws {
        guard !grids.isEmpty, grids.allSatisfy({ !$0.isEmpty }) else {
            throw MPILearnError.invalidParameter(name: "param_grid", value: "an empty grid", allowed: "at least one parameter with at least one value")
        }
        for g in grids { for (k, v) in g where v.isEmpty {
            throw MPILearnError.invalidParameter(name: "param_grid", value: "\(k) with no values", allowed: "at least one value per parameter")
        } }
    }

    /// Every candidate, in scikit-learn's order.
    public var candidates: [[String: ParameterValue]] {
        var out: [[String: ParameterValue]] = []
        for g in grids {
            let keys = g.keys.sorted()
            var combos: [[String: ParameterValue]] = [[:]]
            for k in keys {
                var next: [[String: ParameterValue]] = []
                for c in combos { for v in g[k]! { var d = c; d[k] = v; next.append(d) } }
                combos = next
            }
            out += combos
        }
        return out
    }

    /// The number of candidates.
    public var count: Int { grids.reduce(0) { $0 + $1.values.reduce(1) { $0 * $1.count } } }
}

/// A distribution to sample one hyper-parameter from. Bounds are given as LOW and HIGH (not
/// scipy's `uniform(loc, scale)`): `uniform(0.1, 1)` draws from [0.1, 1].
public enum ParameterDistribution: Sendable, Equatable, CustomStringConvertible {
    /// One of the values, uniformly.
    case choice([ParameterValue])
    /// Uniform on [low, high].
    case uniform(low: Double, high: Double)
    /// Log-uniform on [low, high], 0 < low < high (scipy's `loguniform(a, b)`).
    case logUniform(low: Double, high: Double)
    /// An integer in [low, high) (scipy's `randint(low, high)`).
    case randInt(low: Int, high: Int)

    public var description: String {
        switch self {
        case .choice(let v): return v.map(\.description).joined(separator: ",")
        case let .uniform(a, b): return "uniform(\(a),\(b))"
        case let .logUniform(a, b): return "loguniform(\(a),\(b))"
        case let .randInt(a, b): return "randint(\(a),\(b))"
        }
    }

    /// Checks the bounds.
    public func validate(name: String) throws {
        switch self {
        case .choice(let v): try require(!v.isEmpty, name, "no values", "at least one value")
        case let .uniform(a, b): try require(a.isFinite && b.isFinite && a <= b, name, description, "uniform(LOW,HIGH) with finite LOW <= HIGH")
        case let .logUniform(a, b): try require(a > 0 && b.isFinite && a <= b, name, description, "loguniform(LOW,HIGH) with 0 < LOW <= HIGH")
        case let .randInt(a, b): try require(a < b, name, description, "randint(LOW,HIGH) with LOW < HIGH (HIGH excluded)")
        }
    }

    /// One draw.
    func sample(_ rng: inout Philox) -> ParameterValue {
        switch self {
        case .choice(let v): return v[rng.below(v.count)]
        case let .uniform(a, b): return .double(a + (b - a) * rng.uniform())
        case let .logUniform(a, b): return .double(Foundation.exp(Foundation.log(a) + (Foundation.log(b) - Foundation.log(a)) * rng.uniform()))
        case let .randInt(a, b): return .int(a + rng.below(b - a))
        }
    }

    /// Parses `uniform(0.1,1)`, `loguniform(1e-3,10)`, `randint(2,12)`, or a comma list of values.
    public init(parsing text: String, name: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        func args(_ prefix: String) -> [String]? {
            guard s.lowercased().hasPrefix(prefix + "("), s.hasSuffix(")") else { return nil }
            return s.dropFirst(prefix.count + 1).dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        func two<T>(_ a: [String], _ f: (String) -> T?) throws -> (T, T) {
            guard a.count == 2, let x = f(a[0]), let y = f(a[1]) else {
                throw MPILearnError.invalidParameter(name: name, value: s, allowed: "two numbers, as in uniform(0.1,1), loguniform(1e-3,10), randint(2,12)")
            }
            return (x, y)
        }
        if let a = args("uniform") { let (x, y) = try two(a) { Double($0) }; self = .uniform(low: x, high: y) }
        else if let a = args("loguniform") { let (x, y) = try two(a) { Double($0) }; self = .logUniform(low: x, high: y) }
        else if let a = args("randint") { let (x, y) = try two(a) { Int($0) }; self = .randInt(low: x, high: y) }
        else { self = .choice(splitValues(s).map(ParameterValue.init(parsing:))) }
        try validate(name: name)
    }
}

/// Candidates sampled from distributions (scikit-learn's `ParameterSampler`).
///
/// When every distribution is a list of values, `n_iter` distinct grid points are drawn
/// without replacement (at most the grid's size), as scikit-learn does. Otherwise candidate
/// `i` draws each parameter, names in sorted order, from its own Philox stream keyed by
/// `(random_state, i)`: the candidates never depend on the number of ranks. Draws differ
/// from scikit-learn's (numpy's generator), their distributions do not.
public struct ParameterSampler: Sendable, Equatable {
    public var distributions: [String: ParameterDistribution]
    public var nIter: Int
    public var randomState: UInt64

    static let domain: UInt64 = 0x5E_A7C4

    public init(_ distributions: [String: ParameterDistribution], nIter: Int, randomState: UInt64 = 0) {
        self.distributions = distributions
        self.nIter = nIter
        self.randomState = randomState
    }

    public func validate() throws {
        try require(nIter >= 1, "n_iter", nIter, "an integer >= 1")
        guard !distributions.isEmpty else {
            throw MPILearnError.invalidParameter(name: "param_distributions", value: "an empty set", allowed: "at least one parameter")
        }
        for (k, d) in distributions { try d.validate(name: k) }
    }

    /// The sampled candidates.
    public var candidates: [[String: ParameterValue]] {
        let keys = distributions.keys.sorted()
        let lists = keys.compactMap { k -> [ParameterValue]? in if case .choice(let v) = distributions[k]! { return v }; return nil }
        if lists.count == keys.count {
            let grid = ParameterGrid(Dictionary(uniqueKeysWithValues: zip(keys, lists))).candidates
            var order = Array(grid.indices)
            var rng = Philox(seed: randomState, domain: Self.domain, stream: UInt64.max)
            // Fisher–Yates over the first n_iter places: a uniform sample without replacement.
            for i in 0 ..< min(nIter, order.count) { order.swapAt(i, i + rng.below(order.count - i)) }
            return order.prefix(nIter).map { grid[$0] }
        }
        return (0 ..< nIter).map { i in
            var rng = Philox(seed: randomState, domain: Self.domain, stream: UInt64(i))
            var c: [String: ParameterValue] = [:]
            for k in keys { c[k] = distributions[k]!.sample(&rng) }
            return c
        }
    }
}

/// Splits `a,b,c` at commas outside parentheses and brackets.
func splitValues(_ s: String) -> [String] {
    var out: [String] = [], cur = "", depth = 0
    for ch in s {
        if ch == "(" || ch == "[" { depth += 1 }
        if ch == ")" || ch == "]" { depth -= 1 }
        if ch == "," && depth == 0 { out.append(cur.trimmingCharacters(in: .whitespaces)); cur = "" } else { cur.append(ch) }
    }
    out.append(cur.trimmingCharacters(in: .whitespaces))
    return out
}

/// Search spaces given on the command line or in a YAML/JSON file.
public enum ParameterSpaceParser {
    /// Parses `NAME=V1,V2,...` (or `NAME=uniform(a,b)` etc.) options, one per parameter.
    /// - Throws: ``MPILearnError/invalidParameter`` naming `--param` for a malformed option or a repeated name.
    public static func distributions(_ options: [String]) throws -> [String: ParameterDistribution] {
        var out: [String: ParameterDistribution] = [:]
        for o in options {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw MPILearnError.invalidParameter(name: "--param", value: "'\(o)'", allowed: "NAME=V1,V2,... or NAME=uniform(LOW,HIGH), loguniform(LOW,HIGH), randint(LOW,HIGH)")
            }
            let name = String(o[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(o[o.index(after: eq)...])
            guard out[name] == nil else { throw MPILearnError.invalidParameter(name: "--param", value: "'\(name)' twice", allowed: "each parameter once") }
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw MPILearnError.invalidParameter(name: "--param", value: "'\(o)'", allowed: "at least one value after \(name)=")
            }
            out[name] = try ParameterDistribution(parsing: value, name: name)
        }
        return out
    }

    /// The grid of `NAME=V1,V2,...` options.
    public static func grid(_ options: [String]) throws -> ParameterGrid {
        let d = try distributions(options)
        var g: [String: [ParameterValue]] = [:]
        for (k, v) in d {
            guard case .choice(let values) = v else {
                throw MPILearnError.invalidParameter(name: "--param", value: "\(k)=\(v)", allowed: "a list of values in a grid search (distributions are for search random)")
            }
            g[k] = values
        }
        let grid = ParameterGrid(g)
        try grid.validate()
        return grid
    }

    /// Reads a grid file: YAML or JSON (JSON is YAML), one mapping of name → list of values
    /// (or one value), or a list of such mappings. For a random search a value may also be a
    /// distribution: `uniform(0.1,1)` as a string, or `{loguniform: [0.001, 10]}`.
    /// - Throws: ``MPILearnError/cannotRead`` for a missing file, ``MPILearnError/dataError``
    ///   naming the file, line and column of a syntax error or a value of the wrong shape.
    public static func spaces(file path: String) throws -> [[String: ParameterDistribution]] {
        let text: String
        guard FileManager.default.fileExists(atPath: path) else { throw MPILearnError.cannotRead(path: path, reason: "no such file") }
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw MPILearnError.cannotRead(path: path, reason: "not readable as UTF-8 text (\(error.localizedDescription))")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw MPILearnError.dataError(location(of: e, path: path), "not valid YAML or JSON: \(summary(of: e))")
        } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "not valid YAML or JSON: \(error)")
        }
        guard let node else { throw MPILearnError.dataError(SourceLocation(file: path), "the grid file is empty") }
        func bad(_ n: Node, _ msg: String) -> MPILearnError {
            .dataError(SourceLocation(file: path, line: n.mark.map { $0.line }, column: n.mark.map { $0.column }), msg)
        }
        func scalar(_ n: Node) throws -> ParameterValue {
            guard let s = n.scalar else { throw bad(n, "expected a value (a number, a string, true/false or null)") }
            if s.style == .plain {
                if s.string == "~" || s.string.lowercased() == "null" || s.string.lowercased() == "none" { return .none }
                return ParameterValue(parsing: s.string)
            }
            return .string(s.string)
        }
        func space(_ n: Node) throws -> [String: ParameterDistribution] {
            guard let m = n.mapping else { throw bad(n, "expected a mapping of parameter names to lists of values") }
            var out: [String: ParameterDistribution] = [:]
            for (k, v) in m {
                guard let name = k.scalar?.string else { throw bad(k, "a parameter name must be a string") }
                if let seq = v.sequence {
                    out[name] = .choice(try seq.map(scalar))
                } else if let dm = v.mapping {
                    guard dm.count == 1, let (dk, dv) = dm.first, let kind = dk.scalar?.string, let args = dv.sequence, args.count == 2 else {
                        throw bad(v, "a distribution is {uniform|loguniform|randint: [LOW, HIGH]}")
                    }
                    let text = "\(kind)(\(try args.map { try scalar($0).description }.joined(separator: ",")))"
                    do { out[name] = try ParameterDistribution(parsing: text, name: name) } catch let e as MPILearnError { throw bad(v, e.description) }
                } else if let s = v.scalar, s.style == .plain, ["uniform(", "loguniform(", "randint("].contains(where: { s.string.lowercased().hasPrefix($0) }) {
                    do { out[name] = try ParameterDistribution(parsing: s.string, name: name) } catch let e as MPILearnError { throw bad(v, e.description) }
                } else {
                    out[name] = .choice([try scalar(v)])
                }
                if case .choice(let values)? = out[name], values.isEmpty { throw bad(v, "parameter \(name) has no values") }
            }
            if out.isEmpty { throw bad(n, "the grid has no parameters") }
            return out
        }
        if let seq = node.sequence {
            guard !seq.isEmpty else { throw bad(node, "the grid list is empty") }
            return try seq.map(space)
        }
        return [try space(node)]
    }

    static func location(of e: YamlError, path: String) -> SourceLocation {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return SourceLocation(file: path, line: mark.line, column: mark.column)
        default:
            return SourceLocation(file: path)
        }
    }

    static func summary(of e: YamlError) -> String {
        switch e {
        case let .scanner(context, problem, _, _), let .parser(context, problem, _, _), let .composer(context, problem, _, _):
            return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        default:
            return "\(e)"
        }
    }

    /// A grid from a file (every value a list).
    public static func grid(file path: String) throws -> ParameterGrid {
        let spaces = try spaces(file: path)
        let grids = try spaces.map { s in
            try s.mapValues { d -> [ParameterValue] in
                guard case .choice(let v) = d else {
                    throw MPILearnError.dataError(SourceLocation(file: path), "\(d) is a distribution; a grid search needs lists of values (use search random)")
                }
                return v
            }
        }
        let g = ParameterGrid(grids: grids)
        try g.validate()
        return g
    }
}
