import Foundation
@testable import MPILearn
import SwiftMPI
import TestSupport
import XCTest

/// `--report`: the page's sections and figures for k-means, a forest and a search under real
/// `mpirun -np 3`, text escaped, nothing fetched; and headless Chromium renders it: the SVG
/// elements exist in the rendered DOM and a screenshot is not blank.
final class RunReportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try MPIRun.temporaryDirectory("run-report")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// The sections every report has, the timeline's row per rank, and no way to reach the network.
    func checkCommon(_ html: String, ranks: Int, file: StaticString = #filePath, line: UInt = #line) {
        for id in ["parameters", "timeline", "phases", "communication"] {
            XCTAssertTrue(html.contains("<section id=\"\(id)\">"), "section \(id)", file: file, line: line)
        }
        XCTAssertTrue(html.contains("<svg class=\"timeline\""), file: file, line: line)
        for r in 0 ..< ranks { XCTAssertTrue(html.contains("<g class=\"rank\" data-rank=\"\(r)\">"), "rank \(r)", file: file, line: line) }
        XCTAssertFalse(html.contains("data-rank=\"\(ranks)\""), file: file, line: line)
        XCTAssertTrue(html.contains("class=\"phase compute\""), file: file, line: line)
        XCTAssertTrue(html.contains("<rect class=\"call\""), file: file, line: line)
        XCTAssertTrue(html.contains("<td>ranks</td><td>\(ranks)</td>"), file: file, line: line)
        for forbidden in ["<script", "src=", "href=", "@import", "url("] {
            XCTAssertFalse(html.contains(forbidden), "self-contained: no \(forbidden)", file: file, line: line)
        }
    }

    func testKMeansReportUnderMpirun() throws {
        let out = try MPIRun.mpirun(np: 3, "mpilearn", ["kmeans", "fit", "--blobs", "3000,4,3", "--k", "3", "--threads", "2", "--max-iter", "5",
                                                       "--init", "random", "--n-init", "1", "--report", path("km.html")], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        let html = try read("km.html")
        checkCommon(html, ranks: 3)
        XCTAssertTrue(html.contains("<td>threads per rank</td><td>2</td>"))
        XCTAssertTrue(html.contains("kmeans fit --blobs 3000,4,3"))
        XCTAssertTrue(html.contains("<svg class=\"chart line-chart\""))
        XCTAssertTrue(html.contains("Inertia per Lloyd iteration"))
        XCTAssertTrue(html.contains("<polyline class=\"series\""))
        // The formula with this run's k and d, and the ring allreduce's factor 2(p−1)/p = 4/3.
        XCTAssertTrue(html.contains("(3·4 + 3 + 1)·8"), html)
        XCTAssertTrue(html.contains("1.333×"))
        XCTAssertTrue(html.contains("Analytic minimum"))
    }

    func testForestAndSearchReportsUnderMpirun() throws {
        let forest = try MPIRun.mpirun(np: 3, "mpilearn", ["forest", "run", "--train", "classification:400,5", "--test", "classification:100,5",
                                                          "--n-estimators", "4", "--report", path("forest.html")], timeout: 120)
        XCTAssertEqual(forest.status, 0, "\(forest)")
        let f = try read("forest.html")
        checkCommon(f, ranks: 3)
        XCTAssertTrue(f.contains("<svg class=\"chart bar-chart\""))
        XCTAssertTrue(f.contains("Feature importances"))
        XCTAssertTrue(f.contains("Confusion matrix on the test set (100 rows"))
        XCTAssertTrue(f.contains("<svg class=\"chart heatmap\""))
        // A generated test set is made on every rank: the minimum is the votes' allreduce alone.
        XCTAssertTrue(f.contains("n_test·k·8 = 100·2·8 (votes allreduced"), f)

        let search = try MPIRun.mpirun(np: 3, "mpilearn", ["search", "grid", "--estimator", "random-forest-classifier", "--train", "classification:300,4",
                                                          "--param", "n_estimators=2,3", "--param", "max_depth=2,3,none", "--cv", "3",
                                                          "--report", path("search.html")], timeout: 180)
        XCTAssertEqual(search.status, 0, "\(search)")
        let s = try read("search.html")
        checkCommon(s, ranks: 3)
        // max_depth has the most values: the rows; n_estimators the columns; 3 × 2 cells.
        XCTAssertTrue(s.contains("over max_depth and n_estimators"), s)
        XCTAssertEqual(s.components(separatedBy: "<rect class=\"cell\"").count - 1, 6)
        XCTAssertTrue(s.contains("Candidates (best 50 by rank)"))
    }

    // MARK: a report with every kind of figure, built in process

    static func sampleReport(command: [String] = ["mpilearn", "demo", "<script>alert(1)</script>"]) -> RunReport {
        let ranks = (0 ..< 3).map { r -> RankTrace in
            let base = Double(r) * 1000
            var events = [TraceEvent(name: "load", category: .compute, start: 0, duration: 200_000 + base),
                          TraceEvent(name: "fit", category: .compute, start: 200_000 + base, duration: 600_000),
                          TraceEvent(name: "vote", category: .communication, start: 800_000 + base, duration: 150_000)]
            for i in 0 ..< 40 {
                events.append(TraceEvent(name: "allreduce", category: .communication, start: 200_000 + Double(i) * 15_000, duration: 4_000,
                                         bytes: 800, ranks: 3, isCall: true))
            }
            let figures: [ReportFigure] = r != 0 ? [] : [
                .line(title: "Inertia <per> iteration", xLabel: "iteration", yLabel: "inertia", x: [1, 2, 3, 4], y: [40, 22, 18, 17.5]),
                .bars(title: "Feature importances", labels: ["a&b", "c"], values: [0.7, 0.3]),
                .heatmap(title: "Confusion matrix", rowTitle: "true", columnTitle: "predicted", rows: ["x", "y"], columns: ["x", "y"],
                         values: [[40, 2], [3, nil]]),
                .table(title: "Candidates", header: ["rank", "params"], rows: [["1", "max_depth=3"]]),
            ]
            return RankTrace(events: events, droppedEvents: 0, duration: 1_000_000, figures: figures,
                             communicationModel: r == 0 ? CommunicationModel(formula: "n·8 < m", minimumBytesPerRank: 16_000) : nil)
        }
        return RunReport(parameters: RunParameters(commandLine: command, ranks: 3, threads: 2), ranks: ranks)
    }

    func testReportEscapesTextAndDrawsEveryFigure() {
        let html = Self.sampleReport().html()
        checkCommon(html, ranks: 3)
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("Inertia &lt;per&gt; iteration"))
        XCTAssertTrue(html.contains("a&amp;b"))
        XCTAssertTrue(html.contains("n·8 &lt; m"))
        XCTAssertTrue(html.contains("class=\"phase commphase\""))
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"cell\"").count - 1, 3)
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"cell empty\"").count - 1, 1)
        XCTAssertEqual(html.components(separatedBy: "<circle class=\"point\"").count - 1, 4)
        // Measured: 40 calls of 800 bytes = 32000 bytes = 2.00× the 16000-byte minimum.
        XCTAssertTrue(html.contains("measured 32000 bytes (the busiest rank) = 2.00× the minimum"), html)
    }

    // MARK: headless Chromium

    /// Debian's `chromium` (or another Chromium on PATH); skips when none is installed.
    func chromium() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        throw XCTSkip("no chromium on PATH (scripts/setup installs Debian's chromium)")
    }

    func headless(_ browser: String, _ args: [String]) throws -> MPIRun.Outcome {
        try MPIRun.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(path("profile"))"] + args,
                       timeout: 120)
    }

    /// Renders `file` (a report) in headless Chromium: the rendered DOM holds the SVG
    /// elements, and a 1200×1600 screenshot shows the timeline's colours.
    func checkRenders(_ file: String, svgClasses: [String], file callerFile: StaticString = #filePath, line: UInt = #line) throws {
        let browser = try chromium()
        let url = URL(fileURLWithPath: path(file)).absoluteString
        let dom = try headless(browser, ["--dump-dom", url])
        XCTAssertEqual(dom.status, 0, "\(dom)", file: callerFile, line: line)
        for c in svgClasses { XCTAssertTrue(dom.stdout.contains("<svg class=\"\(c)\""), "rendered DOM has svg.\(c)", file: callerFile, line: line) }
        XCTAssertTrue(dom.stdout.contains("<rect class=\"phase compute\""), file: callerFile, line: line)
        XCTAssertFalse(dom.stdout.contains("<script"), file: callerFile, line: line)

        let png = path(file + ".png")
        let shot = try headless(browser, ["--screenshot=\(png)", "--window-size=1200,1600", url])
        XCTAssertEqual(shot.status, 0, "\(shot)", file: callerFile, line: line)
        let script = MPIRun.packageRoot.appendingPathComponent("scripts/png-stats.py").path
        // The compute colour (#4e79a7) and the calls' colour (#e15759) of the timeline.
        let stats = try MPIRun.run(["python3", script, png, "78,121,167", "225,87,89"], timeout: 120)
        XCTAssertEqual(stats.status, 0, "\(stats)", file: callerFile, line: line)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any], file: callerFile, line: line)
        XCTAssertEqual(json["width"] as? Int, 1200, file: callerFile, line: line)
        XCTAssertEqual(json["height"] as? Int, 1600, file: callerFile, line: line)
        XCTAssertGreaterThan(json["distinct_colours"] as? Int ?? 0, 20, "\(json)", file: callerFile, line: line)
        XCTAssertGreaterThan(json["non_white_fraction"] as? Double ?? 0, 0.03, "\(json)", file: callerFile, line: line)
        let counts = json["colour_counts"] as? [Int] ?? []
        XCTAssertGreaterThan(counts.first ?? 0, 1000, "timeline's compute phases drawn: \(json)", file: callerFile, line: line)
        XCTAssertGreaterThan(counts.last ?? 0, 200, "timeline's communication calls drawn: \(json)", file: callerFile, line: line)
    }

    func testChromiumRendersTheReport() throws {
        _ = try chromium()
        try Self.sampleReport().html().write(toFile: path("sample.html"), atomically: true, encoding: .utf8)
        try checkRenders("sample.html", svgClasses: ["timeline", "chart line-chart", "chart bar-chart", "chart heatmap"])

        let out = try MPIRun.mpirun(np: 3, "mpilearn", ["kmeans", "fit", "--blobs", "3000,4,3", "--k", "3", "--report", path("km.html")], timeout: 120)
        XCTAssertEqual(out.status, 0, "\(out)")
        try checkRenders("km.html", svgClasses: ["timeline", "chart line-chart", "chart bar-chart"])
    }
}
