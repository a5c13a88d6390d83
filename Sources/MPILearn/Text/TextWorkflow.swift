// The text workflow: every rank reads its byte range of a corpus, hashes its documents into
// sparse rows (HashingVectorizer), and the ranks train one linear classifier together:
// exactly (LogisticRegression: L-BFGS over allreduced loss and gradient; or a ridge
// classifier: conjugate gradient over allreduced products), chained (SGD: the model passes
// from rank to rank) or averaged (SGD: per-rank fits averaged). A fitted model
// file holds the vectorizer and the classifier together and predicts on one rank.

import Foundation
import SwiftMPI

/// How the ranks train a text classifier.
public enum TextTraining: String, Codable, Sendable, CaseIterable {
    /// LogisticRegression by L-BFGS over allreduced loss and gradient: the one-process model.
    case exact
    /// SGDClassifier, the whole SGD state handed from rank to rank: the one-process model
    /// (without shuffling).
    case chained
    /// SGDClassifier fitted on each rank's rows, coefficients averaged: an approximation.
    case averaged
}

/// The classifier a text workflow trains.
public enum TextEstimator: String, Codable, Sendable, CaseIterable {
    /// LogisticRegression (L-BFGS); trains `exact`.
    case logistic
    /// SGDClassifier; trains `chained` or `averaged`.
    case sgdClassifier = "sgd-classifier"
    /// Ridge as a classifier (scikit-learn's RidgeClassifier: ±1 targets, one per class for
    /// more than two); `sparse_cg` on hashed features, trains `exact`.
    case ridge

    /// The training an estimator gets when none is asked for.
    public var defaultTraining: TextTraining { self == .sgdClassifier ? .chained : .exact }
}

public enum TextWorkflow {
    /// A corpus and how to read it.
    public struct Corpus: Sendable {
        public var path: String
        /// The JSON field with the text; nil: one document per line (or a folder of files).
        public var textField: String?
        /// The JSON field with the label (nil: a folder's sub-folder names, or none).
        public var labelField: String?
        public var decodeError: TextDecodeError = .strict

        public init(path: String, textField: String? = nil, labelField: String? = nil, decodeError: TextDecodeError = .strict) {
            self.path = path
            self.textField = textField
            self.labelField = labelField
            self.decodeError = decodeError
        }

        var format: TextFormat {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return .folder }
            if let textField { return .jsonLines(textField: textField, labelField: labelField) }
            return .lines
        }
    }

    /// What `run` and `fit` do.
    public struct Options: Sendable {
        public var train: Corpus
        public var test: Corpus?
        public var vectorizer = HashingVectorizer()
        /// Labels equal to this are class 1 and the rest class 0 (`libs` vs rest); nil: every label its class.
        public var positiveClass: String?
        public var training: TextTraining = .exact
        /// The classifier; nil: LogisticRegression for `exact` training, SGDClassifier for
        /// `chained` and `averaged`.
        public var estimator: TextEstimator?
        /// The classifier's parameters by scikit-learn name (`C`, `max_iter`, `alpha`, `loss`, …).
        public var parameters: [String: ParameterValue] = [:]
        /// Threads per rank for hashing.
        public var threads = 1
        /// Save the fitted model here (rank 0 writes).
        public var model: String?

        public init(train: Corpus) { self.train = train }

        /// The classifier to train, checked against ``training``.
        /// - Throws: ``MPILearnError/invalidParameter`` for a training the estimator does not
        ///   have (SGD trains chained or averaged; logistic and ridge train exact).
        public func resolvedEstimator() throws -> TextEstimator {
            guard let estimator else { return training == .exact ? .logistic : .sgdClassifier }
            switch (estimator, training) {
            case (.sgdClassifier, .chained), (.sgdClassifier, .averaged), (.logistic, .exact), (.ridge, .exact): return estimator
            case (.sgdClassifier, _):
                throw MPILearnError.invalidParameter(name: "--training", value: training.rawValue, allowed: "chained or averaged for sgd-classifier")
            default:
                throw MPILearnError.invalidParameter(name: "--training", value: training.rawValue,
                                                     allowed: "exact for \(estimator.rawValue) (chained and averaged are SGD's; use --estimator sgd-classifier)")
            }
        }
    }

    /// A rank's documents as hashed rows with labels.
    public struct Loaded {
        public var data: Dataset<Double>
        public var documents: Int
        public var bytes: Int
    }

    /// Collective. Reads and hashes every rank's documents. With `classes` given (a fitted
    /// model's), labels are coded onto them; otherwise the classes are every rank's labels,
    /// sorted (or `[other, positive]` with `positiveClass`).
    public static func load(_ corpus: Corpus, vectorizer: HashingVectorizer, positiveClass: String?, classes: [String]?, needLabels: Bool,
                            threads: Int, comm: any Communicator, timer: inout PhaseTimer) throws -> Loaded {
        let docs = try TextCorpus.read(corpus.path, format: corpus.format, decodeError: corpus.decodeError, comm: comm)
        timer.mark("read", comm: false)
        let x = try vectorizer.transform(docs.texts, threads: threads)
        timer.mark("hash", comm: false)
        var data = Dataset<Double>(features: .sparse(x))
        data.globalRowStart = docs.globalRowStart
        data.globalRowCount = docs.globalRowCount
        data.source = corpus.path
        data.featureNames = []   // hashed columns have no names
        data.categories = []     // nor dictionaries (a model file would otherwise list n_features nulls)
        if needLabels {
            guard let labels = docs.labels else {
                throw MPILearnError.invalidParameter(name: "--label-field", value: "none", allowed: "the JSON field holding each document's label (or a folder of labelled sub-folders)")
            }
            let names: [String]
            if let positiveClass {
                names = classes ?? ["other", positiveClass]
                data.target = labels.map { $0 == positiveClass ? 1 : 0 }
                if classes == nil {
                    // Training: both classes must occur somewhere.
                    let positives = try comm.allreduce(Int64(labels.filter { $0 == positiveClass }.count), op: .sum)
                    if positives == 0 || positives == Int64(docs.globalRowCount) {
                        let seen = try allLabels(labels, comm: comm)
                        throw MPILearnError.invalidParameter(name: "--positive-class", value: "'\(positiveClass)'",
                                                             allowed: (positives == 0 ? "a label some document has" : "a label not every document has")
                                                                 + " (two classes are needed); the labels: \(listPreview(seen))")
                    }
                }
            } else {
                names = try classes ?? allLabels(labels, comm: comm)
                let code = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Double($0)) })
                data.target = try labels.enumerated().map { i, l in
                    guard let c = code[l] else {
                        throw MPILearnError.dataError(SourceLocation(file: corpus.path), "document \(docs.globalRowStart + i + 1): label '\(l)' is not one of the model's classes \(listPreview(names))")
                    }
                    return c
                }
            }
            data.classNames = names
            data.targetName = corpus.labelField ?? "label"
        }
        return Loaded(data: data, documents: docs.globalRowCount, bytes: Int(try comm.allreduce(Int64(docs.bytes), op: .sum)))
    }

    /// Collective. Every rank's distinct labels, sorted.
    static func allLabels(_ labels: [String], comm: any Communicator) throws -> [String] {
        let mine = Array(Set(labels)).sorted().joined(separator: "\u{0}")
        let all = try comm.allgatherv(Array(mine.utf8))
        var out = Set<String>()
        for r in 0 ..< comm.size {
            let bytes = Array(all.values[all.layout.range(of: r)])
            for s in String(decoding: bytes, as: UTF8.self).split(separator: "\u{0}") { out.insert(String(s)) }
        }
        return out.sorted()
    }

    /// Collective. Fits the classifier `options` names on every rank's hashed rows.
    public static func fitClassifier(_ data: Dataset<Double>, options: Options, comm: any Communicator) throws -> TextClassifierModel.Classifier {
        switch try options.resolvedEstimator() {
        case .logistic:
            let e = try LogisticRegression().setting(options.parameters)
            return .logistic(try e.fit(data, comm: comm))
        case .ridge:
            return .ridge(try Ridge().setting(options.parameters).fitClassifier(data, comm: comm))
        case .sgdClassifier:
            var changes = options.parameters
            changes["training"] = .string(options.training.rawValue)
            if changes["loss"] == nil { changes["loss"] = "log_loss" }
            return .sgd(try SGDClassifier().setting(changes).fit(data, comm: comm))
        }
    }

    /// What `run` reports.
    public struct RunResult: Sendable {
        public var trainDocuments: Int
        public var testDocuments: Int
        public var accuracy: Double
        public var baseline: Double
        public var classes: [String]
        public var text: String
    }

    /// Collective. The whole workflow: read and hash the training corpus, fit, read and hash
    /// the test corpus, predict, and report accuracy against the majority baseline with the
    /// time of each phase. Saves the model when `options.model` is set.
    public static func run(_ options: Options, comm: any Communicator, log: @escaping (String) -> Void) throws -> RunResult {
        let root = comm.rank == 0
        func say(_ s: String) { if root { log(s) } }
        try options.vectorizer.validate()
        let estimator = try options.resolvedEstimator()
        var timer = PhaseTimer(trace: comm)
        let train = try load(options.train, vectorizer: options.vectorizer, positiveClass: options.positiveClass, classes: nil, needLabels: true,
                             threads: options.threads, comm: comm, timer: &timer)
        let classes = train.data.classNames ?? []
        say(String(format: "train: %d documents (%.1f MB of text) over %d rank(s), %d features (hashed), %d classes; training: %@",
                   train.documents, Double(train.bytes) / 1_048_576, comm.size, options.vectorizer.nFeatures, classes.count,
                   estimator == .ridge ? "exact (RidgeClassifier, Ridge on ±1 targets)"
                       : options.training == .exact ? "exact (LogisticRegression, L-BFGS over allreduced gradients)"
                       : options.training == .chained ? "chained (SGDClassifier, the model passed rank to rank)"
                       : "averaged (SGDClassifier per rank, coefficients averaged)"))
        if options.training == .averaged && comm.size > 1 {
            say("warning: averaged training is an approximation: the average of per-rank models is not the model of all rows")
        }
        let classifier = try fitClassifier(train.data, options: options, comm: comm)
        timer.mark("fit", comm: true)
        switch classifier {
        case .logistic(let m):
            // The solver's objective is scikit-learn's divided by C × (sum of row weights = rows).
            let c = m.configuration.C
            say(String(format: "fit: LogisticRegression, %d L-BFGS iterations, objective %.9g (scikit-learn's C·Σ log-loss + ½‖coef‖²)%@",
                       m.nIter, m.objective * c * Double(train.documents), m.warning.map { "; warning: \($0)" } ?? ""))
            if case .sparse(let x) = train.data.features, m.evaluations > 0 {
                // Each evaluation against one read of the shard's stored entries, timed on the
                // matrix itself (the slowest rank's read).
                let fitSeconds = try comm.allreduce(timer.phases.last?.seconds ?? 0, op: .max)
                let bytes = try comm.allreduce(Double(x.storedCount * 12 + (x.rows + 1) * 8), op: .max)
                let read = try x.data.withUnsafeBytes { d in
                    try x.indices.withUnsafeBytes { i in
                        try x.indptr.withUnsafeBytes { p in try MemoryBandwidth.timeRead([d, i, p], comm: comm) }
                    }
                }
                timer.mark("time one read", comm: true)
                let perEvaluation = fitSeconds / Double(m.evaluations)
                say(String(format: "fit: %d evaluations, %.2f ms each; one read of the largest shard's stored entries (%.1f MB) takes %.2f ms at the measured %.1f GB/s per rank: %.2f× that bound",
                           m.evaluations, perEvaluation * 1e3, bytes / 1_048_576, read.seconds * 1e3, read.bytesPerSecond / 1e9,
                           perEvaluation / read.seconds))
            }
        case .sgd(let m):
            say("fit: SGDClassifier (\(m.parameters.loss.rawValue)), \(m.nIter) epoch(s)" + (m.converged ? "" : "; warning: max_iter reached before tol was met"))
        case .ridge(let m):
            say("fit: RidgeClassifier (alpha=\(m.configuration.alpha)), \(m.solver)"
                + (m.nIter.map { ", \($0) conjugate-gradient iterations" + (m.coef.rows > 1 ? " (the most of any class)" : "") } ?? ", one Cholesky solve")
                + (m.warning.map { "; warning: \($0)" } ?? ""))
        }
        let model = TextClassifierModel(vectorizer: options.vectorizer, positiveClass: options.positiveClass, classifier: classifier)
        if let path = options.model {
            if root { try model.save(to: path) }
            try comm.barrier()
            say("model written to \(path)")
            timer.mark("save", comm: false)
        }
        var accuracy = Double.nan, baseline = Double.nan, testDocs = 0
        if let testCorpus = options.test {
            let test = try load(testCorpus, vectorizer: options.vectorizer, positiveClass: options.positiveClass, classes: classes, needLabels: true,
                                threads: options.threads, comm: comm, timer: &timer)
            testDocs = test.documents
            let predicted = try model.predictCodes(test.data)
            let truth = test.data.target!.map { Int($0) }
            accuracy = try Metrics.accuracy(yTrue: truth, yPred: predicted, comm: comm)
            baseline = try Metrics.majorityBaseline(yTrue: truth, classes: classes.count, comm: comm).0
            timer.mark("predict", comm: true)
            say(String(format: "test: %d documents; accuracy %.4f against a majority baseline of %.4f", testDocs, accuracy, baseline))
        }
        var lines: [String] = []
        if let t = try timer.text(comm) { lines.append(t); say(t) }
        return RunResult(trainDocuments: train.documents, testDocuments: testDocs, accuracy: accuracy, baseline: baseline, classes: classes,
                         text: lines.joined(separator: "\n"))
    }

    /// Collective. Predicts every rank's documents of `corpus` with a saved model and writes
    /// one file (`prediction` per document, in corpus order) in parallel; with labels in the
    /// corpus also returns the accuracy.
    public static func predict(model path: String, corpus: Corpus, output: String, threads: Int = 1, comm: any Communicator) throws -> Double? {
        let model = try TextClassifierModel.load(from: path, comm: comm)
        var timer = PhaseTimer(trace: comm)
        let labelled = corpus.labelField != nil
        let loaded = try load(corpus, vectorizer: model.vectorizer, positiveClass: model.positiveClass, classes: labelled ? model.classes : nil,
                              needLabels: labelled, threads: threads, comm: comm, timer: &timer)
        let codes = try model.predictCodes(loaded.data)
        var text = ""
        for c in codes { text += model.classes[c] + "\n" }
        try Array(text.utf8).withUnsafeBytes { try ParallelFile.write(output, header: Array("prediction\n".utf8), bytes: $0, comm: comm) }
        guard let y = loaded.data.target else { return nil }
        return try Metrics.accuracy(yTrue: y.map { Int($0) }, yPred: codes, comm: comm)
    }

    /// Collective. Scores a saved text model on a labelled corpus (every rank its byte range):
    /// accuracy against the majority baseline, ROC AUC (two classes), log loss, the confusion
    /// matrix and per-class precision, recall and F1, computed by collectives.
    /// - Throws: ``MPILearnError/mismatch`` when the corpus has no label field or holds a
    ///   label the model does not know (with the file and line).
    public static func score(model path: String, corpus: Corpus, threads: Int = 1, comm: any Communicator) throws -> ClassificationReport {
        let model = try TextClassifierModel.load(from: path, comm: comm)
        var timer = PhaseTimer(trace: comm)
        let loaded = try load(corpus, vectorizer: model.vectorizer, positiveClass: model.positiveClass, classes: model.classes,
                              needLabels: true, threads: threads, comm: comm, timer: &timer)
        let p = try model.probabilities(loaded.data)
        return try ClassificationReport(yTrue: loaded.data.target!.map { Int($0) }, votes: p.storage, classes: model.classes, voting: .soft,
                                        nEstimators: 1, comm: comm)
    }

    /// Collective. Hashes every rank's documents and writes the whole matrix (rows in corpus
    /// order) as a scipy `.npz` file: the rows are gathered to rank 0, which writes it.
    public static func vectorize(_ corpus: Corpus, vectorizer: HashingVectorizer, output: String, compression: NPZ.Compression = .stored,
                                 threads: Int = 1, comm: any Communicator) throws -> (rows: Int, stored: Int) {
        try vectorizer.validate()
        var timer = PhaseTimer(trace: comm)
        let x = try load(corpus, vectorizer: vectorizer, positiveClass: nil, classes: nil, needLabels: false, threads: threads, comm: comm,
                         timer: &timer).data
        guard case .sparse(let m) = x.features else { return (0, 0) }
        let counts = m.indptr.dropFirst().enumerated().map { i, e in Int64(e - m.indptr[i]) }
        let rowCounts = try comm.gatherv(counts, root: 0)
        let indices = try comm.gatherv(m.indices, root: 0)
        let data = try comm.gatherv(m.data, root: 0)
        var result = (rows: x.globalRowCount, stored: 0)
        if let rowCounts, let indices, let data {
            var indptr: [Int64] = [0]
            indptr.reserveCapacity(rowCounts.values.count + 1)
            for c in rowCounts.values { indptr.append(indptr.last! + c) }
            let whole = CSRMatrix(rows: rowCounts.values.count, columns: vectorizer.nFeatures, indptr: indptr, indices: indices.values, data: data.values)
            try NPZ.writeCSR(whole, to: output, compression: compression)
            result.stored = whole.storedCount
        }
        try comm.barrier()
        return result
    }
}

/// A text classifier: the vectorizer and the linear model, saved as one file. Predicting
/// needs no MPI: it hashes the documents and applies the coefficients.
public struct TextClassifierModel: FittedModel {
    public enum Classifier: Sendable {
        case logistic(LogisticRegressionModel)
        case sgd(SGDClassifierModel)
        case ridge(RidgeClassifierModel)
    }

    public static let kind = "text-classifier"
    public static let role = EstimatorRole.classifier
    public var vectorizer: HashingVectorizer
    public var positiveClass: String?
    public var classifier: Classifier
    public var featureNames: [String] { [] }

    public var classes: [String] {
        switch classifier {
        case .logistic(let m): return m.classes
        case .sgd(let m): return m.classes
        case .ridge(let m): return m.classes
        }
    }

    var coefficients: (coef: Matrix<Double>, intercept: [Double]) {
        switch classifier {
        case .logistic(let m): return (m.coefficients.coef, m.coefficients.intercept)
        case .sgd(let m): return (m.coef, m.intercept)
        case .ridge(let m): return (m.coef, m.intercept)
        }
    }

    /// Decision values of hashed rows: rows × 1 (two classes) or rows × classes.
    func decision(_ data: Dataset<Double>) throws -> Matrix<Double> {
        guard case .sparse(let x) = data.features else { throw MPILearnError.mismatch("a text model predicts hashed (sparse) rows") }
        let (coef, intercept) = coefficients
        guard x.columns == coef.columns else {
            throw MPILearnError.mismatch("the documents are hashed to \(x.columns) features, the model has \(coef.columns)")
        }
        var z = Matrix<Double>(rows: x.rows, columns: coef.rows)
        try SparseDesign(x: x).decision(coef, intercept: intercept, into: &z)
        return z
    }

    /// Class codes (indices into ``classes``) of hashed rows.
    func predictCodes(_ data: Dataset<Double>) throws -> [Int] {
        LinearCoefficients.classCodes(decision: try decision(data))
    }

    /// Rows × classes: class probabilities for a LogisticRegression (scikit-learn's
    /// `predict_proba`), else each row's predicted class with probability 1 (RidgeClassifier
    /// and SGD models: accuracy and the confusion matrix stay exact; the log loss then counts
    /// only right and wrong).
    func probabilities(_ data: Dataset<Double>) throws -> Matrix<Double> {
        let z = try decision(data)
        if case .logistic = classifier { return LogisticRegressionModel.probabilities(decision: z, classes: classes.count) }
        let codes = LinearCoefficients.classCodes(decision: z)
        var p = Matrix<Double>(rows: z.rows, columns: classes.count)
        for (i, c) in codes.enumerated() { p[i, c] = 1 }
        return p
    }

    /// The predicted class of each document.
    public func predict(_ documents: [String], threads: Int = 1) throws -> [String] {
        let x = try vectorizer.transform(documents, threads: threads)
        return try predictCodes(Dataset(features: .sparse(x))).map { classes[$0] }
    }

    struct Header: Codable {
        var vectorizer: HashingVectorizer
        var positiveClass: String?
        var classifierKind: String
        var mpilearnVersion = MPILearnVersion.string
    }

    public func container() throws -> ModelContainer {
        let inner: ModelContainer
        switch classifier {
        case .logistic(let m): inner = try m.container()
        case .sgd(let m): inner = try m.container()
        case .ridge(let m): inner = try m.container()
        }
        let header = Header(vectorizer: vectorizer, positiveClass: positiveClass, classifierKind: inner.kind)
        return ModelContainer(kind: Self.kind, header: try ModelJSON.encoder.encode(header), sections: [("classifier", inner.encoded())])
    }

    public static func decode(_ c: ModelContainer, path: String) throws -> TextClassifierModel {
        let h: Header
        do { h = try ModelJSON.decoder.decode(Header.self, from: c.header) } catch {
            throw MPILearnError.dataError(SourceLocation(file: path), "text model header is not valid: \(error)")
        }
        let inner = try ModelContainer.decode(c.section("classifier", in: path), path: path,
                                              expectedKinds: [LogisticRegressionModel.kind, SGDClassifierModel.kind, RidgeClassifierModel.kind])
        let classifier: Classifier
        switch inner.kind {
        case SGDClassifierModel.kind: classifier = .sgd(try SGDClassifierModel.decode(inner, path: path))
        case RidgeClassifierModel.kind: classifier = .ridge(try RidgeClassifierModel.decode(inner, path: path))
        default: classifier = .logistic(try LogisticRegressionModel.decode(inner, path: path))
        }
        return TextClassifierModel(vectorizer: h.vectorizer, positiveClass: h.positiveClass, classifier: classifier)
    }

    /// Collective. Rank 0 reads the file; every rank gets the model.
    public static func load(from path: String, comm: any Communicator) throws -> TextClassifierModel {
        var bytes: [UInt8] = []
        if comm.rank == 0 { bytes = try ModelContainer.fileBytes(path) }
        try comm.broadcast(&bytes)
        return try decode(ModelContainer.decode(Data(bytes), path: path, expectedKinds: [kind]), path: path)
    }

    public func summary() -> [(String, String)] {
        let (coef, _) = coefficients
        var out: [(String, String)] = [
            ("vectorizer", "HashingVectorizer(n_features=\(vectorizer.nFeatures), alternate_sign=\(vectorizer.alternateSign), "
                + "ngram_range=\(vectorizer.ngramRange), norm=\(vectorizer.norm?.rawValue ?? "None"))"),
            ("classes", listPreview(classes) + (positiveClass.map { " (\($0) vs the rest)" } ?? "")),
            ("coefficients", "\(coef.rows) × \(coef.columns)"),
        ]
        switch classifier {
        case .logistic(let m): out.append(("classifier", "LogisticRegression, \(m.nIter) iteration(s), objective \(m.objective)"))
        case .sgd(let m): out += m.summary().filter { $0.0 != "classes" && $0.0 != "coefficients" }
        case .ridge(let m):
            out.append(("classifier", "RidgeClassifier (alpha=\(m.configuration.alpha), fit_intercept=\(m.configuration.fitIntercept)), "
                + m.solver + (m.nIter.map { ", \($0) iteration(s)" } ?? "")))
        }
        return out
    }
}
