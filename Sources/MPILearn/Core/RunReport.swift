import Foundation

/// The HTML run report (`--report FILE.html`): one self-contained page, inline CSS and SVG,
/// no script and no network, with the run's parameters, every rank's phase timeline, the
/// communication volume against the algorithm's analytic minimum, and the workflow's own
/// figures (k-means inertia per iteration, forest importances and confusion matrix, a
/// search's mean test scores).
public struct RunReport: Sendable {
    public var parameters: RunParameters
    /// Every rank's recording, in rank order.
    public var ranks: [RankTrace]

    public init(parameters: RunParameters, ranks: [RankTrace]) {
        self.parameters = parameters
        self.ranks = ranks
    }

    static let computeColour = "#4e79a7", phaseCommColour = "#f28e2b", callColour = "#e15759"

    /// The page.
    public func html() -> String {
        let e = SVG.escape
        let command = parameters.commandLine.joined(separator: " ")
        var s = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>MPILearn run report: \(e(command))</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#111;background:#fff;max-width:1200px}
        h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
        td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}
        code{background:#f4f4f4;padding:1px 4px;word-break:break-all}
        svg text{font-size:11px;font-family:inherit}svg .ttl{font-size:13px;font-weight:600}svg .lbl{font-size:12px}
        svg .axis{stroke:#333;stroke-width:1}svg .grid{stroke:#e4e4e4;stroke-width:1}
        svg .series{stroke:\(Self.computeColour);stroke-width:2}svg .point{fill:\(Self.computeColour)}
        svg .bar{fill:\(Self.computeColour)}svg .cell.empty{fill:#eee}svg .cellv{font-size:10px}
        svg .phase{stroke:#fff;stroke-width:1}svg .phase-name{fill:#fff;font-size:10px}svg .compute{fill:\(Self.computeColour)}svg .commphase{fill:\(Self.phaseCommColour)}svg .call{fill:\(Self.callColour)}
        .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
        .note{color:#555;font-size:13px}
        </style></head><body>
        <h1>MPILearn run report</h1>

        """
        s += section("parameters", "Run parameters") + parametersTable() + "</section>\n"
        s += section("timeline", "Phase timeline per rank") + timeline() + "</section>\n"
        s += section("phases", "Phases (slowest rank)") + phaseTable() + "</section>\n"
        s += section("communication", "Communication volume") + communication() + "</section>\n"
        let figures = ranks.first?.figures ?? []
        if !figures.isEmpty {
            s += section("figures", "Workflow figures")
            for f in figures { s += "<div class=\"figure\">" + Self.render(f) + "</div>\n" }
            s += "</section>\n"
        }
        s += "<p class=\"note\">Written by mpilearn \(e(parameters.version)). Open the matching trace (<code>--trace</code>) in "
            + "ui.perfetto.dev or chrome://tracing for every call.</p>\n</body></html>\n"
        return s
    }

    private func section(_ id: String, _ title: String) -> String { "<section id=\"\(id)\"><h2>\(SVG.escape(title))</h2>\n" }

    private var wallSeconds: Double { (ranks.map(\.duration).max() ?? 0) / 1e6 }

    func parametersTable() -> String {
        let dropped = ranks.reduce(0) { $0 + $1.droppedEvents }
        var rows: [[String]] = [
            ["command line", parameters.commandLine.joined(separator: " ")],
            ["ranks", String(parameters.ranks)],
            ["threads per rank", String(parameters.threads)],
            ["version", parameters.version],
            ["date (UTC)", parameters.date],
            ["wall time", String(format: "%.3f s (slowest rank, from the start mark)", wallSeconds)],
            ["events recorded", String(ranks.reduce(0) { $0 + $1.events.count })],
        ]
        if dropped > 0 { rows.append(["events not kept", "\(dropped) (over \(TraceRecorder.eventLimit) per rank)"]) }
        return SVG.table(header: ["parameter", "value"], rows: rows, numericFrom: 99)
    }

    /// One row per rank: phases in the upper band (compute blue, communication orange), the
    /// communication calls in the lower band (red; calls closer than a pixel are merged).
    func timeline() -> String {
        let w = 1100.0, l = 70.0, r = 20.0, top = 20.0, rowH = 34.0
        let h = top + Double(max(ranks.count, 1)) * rowH + 40
        let span = max(ranks.map(\.duration).max() ?? 0, 1)
        let scale = (w - l - r) / span
        func x(_ us: Double) -> Double { l + max(0, us) * scale }
        var s = "<div class=\"legend\"><span style=\"background:\(Self.computeColour)\"></span>compute phase"
            + "<span style=\"background:\(Self.phaseCommColour)\"></span>communication phase"
            + "<span style=\"background:\(Self.callColour)\"></span>communication calls (collectives, messages)</div>\n"
        s += "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(SVG.n(w))\" height=\"\(SVG.n(h))\" viewBox=\"0 0 \(SVG.n(w)) \(SVG.n(h))\" role=\"img\">"
        s += "<title>Phase timeline, one row per rank</title>"
        for (rank, trace) in ranks.enumerated() {
            let y = top + Double(rank) * rowH
            s += "<g class=\"rank\" data-rank=\"\(rank)\"><text x=\"\(SVG.n(l - 8))\" y=\"\(SVG.n(y + 19))\" text-anchor=\"end\">rank \(rank)</text>"
            s += "<rect x=\"\(SVG.n(l))\" y=\"\(SVG.n(y))\" width=\"\(SVG.n(w - l - r))\" height=\"\(SVG.n(rowH - 6))\" fill=\"#f6f6f6\"/>"
            for e in trace.events where !e.isCall {
                let cls = e.category == .compute ? "compute" : "commphase"
                s += "<rect class=\"phase \(cls)\" x=\"\(SVG.n(x(e.start)))\" y=\"\(SVG.n(y))\" width=\"\(SVG.n(max(0.5, e.duration * scale)))\" height=\"\(SVG.n(rowH * 0.55))\">"
                s += "<title>rank \(rank): \(SVG.escape(e.name)) (\(e.category.rawValue)), \(String(format: "%.3f", e.duration / 1e6)) s</title></rect>"
                if e.duration * scale > 8 * Double(e.name.count) + 6 {
                    s += "<text class=\"phase-name\" x=\"\(SVG.n(x(e.start) + 3))\" y=\"\(SVG.n(y + 13))\">\(SVG.escape(e.name))</text>"
                }
            }
            // Merge calls less than a pixel apart, so a long run stays a small page.
            var merged: [(start: Double, end: Double, calls: Int, bytes: Int)] = []
            for c in trace.events.filter(\.isCall).sorted(by: { $0.start < $1.start }) {
                if let last = merged.last, (c.start - last.end) * scale < 1 {
                    merged[merged.count - 1] = (last.start, max(last.end, c.start + c.duration), last.calls + 1, last.bytes + (c.bytes ?? 0))
                } else {
                    merged.append((c.start, c.start + c.duration, 1, c.bytes ?? 0))
                }
            }
            for m in merged {
                s += "<rect class=\"call\" x=\"\(SVG.n(x(m.start)))\" y=\"\(SVG.n(y + rowH * 0.6))\" width=\"\(SVG.n(max(1, (m.end - m.start) * scale)))\" height=\"\(SVG.n(rowH * 0.25))\">"
                s += "<title>rank \(rank): \(m.calls) call(s), \(m.bytes) bytes, \(String(format: "%.6f", (m.end - m.start) / 1e6)) s</title></rect>"
            }
            s += "</g>"
        }
        let axisY = top + Double(ranks.count) * rowH
        s += "<line class=\"axis\" x1=\"\(SVG.n(l))\" y1=\"\(SVG.n(axisY))\" x2=\"\(SVG.n(w - r))\" y2=\"\(SVG.n(axisY))\"/>"
        for t in SVG.ticks(0, span / 1e6, count: 8) {
            s += "<text x=\"\(SVG.n(x(t * 1e6)))\" y=\"\(SVG.n(axisY + 16))\" text-anchor=\"middle\">\(SVG.escape(SVG.label(t))) s</text>"
        }
        return s + "</svg>\n"
    }

    func phaseTable() -> String {
        var order: [String] = []
        var maxSeconds: [String: Double] = [:], kinds: [String: String] = [:]
        for trace in ranks {
            var perRank: [String: Double] = [:]
            for e in trace.events where !e.isCall {
                if perRank[e.name] == nil && maxSeconds[e.name] == nil { order.append(e.name) }
                perRank[e.name, default: 0] += e.duration / 1e6
                kinds[e.name] = e.category.rawValue
            }
            for (k, v) in perRank { maxSeconds[k] = max(maxSeconds[k] ?? 0, v) }
        }
        return SVG.table(header: ["phase", "kind", "seconds (max over ranks)"],
                         rows: order.map { [$0, kinds[$0] ?? "", String(format: "%.3f", maxSeconds[$0] ?? 0)] }, numericFrom: 2)
    }

    func communication() -> String {
        var s = "<p class=\"note\">Payload bytes are what each rank's buffers held in its communication calls "
            + "(allreduce, reduce, broadcast: the buffer; gatherv and scatterv: the rank's block, the root every block; "
            + "allgatherv: every block, the rank's own included; alltoallv: sent plus received; point to point: the message). Seconds include waiting for other ranks.</p>\n"
        s += SVG.table(header: ["rank", "calls", "payload bytes", "seconds in calls"], rows: ranks.enumerated().map { r, t in
            [String(r), String(t.communicationCalls), String(t.communicationBytes),
             String(format: "%.6f", t.events.filter(\.isCall).reduce(0) { $0 + $1.duration } / 1e6)]
        })
        // Per call name, over all ranks.
        var byName: [String: (calls: Int, bytes: Int)] = [:]
        for t in ranks { for e in t.events where e.isCall { byName[e.name, default: (0, 0)].calls += 1; byName[e.name]!.bytes += e.bytes ?? 0 } }
        s += SVG.table(header: ["call", "calls (all ranks)", "payload bytes (all ranks)"],
                       rows: byName.sorted { $0.value.bytes > $1.value.bytes }.map { [$0.key, String($0.value.calls), String($0.value.bytes)] })
        let measured = Double(ranks.map(\.communicationBytes).max() ?? 0)
        if let m = ranks.first?.communicationModel {
            let ratio = m.minimumBytesPerRank > 0 ? String(format: "%.2f×", measured / m.minimumBytesPerRank) : "n/a"
            s += "<div class=\"model\"><p><b>Analytic minimum</b>: <code>\(SVG.escape(m.formula))</code> = "
                + "\(String(format: "%.0f", m.minimumBytesPerRank)) bytes per rank; measured \(String(format: "%.0f", measured)) bytes "
                + "(the busiest rank) = \(ratio) the minimum.</p>"
            if !m.note.isEmpty { s += "<p class=\"note\">\(SVG.escape(m.note))</p>" }
            s += SVG.barChart(title: "Payload bytes per rank: measured against the analytic minimum",
                              labels: ["analytic minimum", "measured (busiest rank)"], values: [m.minimumBytesPerRank, measured])
            s += "</div>\n"
        } else {
            s += "<p class=\"note\">This workflow states no analytic minimum.</p>\n"
        }
        return s
    }

    static func render(_ f: ReportFigure) -> String {
        switch f {
        case let .line(title, xl, yl, x, y): return SVG.lineChart(title: title, xLabel: xl, yLabel: yl, x: x, y: y)
        case let .bars(title, labels, values): return SVG.barChart(title: title, labels: labels, values: values)
        case let .heatmap(title, rt, ct, rows, cols, values):
            return SVG.heatmap(title: title, rowTitle: rt, columnTitle: ct, rows: rows, columns: cols, values: values)
        case let .table(title, header, rows): return "<h3>\(SVG.escape(title))</h3>" + SVG.table(header: header, rows: rows)
        }
    }
}
