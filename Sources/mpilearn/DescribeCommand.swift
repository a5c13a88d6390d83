import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn describe <file>`: per-column statistics computed in parallel and merged with
/// collectives; rank 0 prints one table.
struct DescribeCommand: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Read a CSV (file, folder or glob) or NPY file in parallel and print per-column statistics.",
        discussion: """
        Numeric columns: count, missing, mean, std (n-1), min, max. Categorical columns: count, \
        missing, number of categories and the most frequent values. Every rank reads its shard; \
        moments are merged exactly (Chan et al.) and category counts summed by allreduce. \
        --stats adds read throughput and peak memory per rank.
        """)

    @Argument(help: "A .csv file, a folder of .csv files, a glob (quote it), or a .npy file.") var file: String
    @OptionGroup var csv: CSVFlags
    @Option(help: "Most frequent categories to show.") var top: Int = 5
    @Flag(help: "Print read time, throughput, rows and peak memory per rank.") var stats = false
    @Flag(help: "Only read (with --stats: a read benchmark); print no column statistics.") var skipSummary = false

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be >= 0, got \(top)") }
    }

    func run(world: any Communicator) throws {
        let start = Date()
        let table: Table
        var bytes = 0
        if file.hasSuffix(".npy") {
            table = try NPY.readTable(file, comm: world)
            bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        } else {
            let (t, report) = try CSVReader.readWithReport(file, options: try csv.options(), comm: world)
            table = t
            bytes = report.bytes
        }
        let readSeconds = Date().timeIntervalSince(start)
        if stats {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let mine = [Double(table.rowCount), readSeconds, Double(usage.ru_maxrss) / 1024, Double(table.valueBytes) / 1_048_576]
            let all = try world.allgatherv(mine).values
            if world.rank == 0 {
                let slowest = stride(from: 1, to: all.count, by: 4).map { all[$0] }.max() ?? readSeconds
                print(String(format: "read %@: %.1f MB in %.3f s = %.1f MB/s on %d rank(s)", file, Double(bytes) / 1e6, slowest,
                             Double(bytes) / 1e6 / max(slowest, 1e-9), world.size))
                for r in 0 ..< world.size {
                    print(String(format: "  rank %d: %d rows, read %.3f s, peak RSS %.1f MiB, shard values %.1f MiB",
                                 r, Int(all[4 * r]), all[4 * r + 1], all[4 * r + 2], all[4 * r + 3]))
                }
                fflush(stdout)
            }
        }
        guard !skipSummary else { return }
        let summaries = try Describe.summarize(table, top: top, comm: world)
        say(world, Describe.format(summaries, rows: table.globalRowCount))
    }
}

/// The CSV reading flags shared by `describe` and `convert`.
struct CSVFlags: ParsableArguments {
    @Option(help: "Comma-separated columns to read (others are not parsed).") var columns: String?
    @Option(help: "Field delimiter (one ASCII character; 'tab' for a tab).") var delimiter: String = ","
    @Flag(help: "The files have no header row (columns are named x0, x1, ...).") var noHeader = false
    @Option(help: "Column types, e.g. 'carrier:categorical,dep_delay:numeric,time_hour:datetime' (others: --default-type).") var types: String?
    @Option(help: "Type of columns not in --types.") var defaultType: ColumnType = .inferred
    @Option(help: ArgumentHelp("Comma-separated columns to read as categories (as --types NAME:categorical), e.g. codes that are sometimes numbers.",
                               valueName: "NAME,..."))
    var categorical: String = ""
    @Option(help: "Comma-separated texts meaning missing (default: empty, NA, N/A, NaN, nan, NULL, null).") var missingValues: String?
    @Option(help: "Derive these features from datetime columns (year,month,day,hour,minute,second,dayofweek,dayofyear).") var datetimeFeatures: String?
    @Flag(help: "Store numeric columns as 32-bit floats.") var float32 = false
    @Flag(help: "Even out row counts across ranks after reading (alltoallv).") var rebalance = false

    func options() throws -> CSVOptions {
        var o = CSVOptions()
        o.delimiter = delimiter == "tab" ? "\t" : Character(delimiter.count == 1 ? delimiter : "\u{0}")
        if delimiter.count != 1 && delimiter != "tab" {
            throw MPILearnError.invalidParameter(name: "--delimiter", value: "'\(delimiter)'", allowed: "one ASCII character or 'tab'")
        }
        o.hasHeader = !noHeader
        o.columns = columns.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        o.defaultType = defaultType
        for item in (types ?? "").split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let t = ColumnType(rawValue: parts[1]) else {
                throw MPILearnError.invalidParameter(name: "--types", value: "'\(item)'",
                                                     allowed: "name:type with type one of \(ColumnType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            o.types[parts[0]] = t
        }
        for name in categorical.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            if let t = o.types[name], t != .categorical {
                throw MPILearnError.invalidParameter(name: "--categorical", value: "'\(name)'", allowed: "a column not given another type in --types (it is \(t.rawValue) there)")
            }
            o.types[name] = .categorical
        }
        if let m = missingValues { o.missingValues = Set(m.split(separator: ",", omittingEmptySubsequences: false).map(String.init)) }
        if let f = datetimeFeatures {
            o.datetimeFeatures = try f.split(separator: ",").map {
                guard let v = DatetimeFeature(rawValue: String($0)) else {
                    throw MPILearnError.invalidParameter(name: "--datetime-features", value: String($0),
                                                         allowed: DatetimeFeature.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return v
            }
        }
        o.float32 = float32
        o.rebalance = rebalance
        return o
    }
}
