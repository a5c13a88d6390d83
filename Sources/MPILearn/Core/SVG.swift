import Foundation

/// A picture a workflow adds to its run report (``Communicator/traceAttach(_:model:)``).
public enum ReportFigure: Codable, Sendable, Equatable {
    /// A line chart of `y` against `x`.
    case line(title: String, xLabel: String, yLabel: String, x: [Double], y: [Double])
    /// Horizontal bars, one per label.
    case bars(title: String, labels: [String], values: [Double])
    /// A heat map: `values[row][column]` (nil: no value), labelled rows and columns.
    case heatmap(title: String, rowTitle: String, columnTitle: String, rows: [String], columns: [String], values: [[Double?]])
    /// A table of text.
    case table(title: String, header: [String], rows: [[String]])

    public var title: String {
        switch self {
        case let .line(t, _, _, _, _), let .bars(t, _, _), let .heatmap(t, _, _, _, _, _), let .table(t, _, _): return t
        }
    }
}

/// Inline SVG for the run report: small charts with escaped text, no scripts.
enum SVG {
    /// `s` with the characters HTML and XML give meaning to replaced by entities.
    static func escape(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    /// A number for an attribute (two decimals).
    static func n(_ v: Double) -> String { String(format: "%.2f", v.isFinite ? v : 0) }

    /// A number for a label: up to 4 significant digits.
    static func label(_ v: Double) -> String {
        guard v.isFinite else { return String(v) }
        if v != 0 && (abs(v) >= 1e5 || abs(v) < 1e-3) { return String(format: "%.3e", v) }
        return String(format: "%.4g", v)
    }

    /// Round tick values covering `lo...hi` (about `count` of them).
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 && out.count < 50 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    /// A line chart with axes, ticks and a dot per point.
    static func lineChart(title: String, xLabel: String, yLabel: String, x: [Double], y: [Double]) -> String {
        let w = 640.0, h = 320.0, l = 90.0, r = 20.0, t = 30.0, b = 50.0
        let pts = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        var s = "<svg class=\"chart line-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(w))\" height=\"\(n(h))\" viewBox=\"0 0 \(n(w)) \(n(h))\" role=\"img\">"
        s += "<title>\(escape(title))</title>"
        s += "<text x=\"\(n(w / 2))\" y=\"18\" text-anchor=\"middle\" class=\"ttl\">\(escape(title))</text>"
        guard let x0 = pts.map(\.0).min(), let x1 = pts.map(\.0).max(), let y0 = pts.map(\.1).min(), let y1 = pts.map(\.1).max() else {
            return s + "<text x=\"\(n(w / 2))\" y=\"\(n(h / 2))\" text-anchor=\"middle\">no data</text></svg>"
        }
        let xs = x1 > x0 ? (x0, x1) : (x0 - 1, x1 + 1)
        let pad = (y1 - y0) * 0.05
        let ys = y1 > y0 ? (y0 - pad, y1 + pad) : (y0 - max(abs(y0) * 0.1, 1), y1 + max(abs(y1) * 0.1, 1))
        func px(_ v: Double) -> Double { l + (v - xs.0) / (xs.1 - xs.0) * (w - l - r) }
        func py(_ v: Double) -> Double { h - b - (v - ys.0) / (ys.1 - ys.0) * (h - t - b) }
        s += "<line class=\"axis\" x1=\"\(n(l))\" y1=\"\(n(h - b))\" x2=\"\(n(w - r))\" y2=\"\(n(h - b))\"/>"
        s += "<line class=\"axis\" x1=\"\(n(l))\" y1=\"\(n(t))\" x2=\"\(n(l))\" y2=\"\(n(h - b))\"/>"
        for v in ticks(xs.0, xs.1) {
            s += "<text x=\"\(n(px(v)))\" y=\"\(n(h - b + 16))\" text-anchor=\"middle\" class=\"tick\">\(escape(label(v)))</text>"
        }
        for v in ticks(ys.0, ys.1) {
            s += "<line class=\"grid\" x1=\"\(n(l))\" y1=\"\(n(py(v)))\" x2=\"\(n(w - r))\" y2=\"\(n(py(v)))\"/>"
            s += "<text x=\"\(n(l - 6))\" y=\"\(n(py(v) + 4))\" text-anchor=\"end\" class=\"tick\">\(escape(label(v)))</text>"
        }
        s += "<text x=\"\(n((l + w - r) / 2))\" y=\"\(n(h - 10))\" text-anchor=\"middle\" class=\"lbl\">\(escape(xLabel))</text>"
        s += "<text x=\"14\" y=\"\(n((t + h - b) / 2))\" text-anchor=\"middle\" class=\"lbl\" transform=\"rotate(-90 14 \(n((t + h - b) / 2)))\">\(escape(yLabel))</text>"
        s += "<polyline class=\"series\" fill=\"none\" points=\"" + pts.map { "\(n(px($0.0))),\(n(py($0.1)))" }.joined(separator: " ") + "\"/>"
        if pts.count <= 400 {
            for p in pts {
                s += "<circle class=\"point\" cx=\"\(n(px(p.0)))\" cy=\"\(n(py(p.1)))\" r=\"3\"><title>\(escape(label(p.0))): \(escape(label(p.1)))</title></circle>"
            }
        }
        return s + "</svg>"
    }

    /// Horizontal bars with their values, largest scale at the longest bar.
    static func barChart(title: String, labels: [String], values: [Double]) -> String {
        let rowH = 22.0, l = 200.0, w = 640.0, t = 30.0
        let h = t + Double(labels.count) * rowH + 10
        let top = max(values.filter(\.isFinite).max() ?? 0, 1e-300)
        var s = "<svg class=\"chart bar-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(w))\" height=\"\(n(h))\" viewBox=\"0 0 \(n(w)) \(n(h))\" role=\"img\">"
        s += "<title>\(escape(title))</title><text x=\"\(n(w / 2))\" y=\"18\" text-anchor=\"middle\" class=\"ttl\">\(escape(title))</text>"
        for (i, (name, v)) in zip(labels, values).enumerated() {
            let y = t + Double(i) * rowH
            let len = max(0, (v.isFinite ? v : 0) / top) * (w - l - 90)
            s += "<text x=\"\(n(l - 6))\" y=\"\(n(y + 15))\" text-anchor=\"end\" class=\"tick\">\(escape(name))</text>"
            s += "<rect class=\"bar\" x=\"\(n(l))\" y=\"\(n(y + 3))\" width=\"\(n(len))\" height=\"\(n(rowH - 6))\"><title>\(escape(name)): \(escape(label(v)))</title></rect>"
            s += "<text x=\"\(n(l + len + 6))\" y=\"\(n(y + 15))\" class=\"tick\">\(escape(label(v)))</text>"
        }
        return s + "</svg>"
    }

    /// A heat map: one cell per value, darker for larger, the value written in the cell.
    static func heatmap(title: String, rowTitle: String, columnTitle: String, rows: [String], columns: [String], values: [[Double?]]) -> String {
        let cell = columns.count > 12 ? 44.0 : 64.0, l = 160.0, t = 60.0
        // Wide enough for the title (about 7 px a character at 13 px).
        let w = max(l + Double(columns.count) * cell + 20, Double(title.count) * 7.5 + 20), h = t + Double(rows.count) * 30 + 20
        let all = values.flatMap { $0 }.compactMap { $0 }.filter(\.isFinite)
        let lo = all.min() ?? 0, hi = all.max() ?? 1
        var s = "<svg class=\"chart heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(w))\" height=\"\(n(h))\" viewBox=\"0 0 \(n(w)) \(n(h))\" role=\"img\">"
        s += "<title>\(escape(title))</title><text x=\"6\" y=\"18\" class=\"ttl\">\(escape(title))</text>"
        s += "<text x=\"\(n(l + Double(columns.count) * cell / 2))\" y=\"36\" text-anchor=\"middle\" class=\"lbl\">\(escape(columnTitle))</text>"
        s += "<text x=\"6\" y=\"\(n(t - 6))\" class=\"lbl\">\(escape(rowTitle))</text>"
        for (j, c) in columns.enumerated() {
            s += "<text x=\"\(n(l + (Double(j) + 0.5) * cell))\" y=\"\(n(t - 6))\" text-anchor=\"middle\" class=\"tick\">\(escape(c))</text>"
        }
        for (i, rname) in rows.enumerated() {
            let y = t + Double(i) * 30
            s += "<text x=\"\(n(l - 6))\" y=\"\(n(y + 19))\" text-anchor=\"end\" class=\"tick\">\(escape(rname))</text>"
            for j in columns.indices {
                let v = i < values.count && j < values[i].count ? values[i][j] : nil
                let x = l + Double(j) * cell
                guard let v, v.isFinite else {
                    s += "<rect class=\"cell empty\" x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(cell - 2))\" height=\"28\"/>"
                    continue
                }
                let f = hi > lo ? (v - lo) / (hi - lo) : 1
                // White to dark blue; text turns white on dark cells.
                let rgb = (Int(247 - f * (247 - 8)), Int(251 - f * (251 - 48)), Int(255 - f * (255 - 107)))
                s += "<rect class=\"cell\" x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(cell - 2))\" height=\"28\" fill=\"rgb(\(rgb.0),\(rgb.1),\(rgb.2))\">"
                s += "<title>\(escape(rname)), \(escape(columns[j])): \(escape(label(v)))</title></rect>"
                s += "<text x=\"\(n(x + cell / 2 - 1))\" y=\"\(n(y + 18))\" text-anchor=\"middle\" class=\"cellv\" fill=\"\(f > 0.55 ? "#fff" : "#111")\">\(escape(label(v)))</text>"
            }
        }
        return s + "</svg>"
    }

    /// An HTML table (escaped).
    static func table(header: [String], rows: [[String]], numericFrom: Int = 1) -> String {
        var s = "<table><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in rows {
            s += "<tr>" + r.enumerated().map { $0.offset >= numericFrom ? "<td class=\"num\">\(escape($0.element))</td>" : "<td>\(escape($0.element))</td>" }.joined() + "</tr>"
        }
        return s + "</tbody></table>"
    }
}
