import EscuchaCore
import Foundation

extension EarlyWarningReport {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static let palette = ["#d62728", "#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#7f7f7f"]

    /// A self-contained bulletin: inline CSS and SVG, no scripts, no external resources.
    func renderHTML() -> String {
        let e = Self.escape
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Early-warning bulletin \(e(from)) – \(e(to))</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #c00;padding-bottom:3px}
            .meta{color:#555;font-size:13px}table{border-collapse:collapse;font-size:13px;margin:6px 0}
            th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th:first-child,td:first-child{text-align:left}
            th{background:#f4f4f4}.kpi{display:inline-block;border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:4px 8px 4px 0}
            .kpi b{display:block;font-size:20px}.open{color:#c00;font-weight:bold}.verified{color:#2a7}.discarded{color:#888}
            svg text{font-family:inherit}
            </style></head><body>
            <h1>Early-warning bulletin</h1>
            <div class="meta">\(e(from)) – \(e(to))\(location.map { " · " + e($0) } ?? "") · by \(granularity.rawValue) ·
            counts below \(k) shown as &lt;\(k)\(cleared ? " · cleared reader" : " · restricted flags folded into “sensitive”")</div>

            """
        let a = accountability
        html += "<div>"
        for (label, value) in [
            ("tickets", tickets.text), ("alerts", String(alerts.count)),
            ("acknowledged in time", Self.percent(a.acknowledgedInTime)),
            ("median first response", Self.hours(a.medianHoursToFirstResponse)),
            ("median resolution", Self.hours(a.medianHoursToResolution)),
            ("closed with message", Self.percent(a.closedWithMessage)),
            ("alerts verified ≤ 24 h", Self.percent(a.alertsVerifiedWithin24h)),
        ] {
            html += "<span class=\"kpi\">\(e(label))<b>\(e(value))</b></span>"
        }
        html += "</div>\n"

        html += "<h2>Alerts</h2>\n"
        if alerts.isEmpty {
            html += "<p>No alerts in the period.</p>\n"
        } else {
            html += alertChart()
            html += "<table><tr><th>id</th><th>period</th><th>location</th><th>family</th><th>count</th><th>expected</th><th>C1</th><th>C2</th><th>C3</th><th>p</th><th>status</th></tr>\n"
            for alert in alerts {
                html += "<tr><td>\(alert.id)</td><td>\(e(alert.periodStart))</td><td>\(e(alert.location))</td><td>\(e(alert.family))</td>"
                html += "<td>\(e(alert.observed.text))</td><td>\(String(format: "%.1f", alert.expected))</td>"
                html += "<td>\(Self.stat(alert.c1))</td><td>\(Self.stat(alert.c2))</td><td>\(Self.stat(alert.c3))</td>"
                html += "<td>\(Self.pValue(alert.pValue))</td><td class=\"\(e(alert.status))\">\(e(alert.status))</td></tr>\n"
                for example in alert.examples { html += "<tr><td></td><td colspan=\"10\"><i>“\(e(example))”</i></td></tr>\n" }
            }
            html += "</table>\n"
        }

        html += "<h2>Flags by family and \(granularity.rawValue)</h2>\n" + trendChart()
        html += "<h2>Location × family</h2>\n" + heatMap()

        func lineTable(_ title: String, _ lines: [Line]) {
            guard !lines.isEmpty else { return }
            html += "<h2>\(e(title))</h2>\n<table><tr><th></th><th>tickets</th><th>baseline</th><th>trend</th></tr>\n"
            for line in lines {
                html += "<tr><td>\(e(line.key))</td><td>\(e(line.count.text))</td>"
                html += "<td>\(line.baseline.map { String(format: "%.1f", $0) } ?? "–")</td>"
                html += "<td>\(line.trend.map { String(format: "%+.0f %%", $0) } ?? "–")</td></tr>\n"
            }
            html += "</table>\n"
        }
        lineTable("Flags by code", byFlag)
        html += "<h2>Emerging terms</h2>\n"
        if emergingTerms.isEmpty {
            html += "<p>None.</p>\n"
        } else {
            html += "<table><tr><th>term</th><th>tickets</th><th>baseline</th><th>ratio</th></tr>\n"
            for term in emergingTerms {
                html += "<tr><td>\(e(term.term))</td><td>\(term.current)</td><td>\(e(Disclosure.text(term.baseline, k: k)))</td><td>×\(String(format: "%.1f", term.ratio))</td></tr>\n"
            }
            html += "</table>\n"
        }
        lineTable("Overdue open tickets by team", a.overdueByTeam)
        lineTable("By channel", byChannel)
        lineTable("By type", byType)
        lineTable("By sector", bySector)
        lineTable("By language", byLanguage)
        html += "<p class=\"meta\">Generated \(e(ISO8601DateFormatter().string(from: generatedAt))) by Escucha. Aggregates only; no personal data.</p>\n</body></html>\n"
        return html
    }

    /// Lines per family over the periods (hidden counts drawn as gaps).
    func trendChart() -> String {
        let grid = familyTrend
        let width = 760.0, height = 260.0, left = 44.0, right = 150.0, top = 12.0, bottom = 30.0
        let columns = max(1, grid.columns.count)
        let maxValue = max(1, grid.shade.flatMap { $0 }.max() ?? 1)
        func x(_ c: Int) -> Double { left + (columns == 1 ? 0 : Double(c) / Double(columns - 1)) * (width - left - right) }
        func y(_ v: Int) -> Double { top + (1 - Double(v) / Double(maxValue)) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"Flags by family over time\">\n"
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - right)\" y2=\"\(y(0))\" stroke=\"#999\"/>"
        svg += "<text x=\"4\" y=\"\(y(maxValue) + 4)\" font-size=\"11\">\(maxValue)</text><text x=\"4\" y=\"\(y(0))\" font-size=\"11\">0</text>\n"
        for (c, label) in grid.columns.enumerated() where columns <= 12 || c % max(1, columns / 8) == 0 {
            svg += "<text x=\"\(x(c))\" y=\"\(height - 10)\" font-size=\"10\" text-anchor=\"middle\">\(Self.escape(String(label.dropFirst(5))))</text>"
        }
        for (r, family) in grid.rows.enumerated() {
            let colour = Self.palette[r % Self.palette.count]
            var path = ""
            var pen = false
            for c in grid.columns.indices {
                if let value = grid.cells[r][c].value {
                    path += "\(pen ? "L" : "M")\(String(format: "%.1f", x(c))),\(String(format: "%.1f", y(value))) "
                    pen = true
                } else {
                    pen = false
                }
            }
            if !path.isEmpty {
                svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
            svg += "<rect x=\"\(width - right + 12)\" y=\"\(top + Double(r) * 18)\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
            svg += "<text x=\"\(width - right + 26)\" y=\"\(top + Double(r) * 18 + 9)\" font-size=\"12\">\(Self.escape(family))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Locations × families, shaded by count; hidden cells hatched grey with `<k`.
    func heatMap() -> String {
        let grid = locationFamily
        guard !grid.rows.isEmpty else { return "<p>No flagged tickets in the period.</p>\n" }
        let cellW = 92.0, cellH = 22.0, left = 190.0, top = 26.0
        let width = left + cellW * Double(grid.columns.count) + 10
        let height = top + cellH * Double(grid.rows.count) + 10
        let maxValue = max(1, grid.shade.flatMap { $0 }.max() ?? 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"Flags by location and family\">\n"
        for (c, family) in grid.columns.enumerated() {
            svg += "<text x=\"\(left + cellW * (Double(c) + 0.5))\" y=\"16\" font-size=\"12\" text-anchor=\"middle\">\(Self.escape(family))</text>"
        }
        for (r, loc) in grid.rows.enumerated() {
            let y = top + cellH * Double(r)
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 15)\" font-size=\"12\" text-anchor=\"end\">\(Self.escape(loc))</text>"
            for c in grid.columns.indices {
                let x = left + cellW * Double(c)
                let cell = grid.cells[r][c]
                let fill: String
                if cell.value == nil {
                    fill = "#e0e0e0"
                } else {
                    let t = Double(grid.shade[r][c]) / Double(maxValue)
                    let g = Int(245 - 180 * t), b = Int(240 - 200 * t)
                    fill = "rgb(250,\(g),\(b))"
                }
                svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cellW - 2)\" height=\"\(cellH - 2)\" fill=\"\(fill)\"/>"
                svg += "<text x=\"\(x + cellW / 2 - 1)\" y=\"\(y + 15)\" font-size=\"11\" text-anchor=\"middle\">\(Self.escape(cell.text))</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    /// Alerts as dots: period on x, location on y, size by count, colour by status.
    func alertChart() -> String {
        let periods = Array(Set(alerts.map(\.periodStart))).sorted()
        let locations = Array(Set(alerts.map(\.location))).sorted()
        let left = 190.0, top = 10.0, rowH = 22.0, width = 760.0
        let height = top + rowH * Double(locations.count) + 28
        func x(_ p: String) -> Double {
            let i = periods.firstIndex(of: p) ?? 0
            return left + 20 + (periods.count == 1 ? 0 : Double(i) / Double(periods.count - 1)) * (width - left - 60)
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"Alerts by place and period\">\n"
        for (i, loc) in locations.enumerated() {
            svg += "<text x=\"\(left - 6)\" y=\"\(top + rowH * Double(i) + 14)\" font-size=\"12\" text-anchor=\"end\">\(Self.escape(loc))</text>"
            svg += "<line x1=\"\(left)\" y1=\"\(top + rowH * Double(i) + 10)\" x2=\"\(width - 20)\" y2=\"\(top + rowH * Double(i) + 10)\" stroke=\"#eee\"/>\n"
        }
        for alert in alerts {
            let row = Double(locations.firstIndex(of: alert.location) ?? 0)
            let colour = alert.status == "verified" ? "#2a7" : alert.status == "discarded" ? "#aaa" : "#c00"
            svg += "<circle cx=\"\(x(alert.periodStart))\" cy=\"\(top + rowH * row + 10)\" r=\"7\" fill=\"\(colour)\" fill-opacity=\"0.8\"><title>\(Self.escape(alert.family)) \(Self.escape(alert.periodStart))</title></circle>\n"
        }
        for p in [periods.first, periods.last].compactMap({ $0 }) {
            svg += "<text x=\"\(x(p))\" y=\"\(height - 6)\" font-size=\"10\" text-anchor=\"middle\">\(Self.escape(p))</text>"
        }
        return svg + "</svg>\n"
    }
}
