import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn pipeline`: preprocessing steps and an estimator, fitted and saved as one model.
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Fit a pipeline (preprocessing steps, then an estimator) from a spec file and save it as one model file.",
        discussion: """
        A spec file (YAML or JSON) lists the steps; the last is an estimator:

          steps:
            - {name: select, kind: select, columns: [time_hour, carrier, origin, dep_delay, distance]}
            - {name: time, kind: datetime-features, columns: [time_hour], features: [hour, dayofweek]}
            - {name: lower, kind: normalize-strings, columns: [carrier, origin]}
            - {name: onehot, kind: one-hot-encoder, columns: [carrier, origin], handle_unknown: ignore}
            - {name: scale, kind: standard-scaler}
            - {name: model, kind: logistic-regression, C: 1.0}

        Predict with `mpilearn predict --model M --data …` (streaming, any size); `mpilearn model \
        inspect M` shows the fitted steps. `mpilearn pipeline steps` lists the step kinds.
        """,
        subcommands: [PipelineFit.self, PipelineSteps.self])
}

struct PipelineFit: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "fit", abstract: "Fit a pipeline over the ranks' shards of --train and save it to --model.")
    @Option(help: "The pipeline spec (YAML or JSON).") var spec: String
    @Option(help: "Training CSV (each rank parses its byte range), or a generator spec classification:N,F[,SEED].") var train: String
    @Option(help: "Target column, COLUMN>NUMBER (also >=, <, <=) or any condition for two classes, or an expression for regression ('log1p(arr_delay)'). Not for a clusterer.") var target: String?
    @Option(help: "classification or regression (for an estimator that does both, e.g. random-forest).") var task: String = "classification"
    @Option(help: "Where to save the fitted pipeline (one model file).") var model: String
    @Option(help: "A strptime-style timestamp format (%Y %m %d %H %M %S %b %j %z …) for every datetime-features step without its own 'format'.") var datetimeFormat: String?

    func run(world: any Communicator) throws {
        let summary = try PipelineWorkflow.fit(spec: spec, train: train, target: target, task: task, model: model, datetimeFormat: datetimeFormat, comm: world,
                                               log: { printLine("note: \($0)") })
        say(world, summary.text)
    }
}

struct PipelineSteps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steps", abstract: "List the preprocessing step kinds and their parameters, and the estimators a pipeline may end with.")

    func run() throws {
        for kind in TransformerRegistry.kinds {
            let params = (try? TransformerRegistry.parameterNames(of: kind)) ?? []
            print("\(kind): \(params.joined(separator: ", "))")
        }
        print("estimators (last step): \(PipelineSpec.estimatorKinds.joined(separator: ", "))")
    }
}

/// `mpilearn predict`: any model file, any size of input, streamed.
struct PredictCommand: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict a dataset of any size with any model file, chunk by chunk, into one output file in input order.",
        discussion: """
        Every rank reads its byte range (CSV) or row block (NPY, HDF5) in chunks of --chunk-rows \
        rows, runs the model (a pipeline's steps, then its estimator), and writes its rows of one \
        output file in parallel: memory per rank stays flat however large the input. Progress \
        (rows/s) is printed on rank 0.
        """)
    @Option(help: "A model file (pipeline, forest, k-means, linear).") var model: String
    @Option(help: "Input: a CSV file, folder or glob (quote it), an .npy file, or file.h5:/dataset.") var data: String
    @Option(help: "Output: .csv (or a FIFO or device), .npy, or file.h5:/dataset.") var output: String
    @Flag(help: "Also write class probabilities (proba_<class> columns).") var proba = false
    @Option(help: ArgumentHelp("Input columns copied to the output before the predictions (an id).", valueName: "NAME,...")) var columns: String?
    @Option(help: "Rows per chunk (bounds memory per rank).") var chunkRows: Int = 16384
    @Option(help: "A record that fails to parse: error (stop at file:line) or skip (counted, reported, written as missing).") var onBadRow: StreamingPredict.BadRows = .error
    @Option(help: "single: one output file; parts: one file per rank (OUTPUT.part-RRRRR-of-PPPPP).") var layout: ParallelFile.Layout = .single
    @Option(help: "Input field delimiter (one ASCII character; 'tab' for a tab).") var delimiter: String = ","

    func run(world: any Communicator) throws {
        var o = StreamingPredict.Options(output: output)
        o.proba = proba
        o.passthrough = columns.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
        o.chunkRows = chunkRows
        o.onBadRow = onBadRow
        o.layout = layout
        guard delimiter == "tab" || delimiter.count == 1 else {
            throw MPILearnError.invalidParameter(name: "--delimiter", value: "'\(delimiter)'", allowed: "one ASCII character or 'tab'")
        }
        o.csv.delimiter = delimiter == "tab" ? "\t" : Character(delimiter)
        let summary = try StreamingPredict.run(model: model, data: data, options: o, comm: world, log: printLine)
        say(world, summary.text)
    }
}
