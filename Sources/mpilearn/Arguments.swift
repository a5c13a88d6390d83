import ArgumentParser
import MPILearn

// Choices as typed options: swift-argument-parser parses them, lists their values in --help
// and rejects any other value before the job starts ("The value 'bogus' is invalid for
// '--criterion <criterion>'. Please provide one of 'gini', 'entropy' or 'squared_error'.").
// Every rank parses the same arguments, so launch rank 0 alone prints that message and every
// rank exits 64 (see MPILearnCommand.main).

extension Criterion: ExpressibleByArgument {}
extension ClassWeight: ExpressibleByArgument {}
extension Voting: ExpressibleByArgument {}
extension ForestMode: ExpressibleByArgument {}
extension ForestHeader.Task: ExpressibleByArgument {}
extension KMeansAlgorithm: ExpressibleByArgument {}
extension ColumnType: ExpressibleByArgument {}
extension ParallelFile.Layout: ExpressibleByArgument {}
extension HDF5Writer.Layout: ExpressibleByArgument {}
extension SearchJob.ScheduleChoice: ExpressibleByArgument {}
extension Scoring: ExpressibleByArgument {}
extension StreamingPredict.BadRows: ExpressibleByArgument {}

extension ForestWorkflow.PredictionStrategy: ExpressibleByArgument {}
extension TextTraining: ExpressibleByArgument {}
extension TextEstimator: ExpressibleByArgument {}
extension TextDecodeError: ExpressibleByArgument {}

/// `kmeans fit --init`: a named initialisation, or a CSV file of initial centres (read when
/// the job runs, so a bad file is reported with its location).
enum KMeansInitArgument: ExpressibleByArgument {
    case method(KMeansInitialization)
    case centresFile(String)

    init?(argument: String) {
        if let m = KMeansInitialization(name: argument) {
            self = .method(m)
        } else if argument.lowercased().hasSuffix(".csv") {
            self = .centresFile(argument)
        } else {
            return nil
        }
    }

    /// Listed by --help and in the message for a value that is none of these.
    static var allValueStrings: [String] { ["k-means||", "k-means++", "random", "CENTRES.csv"] }

    var defaultValueDescription: String {
        switch self {
        case let .method(m): return m.name
        case let .centresFile(path): return path
        }
    }

    /// The initialisation, reading the centres of a file.
    func initialization() throws -> KMeansInitialization {
        switch self {
        case let .method(m): return m
        case let .centresFile(path): return .centers(try KMeansModel.readCentersCSV(path).centres)
        }
    }
}
