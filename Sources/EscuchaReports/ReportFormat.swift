import EscuchaCore
import Foundation

/// The output formats of a report.
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, markdown, csv, json, html
}

extension EarlyWarningReport {
    /// The report rendered in `format`.
    public func rendered(as format: ReportFormat) throws -> String {
        switch format {
        case .table: renderText(markdown: false)
        case .markdown: renderText(markdown: true)
        case .csv: renderCSV()
        case .json: try renderJSON()
        case .html: renderHTML()
        }
    }

    // MARK: Text and Markdown

    static func percent(_ share: Double?) -> String { share.map { String(format: "%.0f %%", $0 * 100) } ?? "–" }
    static func hours(_ value: Double?) -> String { value.map { String(format: "%.1f h", $0) } ?? "–" }
    static func stat(_ value: Double?) -> String {
        guard let value else { return "–" }
        return value >= 999 ? "∞" : String(format: "%.1f", value)
    }
    static func pValue(_ p: Double) -> String { p < 0.0001 ? "<0.0001" : String(format: "%.4f", p) }

    func renderText(markdown: Bool) -> String {
        var out = ""
        func heading(_ text: String) {
            out += markdown ? "\n## \(text)\n\n" : "\n\(text)\n\(String(repeating: "─", count: text.count))\n"
        }
        func table(_ header: [String], _ rows: [[String]]) {
            if markdown {
                out += "| " + header.joined(separator: " | ") + " |\n"
                out += "|" + header.indices.map { $0 == 0 ? "---" : "---:" }.joined(separator: "|") + "|\n"
                for row in rows { out += "| " + row.joined(separator: " | ") + " |\n" }
            } else {
                let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
                func line(_ cells: [String]) -> String {
                    cells.enumerated().map { c, text in
                        let pad = String(repeating: " ", count: widths[c] - text.count)
                        return c == 0 ? text + pad : pad + text
                    }.joined(separator: "  ")
                }
                out += line(header) + "\n"
                for row in rows { out += line(row) + "\n" }
            }
        }
        func lineTable(_ title: String, _ lines: [Line]) {
            guard !lines.isEmpty else { return }
            heading(title)
            table(
                ["", "tickets", "baseline", "trend"],
                lines.map { [$0.key, $0.count.text, $0.baseline.map { String(format: "%.1f", $0) } ?? "–", $0.trend.map { String(format: "%+.0f %%", $0) } ?? "–"] })
        }
        func grid(_ title: String, _ grid: Grid) {
            guard !grid.rows.isEmpty else { return }
            heading(title)
            table(
                [""] + grid.columns + ["total"],
                grid.rows.indices.map { r in [grid.rows[r]] + grid.cells[r].map(\.text) + [grid.rowTotals[r].text] }
                    + [["total"] + grid.columnTotals.map(\.text) + [grid.total.text]])
        }
        let title = "Early-warning summary \(from) – \(to)" + (location.map { " · \($0)" } ?? "")
        out += markdown ? "# \(title)\n\n" : "\(title)\n"
        out += (markdown ? "" : "") + "Tickets: \(tickets.text) · by \(granularity.rawValue) · counts below \(k) shown as <\(k)"
            + (cleared ? " · cleared reader" : " · restricted flags folded into \"sensitive\"") + "\n"

        heading("Alerts")
        if alerts.isEmpty {
            out += "No alerts in the period.\n"
        } else {
            table(
                ["id", "period", "location", "family", "count", "expected", "C1", "C2", "C3", "p", "methods", "status"],
                alerts.map {
                    [String($0.id), $0.periodStart, $0.location, $0.family, $0.observed.text, String(format: "%.1f", $0.expected),
                     Self.stat($0.c1), Self.stat($0.c2), Self.stat($0.c3), Self.pValue($0.pValue), $0.methods.joined(separator: "+"), $0.status]
                })
            for alert in alerts where !alert.examples.isEmpty {
                out += "\nExamples for alert \(alert.id) (redacted):\n"
                for example in alert.examples { out += (markdown ? "> " : "  “") + example + (markdown ? "\n" : "”\n") }
            }
        }
        lineTable("Flags by family", byFamily)
        lineTable("Flags by code", byFlag)
        grid("Location × family", locationFamily)
        grid("Families by \(granularity.rawValue)", familyTrend)
        heading("Emerging terms")
        if emergingTerms.isEmpty {
            out += "None.\n"
        } else {
            table(
                ["term", "tickets", "baseline", "ratio", "p"],
                emergingTerms.map { [$0.term, String($0.current), Disclosure.text($0.baseline, k: k), String(format: "×%.1f", $0.ratio), Self.pValue($0.pValue)] })
        }
        heading("Accountability")
        let a = accountability
        table(
            ["indicator", "value"],
            [
                ["acknowledged within deadline", Self.percent(a.acknowledgedInTime)],
                ["acknowledged in time / late / not yet", "\(a.acknowledgedWithin.text) / \(a.acknowledgedLate.text) / \(a.notAcknowledged.text)"],
                ["median time to first response", Self.hours(a.medianHoursToFirstResponse)],
                ["median time to resolution", Self.hours(a.medianHoursToResolution)],
                ["closed with a message back", Self.percent(a.closedWithMessage)],
                ["alerts verified within 24 h (target 90 %)", Self.percent(a.alertsVerifiedWithin24h) + " of \(a.alertsTotal)"],
            ])
        lineTable("Overdue open tickets by team", a.overdueByTeam)
        lineTable("By channel", byChannel)
        lineTable("By type", byType)
        lineTable("By sector", bySector)
        lineTable("By language", byLanguage)
        return out
    }

    // MARK: JSON

    func renderJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    // MARK: CSV with HXL

    /// Long format, one indicator value a row, with an HXL hashtag row under the header.
    func renderCSV() -> String {
        var rows: [[String]] = [
            ["date", "end_date", "country", "adm1", "adm2", "location", "sector", "indicator", "category", "value"],
            ["#date+start", "#date+end", "#country+code", "#adm1+code", "#adm2+code", "#loc+name", "#sector", "#indicator+code",
             "#indicator+category", "#indicator+value+num"],
        ]
        func add(date: String = "", end: String = "", location: String = "", sector: String = "", indicator: String, category: String = "", value: String) {
            let codes = places[location]
            rows.append([
                date.isEmpty ? from : date, end.isEmpty ? to : end, codes?.country ?? "", codes?.admin1 ?? "", codes?.admin2 ?? "",
                location, sector, indicator, category, value,
            ])
        }
        add(indicator: "tickets", value: tickets.text)
        for line in byChannel { add(indicator: "tickets_by_channel", category: line.key, value: line.count.text) }
        for line in byType { add(indicator: "tickets_by_type", category: line.key, value: line.count.text) }
        for line in bySector { add(sector: line.key, indicator: "tickets_by_sector", value: line.count.text) }
        for line in byLanguage { add(indicator: "tickets_by_language", category: line.key, value: line.count.text) }
        for line in byFamily { add(indicator: "flags_by_family", category: line.key, value: line.count.text) }
        for line in byFlag { add(indicator: "flags_by_code", category: line.key, value: line.count.text) }
        for (r, loc) in locationFamily.rows.enumerated() {
            for (c, family) in locationFamily.columns.enumerated() {
                add(location: loc, indicator: "flags_by_location_family", category: family, value: locationFamily.cells[r][c].text)
            }
        }
        let step = granularity.days - 1
        for (r, family) in familyTrend.rows.enumerated() {
            for (c, period) in familyTrend.columns.enumerated() {
                let end = ReportCalendar.parse(period).map { ReportCalendar.format(ReportCalendar.adding(days: step, to: $0)) } ?? period
                add(date: period, end: end, indicator: "flags_by_family_period", category: family, value: familyTrend.cells[r][c].text)
            }
        }
        for alert in alerts {
            add(date: alert.periodStart, location: alert.location, indicator: "alert", category: alert.family, value: alert.observed.text)
        }
        let a = accountability
        add(indicator: "share_acknowledged_in_time", value: a.acknowledgedInTime.map { String(format: "%.3f", $0) } ?? "")
        add(indicator: "median_hours_first_response", value: a.medianHoursToFirstResponse.map { String(format: "%.2f", $0) } ?? "")
        add(indicator: "median_hours_resolution", value: a.medianHoursToResolution.map { String(format: "%.2f", $0) } ?? "")
        add(indicator: "share_closed_with_message", value: a.closedWithMessage.map { String(format: "%.3f", $0) } ?? "")
        add(indicator: "share_alerts_verified_24h", value: a.alertsVerifiedWithin24h.map { String(format: "%.3f", $0) } ?? "")
        for line in a.overdueByTeam { add(indicator: "overdue_by_team", category: line.key, value: line.count.text) }
        return rows.map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ text: String) -> String {
        // Quote when needed; a leading = + - @ is prefixed so spreadsheets do not run it.
        var value = text
        if let first = value.first, "=+@".contains(first) || (first == "-" && Double(value) == nil) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }
}
