import Foundation

// A small expression language over a table's columns, shared by `--target` and the `derive`
// step: `arr_delay > 15 and dep_delay > 0`, `log1p(distance)`, `carrier == "UA"`.
//
// Grammar (lowest precedence first; operators of one level associate to the left):
//
//     or         := and (("or" | "||") and)*
//     and        := not (("and" | "&&") not)*
//     not        := ("not" | "!") not | comparison          (Python: `not a > b` is `not (a > b)`)
//     comparison := additive (("<" | "<=" | ">" | ">=" | "==" | "!=") additive)?   (no chaining)
//     additive   := term (("+" | "-") term)*
//     term       := unary (("*" | "/") unary)*
//     unary      := ("-" | "+") unary | primary
//     primary    := NUMBER | STRING | "nan" | "inf" | NAME | FUNCTION "(" or ("," or)* ")" | "(" or ")"
//
// NAME is `[A-Za-z_][A-Za-z0-9_.]*` or any text in back quotes (`` `arr delay` ``); STRING
// is in double or single quotes. Values are Doubles and a missing value is NaN, which every
// operator and function propagates (a comparison, `and`, `or` or `not` with a missing operand
// is missing), except `isnan(x)`, which is 1 or 0. Truth is "not zero"; comparisons and logic
// give 1 or 0.

/// A parsed expression over a table's columns, evaluated a column at a time.
///
/// ```swift
/// let e = try ColumnExpression("arr_delay > 15 and carrier == \"UA\"")
/// e.columnNames            // ["arr_delay", "carrier"]
/// let y = try e.evaluate(table)   // 1, 0, or NaN where an operand is missing
/// ```
///
/// Column kinds: float64 and float32 columns are numbers; a datetime column is its seconds
/// since 1970-01-01 UTC (and compares with a quoted ISO 8601 date: `dep_time >= "2013-06-01"`);
/// a categorical column can only be compared with a quoted string (by the string, in UTF-8
/// byte order for `<`, `>`), with another categorical column (`==`, `!=`), or tested with
/// `isnan`. Its codes are never used, so the dictionary may be local to a chunk of rows.
/// Division by zero follows IEEE 754 (`1/0` is `inf`, `0/0` is missing); `round` rounds half
/// to even (NumPy's and pandas' `round`).
public struct ColumnExpression: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    let root: ExpressionNode
    /// The columns the expression reads, in order of first appearance.
    public let columnNames: [String]

    /// Parses `text`.
    /// - Parameter parameter: the parameter name errors give (`--target`, `derive.columns.delay`).
    /// - Throws: ``MPILearnError/invalidParameter`` naming the 1-based character position of
    ///   the problem: `expression 'a >> 2', column 4: found '>' where a number, column, function or '(' should be`.
    public init(_ text: String, parameter: String = "expression") throws {
        self.text = text
        var p = ExpressionParser(text: text, parameter: parameter)
        root = try p.parseAll()
        var names: [String] = []
        root.collectColumns(into: &names)
        columnNames = names
    }

    public var description: String { text }

    public static func == (a: ColumnExpression, b: ColumnExpression) -> Bool { a.text == b.text }

    public init(from decoder: Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    /// The column name if the whole expression is one column (`arr_delay`, `` `arr delay` ``).
    public var singleColumn: String? {
        if case .column(let name, _) = root { return name }
        return nil
    }

    /// Whether the result is always 1, 0 or missing: a comparison, `and`, `or`, `not` or `isnan`
    /// at the top (a binary target, classes `false` and `true`).
    public var isBoolean: Bool { root.isBoolean }

    /// The columns compared with a quoted string (read as text: categorical or datetime).
    public var textColumns: Set<String> {
        var out: Set<String> = []
        root.collectTextColumns(into: &out)
        return out
    }

    /// For `column OP number` with OP one of `>`, `>=`, `<`, `<=`: the three parts.
    var simpleThreshold: (column: String, op: String, value: Double)? {
        guard case .binary(let op, .column(let name, _), let rhs) = root, [.gt, .ge, .lt, .le].contains(op) else { return nil }
        switch rhs {
        case .number(let v): return (name, op.rawValue, v)
        case .negate(.number(let v)): return (name, op.rawValue, -v)
        default: return nil
        }
    }

    /// The value of the expression for every row of `table` (local; NaN where missing).
    /// - Throws: ``MPILearnError/mismatch`` naming a column the table lacks, or one whose
    ///   kind the expression cannot use (a categorical column in arithmetic).
    public func evaluate(_ table: Table) throws -> [Double] {
        let e = ExpressionEvaluator(table: table, text: text)
        switch try e.numeric(root) {
        case .scalar(let v): return [Double](repeating: v, count: table.rowCount)
        case .vector(let v): return v
        }
    }
}

// MARK: - syntax tree

enum ExpressionOperator: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/"
    case gt = ">", ge = ">=", lt = "<", le = "<=", eq = "==", ne = "!="
    case and, or

    var isComparison: Bool { [.gt, .ge, .lt, .le, .eq, .ne].contains(self) }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    var flipped: ExpressionOperator {
        switch self {
        case .gt: return .lt
        case .lt: return .gt
        case .ge: return .le
        case .le: return .ge
        default: return self
        }
    }
}

/// The functions, with their argument counts.
public enum ExpressionFunction: String, Sendable, CaseIterable {
    case log, log1p, exp, expm1, sqrt, abs, floor, ceil, round, sin, cos, min, max, pow, isnan

    var arity: Int { [.min, .max, .pow].contains(self) ? 2 : 1 }
}

indirect enum ExpressionNode: Sendable, Equatable {
    case number(Double)
    case string(String, position: Int)
    case column(String, position: Int)
    case negate(ExpressionNode)
    case not(ExpressionNode)
    case binary(ExpressionOperator, ExpressionNode, ExpressionNode)
    case call(ExpressionFunction, [ExpressionNode])

    func collectColumns(into names: inout [String]) {
        switch self {
        case .number, .string: break
        case .column(let n, _): if !names.contains(n) { names.append(n) }
        case .negate(let a), .not(let a): a.collectColumns(into: &names)
        case .binary(_, let a, let b): a.collectColumns(into: &names); b.collectColumns(into: &names)
        case .call(_, let args): for a in args { a.collectColumns(into: &names) }
        }
    }

    func collectTextColumns(into out: inout Set<String>) {
        switch self {
        case .binary(let op, let a, let b):
            if op.isComparison {
                if case .column(let n, _) = a, case .string = b { out.insert(n) }
                if case .column(let n, _) = b, case .string = a { out.insert(n) }
            }
            a.collectTextColumns(into: &out); b.collectTextColumns(into: &out)
        case .negate(let a), .not(let a): a.collectTextColumns(into: &out)
        case .call(_, let args):
            for a in args { a.collectTextColumns(into: &out) }
        default: break
        }
    }

    var isBoolean: Bool {
        switch self {
        case .not: return true
        case .binary(let op, _, _): return op.isComparison || op == .and || op == .or
        case .call(let f, _): return f == .isnan
        default: return false
        }
    }
}

// MARK: - parser

private struct ExpressionParser {
    enum Kind: Equatable {
        case number(Double)
        case name(String)        // identifier
        case quotedName(String)  // `...`
        case string(String)      // "..." or '...'
        case op(String)          // + - * / < <= > >= == != ! && || ( ) ,
        case end
    }
    struct Token { var kind: Kind; var column: Int; var text: String }

    let text: String
    let parameter: String
    var tokens: [Token] = []
    var at = 0

    init(text: String, parameter: String) {
        self.text = text
        self.parameter = parameter
    }

    func error(_ column: Int, _ message: String) -> MPILearnError {
        .invalidParameter(name: parameter, value: "'\(text)'", allowed: "an expression (expression '\(text)', column \(column): \(message))")
    }

    mutating func tokenize() throws {
        let c = Array(text)
        var i = 0
        func isIdentStart(_ ch: Character) -> Bool { ch == "_" || (ch.isASCII && ch.isLetter) }
        func isIdent(_ ch: Character) -> Bool { isIdentStart(ch) || ch == "." || (ch.isASCII && ch.isNumber) }
        func isDigit(_ ch: Character) -> Bool { ch.isASCII && ch.isNumber }
        while i < c.count {
            let ch = c[i], col = i + 1
            if ch.isWhitespace { i += 1; continue }
            if isDigit(ch) || (ch == "." && i + 1 < c.count && isDigit(c[i + 1])) {
                var j = i
                while j < c.count && isDigit(c[j]) { j += 1 }
                if j < c.count && c[j] == "." { j += 1; while j < c.count && isDigit(c[j]) { j += 1 } }
                if j < c.count && (c[j] == "e" || c[j] == "E") {
                    var k = j + 1
                    if k < c.count && (c[k] == "+" || c[k] == "-") { k += 1 }
                    if k < c.count && isDigit(c[k]) {
                        while k < c.count && isDigit(c[k]) { k += 1 }
                        j = k
                    }
                }
                if j < c.count && isIdent(c[j]) { throw error(j + 1, "'\(c[j])' right after the number \(String(c[i ..< j]))") }
                let s = String(c[i ..< j])
                guard let v = Double(s) else { throw error(col, "'\(s)' is not a number") }
                tokens.append(Token(kind: .number(v), column: col, text: s))
                i = j
            } else if isIdentStart(ch) {
                var j = i
                while j < c.count && isIdent(c[j]) { j += 1 }
                let s = String(c[i ..< j])
                tokens.append(Token(kind: .name(s), column: col, text: s))
                i = j
            } else if ch == "`" || ch == "\"" || ch == "'" {
                var j = i + 1
                while j < c.count && c[j] != ch { j += 1 }
                guard j < c.count else {
                    throw error(col, ch == "`" ? "the column name has no closing `" : "the string has no closing \(ch)")
                }
                let s = String(c[i + 1 ..< j])
                if ch == "`" && s.isEmpty { throw error(col, "empty column name ``") }
                tokens.append(Token(kind: ch == "`" ? .quotedName(s) : .string(s), column: col, text: String(c[i ... j])))
                i = j + 1
            } else {
                let two = i + 1 < c.count ? String(c[i ... i + 1]) : ""
                if ["<=", ">=", "==", "!=", "&&", "||"].contains(two) {
                    tokens.append(Token(kind: .op(two), column: col, text: two))
                    i += 2
                } else if "+-*/<>!(),".contains(ch) {
                    tokens.append(Token(kind: .op(String(ch)), column: col, text: String(ch)))
                    i += 1
                } else if ch == "=" {
                    throw error(col, "'=' is not an operator (use == to compare)")
                } else if ch == "&" || ch == "|" {
                    throw error(col, "'\(ch)' is not an operator (use \(ch)\(ch) or \(ch == "&" ? "and" : "or"))")
                } else {
                    throw error(col, "unexpected character '\(ch)'")
                }
            }
        }
        tokens.append(Token(kind: .end, column: c.count + 1, text: "the end"))
    }

    var token: Token { tokens[at] }

    func isOp(_ s: String) -> Bool { token.kind == .op(s) }
    func isWord(_ s: String) -> Bool { token.kind == .name(s) }

    func describe(_ t: Token) -> String { t.kind == .end ? "the end of the expression" : "'\(t.text)'" }

    mutating func parseAll() throws -> ExpressionNode {
        try tokenize()
        if tokens.count == 1 { throw error(1, "the expression is empty") }
        let n = try parseOr()
        guard token.kind == .end else {
            throw error(token.column, "found \(describe(token)) after a complete expression (a missing operator?)")
        }
        return n
    }

    mutating func parseOr() throws -> ExpressionNode {
        var lhs = try parseAnd()
        while isWord("or") || isOp("||") {
            at += 1
            lhs = .binary(.or, lhs, try parseAnd())
        }
        return lhs
    }

    mutating func parseAnd() throws -> ExpressionNode {
        var lhs = try parseNot()
        while isWord("and") || isOp("&&") {
            at += 1
            lhs = .binary(.and, lhs, try parseNot())
        }
        return lhs
    }

    mutating func parseNot() throws -> ExpressionNode {
        if isWord("not") || isOp("!") {
            at += 1
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    mutating func comparisonOperator() -> ExpressionOperator? {
        guard case .op(let s) = token.kind, let op = ExpressionOperator(rawValue: s), op.isComparison else { return nil }
        return op
    }

    mutating func parseComparison() throws -> ExpressionNode {
        let lhs = try parseAdditive()
        guard let op = comparisonOperator() else { return lhs }
        at += 1
        let rhs = try parseAdditive()
        if comparisonOperator() != nil {
            throw error(token.column, "comparisons do not chain: write 'a < b and b < c'")
        }
        return .binary(op, lhs, rhs)
    }

    mutating func parseAdditive() throws -> ExpressionNode {
        var lhs = try parseTerm()
        while isOp("+") || isOp("-") {
            let op: ExpressionOperator = isOp("+") ? .add : .sub
            at += 1
            lhs = .binary(op, lhs, try parseTerm())
        }
        return lhs
    }

    mutating func parseTerm() throws -> ExpressionNode {
        var lhs = try parseUnary()
        while isOp("*") || isOp("/") {
            let op: ExpressionOperator = isOp("*") ? .mul : .div
            at += 1
            lhs = .binary(op, lhs, try parseUnary())
        }
        return lhs
    }

    mutating func parseUnary() throws -> ExpressionNode {
        if isOp("-") {
            at += 1
            let a = try parseUnary()
            if case .number(let v) = a { return .number(-v) }
            return .negate(a)
        }
        if isOp("+") {
            at += 1
            return try parseUnary()
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws -> ExpressionNode {
        let t = token
        switch t.kind {
        case .number(let v):
            at += 1
            return .number(v)
        case .string(let s):
            at += 1
            return .string(s, position: t.column)
        case .quotedName(let s):
            at += 1
            return .column(s, position: t.column)
        case .name(let s):
            at += 1
            if isOp("(") {
                guard let f = ExpressionFunction(rawValue: s) else {
                    throw error(t.column, "unknown function '\(s)' (functions: \(ExpressionFunction.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                at += 1
                var args: [ExpressionNode] = []
                if !isOp(")") {
                    args.append(try parseOr())
                    while isOp(",") {
                        at += 1
                        args.append(try parseOr())
                    }
                }
                guard isOp(")") else { throw error(token.column, "found \(describe(token)) where ',' or ')' should be") }
                at += 1
                guard args.count == f.arity else {
                    throw error(t.column, "\(s) takes \(f.arity) argument\(f.arity == 1 ? "" : "s"), not \(args.count)")
                }
                return .call(f, args)
            }
            switch s {
            case "nan": return .number(.nan)
            case "inf": return .number(.infinity)
            case "and", "or", "not":
                throw error(t.column, "found '\(s)' where a number, column, function or '(' should be (a column called \(s) is written `\(s)`)")
            default: return .column(s, position: t.column)
            }
        case .op("("):
            at += 1
            let n = try parseOr()
            guard isOp(")") else { throw error(token.column, "found \(describe(token)) where ')' should be (the '(' at column \(t.column) is not closed)") }
            at += 1
            return n
        default:
            throw error(t.column, "found \(describe(t)) where a number, column, function or '(' should be")
        }
    }
}

// MARK: - evaluation

/// A numeric intermediate: a constant, or one value per row.
enum ExpressionNumber {
    case scalar(Double)
    case vector([Double])
}

private struct ExpressionEvaluator {
    let table: Table
    let text: String
    var n: Int { table.rowCount }

    /// A leaf or intermediate of any kind.
    enum Operand {
        case number(ExpressionNumber)
        case string(String)
        case categorical([Int32], CategoryDictionary, name: String)
        case datetime([Int64], name: String)
    }

    func mismatch(_ message: String) -> MPILearnError { .mismatch("expression '\(text)': \(message)") }

    func operand(_ node: ExpressionNode) throws -> Operand {
        switch node {
        case .string(let s, _): return .string(s)
        case .column(let name, _):
            let c = table.columns[try table.requireColumn(name, for: "expression '\(text)'")]
            switch c.values {
            case .float64(let v): return .number(.vector(v))
            case .float32(let v):
                return .number(.vector([Double](unsafeUninitializedCapacity: v.count) { out, k in
                    v.withUnsafeBufferPointer { src in for i in 0 ..< src.count { out[i] = Double(src[i]) } }
                    k = v.count
                }))
            case .categorical(let codes, let dict): return .categorical(codes, dict, name: name)
            case .datetime(let s): return .datetime(s, name: name)
            }
        default: return .number(try numeric(node))
        }
    }

    func toNumber(_ o: Operand) throws -> ExpressionNumber {
        switch o {
        case .number(let x): return x
        case .string(let s): throw mismatch("the string \"\(s)\" can only be compared with a categorical or datetime column")
        case .categorical(_, _, let name):
            throw mismatch("column '\(name)' is categorical: compare it with a quoted string (\(name) == \"…\") or test isnan(\(name))")
        case .datetime(let s, _):
            return .vector([Double](unsafeUninitializedCapacity: s.count) { out, k in
                s.withUnsafeBufferPointer { src in for i in 0 ..< src.count { out[i] = src[i] == .min ? .nan : Double(src[i]) } }
                k = s.count
            })
        }
    }

    func numeric(_ node: ExpressionNode) throws -> ExpressionNumber {
        switch node {
        case .number(let v): return .scalar(v)
        case .string, .column: return try toNumber(try operand(node))
        case .negate(let a): return map(try numeric(a)) { -$0 }
        case .not(let a): return map(try numeric(a)) { $0.isNaN ? .nan : ($0 == 0 ? 1 : 0) }
        case .call(let f, let args):
            if f == .isnan {
                switch try operand(args[0]) {
                case .categorical(let codes, _, _): return mapCodes(codes) { $0 < 0 ? 1 : 0 }
                case let o: return map(try toNumber(o)) { $0.isNaN ? 1 : 0 }
                }
            }
            if f.arity == 2 {
                let a = try numeric(args[0]), b = try numeric(args[1])
                switch f {
                case .min: return zip(a, b) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
                case .max: return zip(a, b) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
                default: return zip(a, b) { $0.isNaN || $1.isNaN ? .nan : Foundation.pow($0, $1) }
                }
            }
            let a = try numeric(args[0])
            switch f {
            case .log: return map(a) { Foundation.log($0) }
            case .log1p: return map(a) { Foundation.log1p($0) }
            case .exp: return map(a) { Foundation.exp($0) }
            case .expm1: return map(a) { Foundation.expm1($0) }
            case .sqrt: return map(a) { $0.squareRoot() }
            case .abs: return map(a) { Swift.abs($0) }
            case .floor: return map(a) { $0.rounded(.down) }
            case .ceil: return map(a) { $0.rounded(.up) }
            case .round: return map(a) { $0.rounded(.toNearestOrEven) }
            case .sin: return map(a) { Foundation.sin($0) }
            default: return map(a) { Foundation.cos($0) }
            }
        case .binary(let op, let l, let r):
            if op.isComparison { return try compare(op, l, r) }
            let a = try numeric(l), b = try numeric(r)
            switch op {
            case .add: return zip(a, b) { $0 + $1 }
            case .sub: return zip(a, b) { $0 - $1 }
            case .mul: return zip(a, b) { $0 * $1 }
            case .div: return zip(a, b) { $0 / $1 }
            case .and: return zip(a, b) { $0.isNaN || $1.isNaN ? .nan : ($0 != 0 && $1 != 0 ? 1 : 0) }
            default: return zip(a, b) { $0.isNaN || $1.isNaN ? .nan : ($0 != 0 || $1 != 0 ? 1 : 0) }
            }
        }
    }

    @inline(__always)
    static func holds(_ op: ExpressionOperator, _ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return .nan }
        switch op {
        case .gt: return a > b ? 1 : 0
        case .ge: return a >= b ? 1 : 0
        case .lt: return a < b ? 1 : 0
        case .le: return a <= b ? 1 : 0
        case .eq: return a == b ? 1 : 0
        default: return a != b ? 1 : 0
        }
    }

    static func holds(_ op: ExpressionOperator, _ a: String, _ b: String) -> Bool {
        switch op {
        case .eq: return a == b
        case .ne: return a != b
        case .lt: return a.utf8.lexicographicallyPrecedes(b.utf8)
        case .gt: return b.utf8.lexicographicallyPrecedes(a.utf8)
        case .le: return !b.utf8.lexicographicallyPrecedes(a.utf8)
        default: return !a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }

    func compare(_ op: ExpressionOperator, _ l: ExpressionNode, _ r: ExpressionNode) throws -> ExpressionNumber {
        let a = try operand(l), b = try operand(r)
        switch (a, b) {
        case (.string(let x), .string(let y)): return .scalar(Self.holds(op, x, y) ? 1 : 0)
        case (.categorical(let codes, let dict, _), .string(let s)):
            return compareCategorical(codes, dict, op, s)
        case (.string(let s), .categorical(let codes, let dict, _)):
            return compareCategorical(codes, dict, op.flipped, s)
        case (.datetime, .string(let s)):
            return try compareNumbers(op, toNumber(a), .scalar(timestamp(s, node: r)))
        case (.string(let s), .datetime):
            return try compareNumbers(op, .scalar(timestamp(s, node: l)), toNumber(b))
        case (.categorical(let ca, let da, let na), .categorical(let cb, let db, let nb)):
            guard op == .eq || op == .ne else {
                throw mismatch("categorical columns '\(na)' and '\(nb)' compare only with == and !=")
            }
            // a's codes onto b's dictionary (one lookup per distinct value); -2: not in b.
            let onto = da.values.map { db.code(of: $0) ?? -2 }
            let same: Double = op == .eq ? 1 : 0
            return .vector([Double](unsafeUninitializedCapacity: n) { out, k in
                ca.withUnsafeBufferPointer { x in cb.withUnsafeBufferPointer { y in onto.withUnsafeBufferPointer { m in
                    for i in 0 ..< x.count {
                        out[i] = x[i] < 0 || y[i] < 0 ? .nan : (m[Int(x[i])] == y[i] ? same : 1 - same)
                    }
                } } }
                k = n
            })
        default:
            return compareNumbers(op, try toNumber(a), try toNumber(b))
        }
    }

    func timestamp(_ s: String, node: ExpressionNode) throws -> Double {
        guard let t = TimestampParser.iso.parse(s) else {
            throw mismatch("\"\(s)\" is not an ISO 8601 date or date-time (it is compared with a datetime column)")
        }
        return Double(t)
    }

    func compareNumbers(_ op: ExpressionOperator, _ a: ExpressionNumber, _ b: ExpressionNumber) -> ExpressionNumber {
        switch op {
        case .gt: return zip(a, b) { Self.holds(.gt, $0, $1) }
        case .ge: return zip(a, b) { Self.holds(.ge, $0, $1) }
        case .lt: return zip(a, b) { Self.holds(.lt, $0, $1) }
        case .le: return zip(a, b) { Self.holds(.le, $0, $1) }
        case .eq: return zip(a, b) { Self.holds(.eq, $0, $1) }
        default: return zip(a, b) { Self.holds(.ne, $0, $1) }
        }
    }

    /// `codes OP s` by each distinct value's string, once per dictionary entry.
    func compareCategorical(_ codes: [Int32], _ dict: CategoryDictionary, _ op: ExpressionOperator, _ s: String) -> ExpressionNumber {
        let byCode = dict.values.map { Self.holds(op, $0, s) ? 1.0 : 0.0 }
        return .vector([Double](unsafeUninitializedCapacity: codes.count) { out, k in
            codes.withUnsafeBufferPointer { c in byCode.withUnsafeBufferPointer { t in
                for i in 0 ..< c.count { out[i] = c[i] < 0 ? .nan : t[Int(c[i])] }
            } }
            k = codes.count
        })
    }

    @inline(__always)
    func mapCodes(_ codes: [Int32], _ f: (Int32) -> Double) -> ExpressionNumber {
        .vector([Double](unsafeUninitializedCapacity: codes.count) { out, k in
            codes.withUnsafeBufferPointer { c in for i in 0 ..< c.count { out[i] = f(c[i]) } }
            k = codes.count
        })
    }

    @inline(__always)
    func map(_ a: ExpressionNumber, _ f: (Double) -> Double) -> ExpressionNumber {
        switch a {
        case .scalar(let x): return .scalar(f(x))
        case .vector(let v):
            return .vector([Double](unsafeUninitializedCapacity: v.count) { out, k in
                v.withUnsafeBufferPointer { x in for i in 0 ..< x.count { out[i] = f(x[i]) } }
                k = v.count
            })
        }
    }

    @inline(__always)
    func zip(_ a: ExpressionNumber, _ b: ExpressionNumber, _ f: (Double, Double) -> Double) -> ExpressionNumber {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)): return .scalar(f(x, y))
        case (.vector(let v), .scalar(let y)):
            return .vector([Double](unsafeUninitializedCapacity: v.count) { out, k in
                v.withUnsafeBufferPointer { x in for i in 0 ..< x.count { out[i] = f(x[i], y) } }
                k = v.count
            })
        case (.scalar(let x), .vector(let w)):
            return .vector([Double](unsafeUninitializedCapacity: w.count) { out, k in
                w.withUnsafeBufferPointer { y in for i in 0 ..< y.count { out[i] = f(x, y[i]) } }
                k = w.count
            })
        case (.vector(let v), .vector(let w)):
            return .vector([Double](unsafeUninitializedCapacity: v.count) { out, k in
                v.withUnsafeBufferPointer { x in w.withUnsafeBufferPointer { y in for i in 0 ..< x.count { out[i] = f(x[i], y[i]) } } }
                k = v.count
            })
        }
    }
}
