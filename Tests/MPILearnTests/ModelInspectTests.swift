import Foundation
@testable import MPILearn
import TestSupport
import XCTest

/// `model inspect` reads every registered kind, and headers with non-finite numbers save.
final class ModelInspectTests: XCTestCase {
    func testEveryKindInspectsAndANaNOutOfBagScoreSaves() throws {
        let dir = try MPIRun.temporaryDirectory("inspect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let forest = dir.appendingPathComponent("oob.model").path, kmeans = dir.appendingPathComponent("k.model").path
        // One row: no tree has out-of-bag rows, so the score is NaN (this used to fail with an EncodingError).
        let fit = try MPIRun.run([MPIRun.executable("mpilearn"), "forest", "fit", "--train", "classification:1,2", "--n-estimators", "1",
                                  "--oob-score", "--model", forest], timeout: 60)
        XCTAssertEqual(fit.status, 0, "\(fit)")
        XCTAssertTrue(try RandomForestClassifierModel.load(from: forest).oobScore!.isNaN)
        let k = try MPIRun.mpirun(np: 2, "mpilearn", ["kmeans", "fit", "--blobs", "300,3,4", "--k", "4", "--output-model", kmeans], timeout: 60)
        XCTAssertEqual(k.status, 0, "\(k)")
        for (path, kind, line) in [(forest, "random-forest-classifier", "oob score:  nan"), (kmeans, "kmeans", "clusters:")] {
            let text = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path], timeout: 30)
            XCTAssertEqual(text.status, 0, "\(text)")
            XCTAssertTrue(text.stdout.contains(": \(kind), format version 1") && text.stdout.contains(line), "\(text)")
            let json = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", path, "--json"], timeout: 30)
            XCTAssertEqual(json.status, 0, "\(json)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(object?["kind"] as? String, kind)
            XCTAssertEqual(try ModelRegistry.load(from: path).featureNames.count, kind == "kmeans" ? 3 : 2)
        }
        // A file of an unknown kind names the kinds this build reads.
        let odd = dir.appendingPathComponent("odd.model").path
        try ModelContainer(kind: "one-class-svm", header: Data("{}".utf8), sections: []).write(to: odd)
        let out = try MPIRun.run([MPIRun.executable("mpilearn"), "model", "inspect", odd], timeout: 30)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("unknown model kind 'one-class-svm'") && out.stderr.contains("kmeans"), "\(out)")
    }
}
