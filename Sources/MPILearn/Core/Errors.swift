import SwiftMPI

/// Where in an input a problem was found: file, and where known line and column (1-based).
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let column { s += ":\(column)" }
        return s
    }
}

/// MPILearn's errors. Each names what is wrong and where (a parameter, or file:line:column),
/// and carries the exit code the job ends with.
public enum MPILearnError: JobError, Equatable {
    /// A hyper-parameter or option has a bad value: name, the value given, what is allowed.
    case invalidParameter(name: String, value: String, allowed: String)
    /// Malformed input data at a location.
    case dataError(SourceLocation, String)
    /// A file that cannot be opened or read.
    case cannotRead(path: String, reason: String)
    /// An output that cannot be written.
    case cannotWrite(path: String, reason: String)
    /// Inputs that do not fit together (feature counts, columns, classes), with an explanation.
    case mismatch(String)
    /// A numerical failure (singular matrix, no convergence).
    case numerical(String)
    /// A parameter name the estimator does not have, with the names it has.
    case unknownParameter(name: String, estimator: String, valid: [String])

    public var exitCode: JobExitCode {
        switch self {
        case .invalidParameter, .unknownParameter: return .usage
        case .dataError, .mismatch: return .dataError
        case .cannotRead: return .noInput
        case .cannotWrite: return .ioError
        case .numerical: return .software
        }
    }

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, allowed):
            return "invalid value \(value) for parameter \(name): expected \(allowed)"
        case let .dataError(loc, msg):
            return "\(loc): \(msg)"
        case let .cannotRead(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .mismatch(msg), let .numerical(msg):
            return msg
        case let .unknownParameter(name, estimator, valid):
            return "\(estimator) has no parameter \(name): its parameters are \(valid.joined(separator: ", "))"
        }
    }
}

extension MPILearnError {
    /// The same error (and so the same exit code) with `context` before its message.
    public func prefixed(_ context: String) -> MPILearnError {
        switch self {
        case let .invalidParameter(name, value, allowed): return .invalidParameter(name: name, value: value, allowed: "\(allowed) [\(context)]")
        case let .dataError(loc, msg): return .dataError(loc, "\(context): \(msg)")
        case let .cannotRead(path, reason): return .cannotRead(path: path, reason: "\(context): \(reason)")
        case let .cannotWrite(path, reason): return .cannotWrite(path: path, reason: "\(context): \(reason)")
        case let .mismatch(msg): return .mismatch("\(context): \(msg)")
        case let .numerical(msg): return .numerical("\(context): \(msg)")
        case .unknownParameter: return .mismatch("\(context): \(description)")
        }
    }
}

/// Checks a hyper-parameter in `fit`, throwing ``MPILearnError/invalidParameter`` that
/// quotes the value and the allowed range (scikit-learn's habit).
@inlinable
public func require(_ ok: Bool, _ name: String, _ value: @autoclosure () -> Any, _ allowed: @autoclosure () -> String) throws {
    if !ok { throw MPILearnError.invalidParameter(name: name, value: "\(value())", allowed: allowed()) }
}
