import ArgumentParser
import Foundation
import MPILearn
import SwiftMPI

/// `mpilearn text`: hashed text features and linear classifiers trained across ranks.
struct TextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Text classification: each rank reads its byte range of the corpus, hashes it (scikit-learn's HashingVectorizer), and the ranks train one linear model.",
        discussion: "See docs/text.md. --estimator logistic (LogisticRegression, L-BFGS over allreduced gradients; --training exact), ridge (RidgeClassifier: Ridge on ±1 targets, conjugate gradient over allreduced products; --training exact) or sgd-classifier (--training chained: the model passed rank to rank, or averaged: per-rank SGD models averaged, an approximation).",
        subcommands: [TextRun.self, TextFit.self, TextPredict.self, TextScore.self, TextVectorize.self])
}

/// Where documents come from.
struct TextCorpusOptions: ParsableArguments {
    @Option(help: "JSON field holding the text (JSON Lines input); without it, one document per line, or a folder of files.") var textField: String?
    @Option(help: "JSON field holding the label (a folder's labels are its sub-folder names).") var labelField: String?
    @Option(help: "Invalid UTF-8: strict (an error naming the file and byte offset), ignore or replace.") var decodeError: TextDecodeError = .strict

    func corpus(_ path: String) -> TextWorkflow.Corpus {
        TextWorkflow.Corpus(path: path, textField: textField, labelField: labelField, decodeError: decodeError)
    }
}

/// scikit-learn's HashingVectorizer parameters.
struct VectorizerOptions: ParsableArguments {
    @Option(help: "Columns of the hashed matrix (default 2^20).") var nFeatures: Int = 1 << 20
    @Option(help: "Sign each feature by its hash (true or false; default true).") var alternateSign: Bool = true
    @Option(help: "Word n-grams LOW,HIGH (default 1,1).") var ngramRange: String = "1,1"
    @Option(help: "Lower-case the text first (true or false).") var lowercase: Bool = true
    @Option(help: "l2, l1 or none.") var norm: String = "l2"
    @Flag(help: "Counts become 1.") var binary: Bool = false
    @Option(help: "Comma-separated words left out before n-grams.") var stopWords: String?
    @Option(help: "Threads per rank hashing documents.") var threads: Int = 1

    func vectorizer() throws -> HashingVectorizer {
        let parts = ngramRange.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1] else {
            throw MPILearnError.invalidParameter(name: "--ngram-range", value: ngramRange, allowed: "LOW,HIGH such as 1,2")
        }
        let rowNorm: RowNorm?
        switch norm {
        case "none", "None": rowNorm = nil
        default:
            guard let n = RowNorm(rawValue: norm) else { throw MPILearnError.invalidParameter(name: "--norm", value: norm, allowed: "l2, l1 or none") }
            rowNorm = n
        }
        let v = HashingVectorizer(nFeatures: nFeatures, alternateSign: alternateSign, ngramRange: NgramRange(lo, hi), lowercase: lowercase,
                                  binary: binary, norm: rowNorm, stopWords: stopWords.map { $0.split(separator: ",").map(String.init) })
        try v.validate()
        try require(threads >= 1 && threads <= 1024, "--threads", threads, "an integer in 1...1024")
        return v
    }
}

/// The classifier and how the ranks train it.
struct TextTrainingOptions: ParsableArguments {
    @Option(help: "logistic (default with --training exact), ridge (RidgeClassifier) or sgd-classifier (default with --training chained or averaged).")
    var estimator: TextEstimator?
    @Option(help: "exact (logistic, ridge; the default), chained or averaged (sgd-classifier; default chained).") var training: TextTraining?
    @Option(help: "Documents whose label is this are class 1, the rest class 0 (default: every label its own class).") var positiveClass: String?
    @Option(name: .customLong("C"), help: "LogisticRegression's inverse L2 strength (exact).") var c: Double?
    @Option(help: "Iterations (logistic: L-BFGS; ridge: conjugate gradient) or epochs (sgd-classifier) at most.") var maxIter: Int?
    @Option(help: "Stopping tolerance.") var tol: Double?
    @Option(help: "SGD's loss (chained, averaged; default log_loss).") var loss: String?
    @Option(help: "Penalty strength (sgd-classifier: default 1e-4; ridge: default 1).") var alpha: Double?
    @Option(help: "Ridge's solver: auto (sparse_cg past 4096 features, cholesky otherwise), cholesky or sparse_cg.") var solver: String?
    @Option(help: "SGD's penalty: l2, l1, elasticnet or none.") var penalty: String?
    @Option(help: "SGD: shuffle each rank's rows every epoch (true or false).") var shuffle: Bool?
    @Option(help: "balanced or none.") var classWeight: String?
    @Option(help: "Seed of SGD's shuffling.") var randomState: Int?

    var parameters: [String: ParameterValue] {
        var p: [String: ParameterValue] = [:]
        if let c { p["C"] = .double(c) }
        if let maxIter { p["max_iter"] = .int(maxIter) }
        if let tol { p["tol"] = .double(tol) }
        if let loss { p["loss"] = .string(loss) }
        if let alpha { p["alpha"] = .double(alpha) }
        if let penalty { p["penalty"] = ParameterValue(parsing: penalty) }
        if let shuffle { p["shuffle"] = .bool(shuffle) }
        if let classWeight { p["class_weight"] = ParameterValue(parsing: classWeight) }
        if let randomState { p["random_state"] = .int(randomState) }
        if let solver { p["solver"] = .string(solver) }
        return p
    }

    func options(train: TextWorkflow.Corpus, vectorizer: VectorizerOptions) throws -> TextWorkflow.Options {
        var o = TextWorkflow.Options(train: train)
        o.vectorizer = try vectorizer.vectorizer()
        o.threads = vectorizer.threads
        o.estimator = estimator
        o.training = training ?? estimator?.defaultTraining ?? .exact
        o.positiveClass = positiveClass
        o.parameters = parameters
        return o
    }
}

struct TextRun: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Read, hash and train on --train, then predict --test: accuracy against the majority baseline and the time of each phase.")
    @Option(help: "Training corpus: a file, a quoted glob ('corpus/*.jsonl') or a folder.") var train: String
    @Option(help: "Labelled test corpus.") var test: String
    @Option(help: "Also save the model here.") var model: String?
    @OptionGroup var corpus: TextCorpusOptions
    @OptionGroup var vectorizer: VectorizerOptions
    @OptionGroup var classifier: TextTrainingOptions

    func run(world: any Communicator) throws {
        var o = try classifier.options(train: corpus.corpus(train), vectorizer: vectorizer)
        o.test = corpus.corpus(test)
        o.model = model
        _ = try TextWorkflow.run(o, comm: world, log: printLine)
    }
}

struct TextFit: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "fit", abstract: "Read, hash and train on --train; save one model file holding the vectorizer and the classifier.")
    @Option(help: "Training corpus: a file, a quoted glob or a folder.") var train: String
    @Option(help: "Output model file.") var model: String
    @OptionGroup var corpus: TextCorpusOptions
    @OptionGroup var vectorizer: VectorizerOptions
    @OptionGroup var classifier: TextTrainingOptions

    func run(world: any Communicator) throws {
        var o = try classifier.options(train: corpus.corpus(train), vectorizer: vectorizer)
        o.model = model
        _ = try TextWorkflow.run(o, comm: world, log: printLine)
    }
}

struct TextPredict: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a corpus with a saved text model; every rank its byte range, one output file written in parallel.")
    @Option(help: "Model file (from text fit).") var model: String
    @Option(help: "Corpus to predict.") var docs: String
    @Option(help: "Output CSV: a header `prediction`, then one class per document in corpus order.") var output: String
    @Option(help: "Threads per rank hashing documents.") var threads: Int = 1
    @OptionGroup var corpus: TextCorpusOptions

    func run(world: any Communicator) throws {
        let accuracy = try TextWorkflow.predict(model: model, corpus: corpus.corpus(docs), output: output, threads: threads, comm: world)
        say(world, "predictions written to \(output)" + (accuracy.map { String(format: "; accuracy %.4f", $0) } ?? ""))
    }
}

struct TextScore: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score a saved text model on a labelled corpus: accuracy against the majority baseline, ROC AUC, log loss, the confusion matrix and per-class precision, recall and F1, by collectives.")
    @Option(help: "Model file (from text fit).") var model: String
    @Option(help: "Labelled corpus: a file, a quoted glob or a folder.") var docs: String
    @Option(help: "Threads per rank hashing documents.") var threads: Int = 1
    @OptionGroup var corpus: TextCorpusOptions

    func run(world: any Communicator) throws {
        let report = try TextWorkflow.score(model: model, corpus: corpus.corpus(docs), threads: threads, comm: world)
        say(world, report.text)
    }
}

struct TextVectorize: SPMDCommand {
    @OptionGroup(title: "Trace and report") var observability: ObservabilityOptions
    static let configuration = CommandConfiguration(
        commandName: "vectorize", abstract: "Hash a corpus and write the matrix (rows in corpus order) as a scipy .npz file (scipy.sparse.load_npz reads it).")
    @Option(help: "Corpus to hash.") var docs: String
    @Option(help: "Output .npz file.") var output: String
    @Flag(help: "Deflate the .npz members (scipy's compressed=True).") var compressed: Bool = false
    @OptionGroup var corpus: TextCorpusOptions
    @OptionGroup var vectorizer: VectorizerOptions

    func run(world: any Communicator) throws {
        let r = try TextWorkflow.vectorize(corpus.corpus(docs), vectorizer: try vectorizer.vectorizer(), output: output,
                                           compression: compressed ? .deflate : .stored, threads: vectorizer.threads, comm: world)
        say(world, "\(r.rows) documents hashed to \(r.stored) stored entries in \(output)")
    }
}
