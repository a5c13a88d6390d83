// Grid search with cross-validation over the ranks, as a library call (docs/library.md).
//   mpirun -np 4 mpilearn-example-search [DATA TARGET [MODEL]]
// DATA is a CSV file with a TARGET column, or a generator spec; by default 3,000 generated
// rows (classification:3000,8) and the model goes to search-best.model.
import MPILearn
import SwiftMPI

let arguments = Array(CommandLine.arguments.dropFirst())
let data = arguments.count > 0 ? arguments[0] : "classification:3000,8"
let target = arguments.count > 1 ? arguments[1] : "y"
let output = arguments.count > 2 ? arguments[2] : "search-best.model"

Job.run { world in   // every rank runs this; an error on any rank ends the job
    // Every rank reads every row (a one-rank communicator): the search shares out
    // (candidate, fold) fits, not rows.
    // A CSV loads as columns; the search reads rows, so they become a matrix in place.
    let rows = try TrainingData.loadTrain(path: data, target: target, categorical: [], features: nil, classification: true,
                                          comm: LocalCommunicator.solo(),
                                          note: { if world.rank == 0 { print("note: \($0)") } }).densified()

    // GridSearchCV(RandomForestClassifier(random_state=10),
    //              {'n_estimators': range(2, 12, 2), 'max_depth': range(2, 12, 2)}, cv=3)
    // (for a classifier, scikit-learn's cv=3 means StratifiedKFold(3))
    let forest = try RandomForestClassifier().setting(["random_state": 10])
    let grid = ParameterGrid(["n_estimators": [2, 4, 6, 8, 10], "max_depth": [2, 4, 6, 8, 10]])
    let search = GridSearchCV(forest, grid: grid, options: SearchOptions(cv: StratifiedKFold(nSplits: 3)))
    let result = try search.fit(.replicated(rows), comm: world)

    // Every rank holds the same results and the same refitted model: rank 0 reports and saves.
    if world.rank == 0, let model = result.bestModel {
        print(result.cvResults.summaryTable(top: 5))
        print("best parameters: \(pythonDict(result.bestParams)), mean \(result.scoring.rawValue) \(result.bestScore)")
        try model.save(to: output)
        print("best model saved to \(output)")
    }
}
