import EscuchaChannels
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation

/// The officers' triage console: a queue sorted by urgency, a ticket screen, and actions
/// that go through `OfficerDesk` (row-level security, audit). One thread runs it: curses and
/// the connection are used from the loop only.
public final class ConsoleApp {
    /// What opens, and how.
    public struct Settings: Sendable {
        /// Rows fetched per page of the queue.
        public var pageSize = 200
        public var resolutionCodes: [String] = []
        /// A ticket to open first (`--ticket REF`, as escalation notices say).
        public var openReference: String?

        public init() {}
    }

    let terminal = Terminal()
    let connection: PGConnection
    let desk: OfficerDesk
    let data: ConsoleData
    let profile: OfficerProfile
    let strings: ConsoleStrings
    let settings: Settings
    let clock: @Sendable () -> Date
    let timeFormatter: DateFormatter

    // Queue state.
    var filter = QueueFilter()
    var rows: [QueueRow] = []
    var exhausted = false
    var total = 0
    var hidden = HiddenTickets(count: 0, overdue: 0)
    var cursor = 0
    var top = 0

    // Ticket screen state.
    var ticket: TicketDetail?
    var ticketScroll = 0
    var revealedContact: String?

    var overlay: Overlay?
    var status: (text: String, style: RunStyle)?
    var running = true
    var pendingCorrection: (type: String, flags: [String])?
    var pendingEscalation: String?
    var pendingResolution: String?
    var pendingReferral: (service: ReferralService, organisation: String)?

    public init(
        connection: PGConnection, desk: OfficerDesk, profile: OfficerProfile, strings: ConsoleStrings, settings: Settings = Settings(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.connection = connection
        self.desk = desk
        self.profile = profile
        self.data = ConsoleData(desk: desk, officerID: profile.id)
        self.strings = strings
        self.settings = settings
        self.clock = clock
        timeFormatter = DateFormatter()
        timeFormatter.locale = Locale(identifier: "en_US_POSIX")
        timeFormatter.dateFormat = "yyyy-MM-dd HH:mm"
    }

    /// Runs until the officer quits. The terminal is restored whatever happens.
    public func run() throws {
        try terminal.start()
        defer { terminal.stop() }
        try connection.listen(to: "escucha_queue")
        reload(keeping: nil)
        if let typed = settings.openReference { openFirst(typed) }
        while running {
            draw()
            if terminal.terminationRequested { break }
            if let key = terminal.readKey(timeoutMilliseconds: 250) {
                handle(key)
            } else {
                // The screen is redrawn every turn, so ages and deadlines stay current.
                pollNotifications()
            }
        }
    }

    // MARK: - Data

    /// Reloads the queue from the top, as many rows as were loaded, with the cursor on the
    /// same ticket when it is still there.
    func reload(keeping id: Int64?) {
        do {
            let wanted = max(settings.pageSize, rows.count)
            let fresh = try data.queue(filter, after: nil, limit: wanted, on: connection)
            exhausted = fresh.count < wanted
            rows = fresh
            total = try data.count(filter, on: connection)
            hidden = try data.hidden(now: clock(), on: connection)
            if let id, let index = rows.firstIndex(where: { $0.id == id }) { cursor = index }
            cursor = min(cursor, max(rows.count - 1, 0))
            if let shown = ticket {
                ticket = try data.detail(ticketID: shown.id, recordView: false, on: connection)
            }
        } catch {
            report(error)
        }
    }

    func loadMoreIfNeeded() {
        guard !exhausted, cursor >= rows.count - 1, let last = rows.last else { return }
        do {
            let more = try data.queue(filter, after: last.key, limit: settings.pageSize, on: connection)
            exhausted = more.count < settings.pageSize
            rows += more
        } catch {
            report(error)
        }
    }

    func pollNotifications() {
        do {
            let received = try connection.waitForNotifications(timeoutMilliseconds: 0)
            if !received.isEmpty { reload(keeping: currentRow?.id) }
        } catch {
            report(error)
            try? connection.reset()
            try? connection.listen(to: "escucha_queue")
        }
    }

    var currentRow: QueueRow? { rows.indices.contains(cursor) ? rows[cursor] : nil }

    /// The ticket the actions apply to: the one shown, else the one under the cursor.
    var targetTicketID: Int64? { ticket?.id ?? currentRow?.id }
    var targetReference: String { ticket?.reference ?? currentRow?.reference ?? "" }

    func report(_ error: any Error) {
        status = (strings["error"] + ": " + String(describing: error), .alert)
    }

    func say(_ key: String, _ values: [String: String] = [:]) {
        status = (strings.format(key, values), .good)
    }

    /// Runs an action on the target ticket, reports the outcome and reloads.
    func act(_ done: String, _ body: (Int64) throws -> Void) {
        guard let id = targetTicketID else {
            status = (strings["no_ticket"], .warning)
            return
        }
        do {
            try body(id)
            say(done, ["reference": targetReference])
        } catch {
            report(error)
        }
        reload(keeping: id)
    }

    // MARK: - Keys

    func handle(_ key: Key) {
        if key == .resize {
            clampScroll()
            return
        }
        if overlay != nil {
            handleOverlay(key)
            return
        }
        status = nil
        if ticket != nil {
            if handleTicketKey(key) { return }
        } else if handleQueueKey(key) {
            return
        }
        handleAction(key)
    }

    var listHeight: Int { max(terminal.rows - 4, 1) }

    func handleQueueKey(_ key: Key) -> Bool {
        switch key {
        case .down, .character("j"): move(by: 1)
        case .up, .character("k"): move(by: -1)
        case .pageDown, .character(" "), .control("f"): move(by: listHeight)
        case .pageUp, .control("b"): move(by: -listHeight)
        case .home, .character("g"): move(by: -cursor)
        case .end, .character("G"): move(by: rows.count)
        case .enter, .character("l"), .right: open()
        case .character("q"): running = false
        case .character("/"): overlay = .prompt(Prompt(kind: .search, title: strings["prompt.search"], editor: LineEditor(filter.search ?? "")))
        case .character("f"): overlay = .picker(filterMenu())
        case .character("m"):
            filter.mine.toggle()
            if filter.mine { filter.unassigned = false }
            applyFilter()
        case .character("u"):
            filter.unassigned.toggle()
            if filter.unassigned { filter.mine = false }
            applyFilter()
        case .character("s"):
            let all = QueueFilter.Scope.allCases
            filter.scope = all[(all.firstIndex(of: filter.scope)! + 1) % all.count]
            applyFilter()
        case .character("x"):
            filter = QueueFilter()
            applyFilter()
        case .control("l"): reload(keeping: currentRow?.id)
        default: return false
        }
        return true
    }

    func handleTicketKey(_ key: Key) -> Bool {
        switch key {
        case .down, .character("j"): ticketScroll += 1
        case .up, .character("k"): ticketScroll -= 1
        case .pageDown, .character(" "), .control("f"): ticketScroll += listHeight
        case .pageUp, .control("b"): ticketScroll -= listHeight
        case .home, .character("g"): ticketScroll = 0
        case .character("q"), .escape, .left, .character("h"):
            ticket = nil
            revealedContact = nil
        case .character("v"):
            guard let id = ticket?.id else { return true }
            do {
                revealedContact = try desk.revealContact(ticketID: id, on: connection)
                say("done.revealed")
                ticket = try data.detail(ticketID: id, recordView: false, on: connection)
            } catch {
                report(error)
            }
        case .control("l"): reload(keeping: ticket?.id)
        default: return false
        }
        clampScroll()
        return true
    }

    /// Keys that work on the queue and on the ticket screen alike.
    func handleAction(_ key: Key) {
        let now = clock()
        switch key {
        case .character("?"): overlay = .help
        case .character("a"):
            act("done.assigned_me") { id in try desk.assign(ticketID: id, to: profile.login, now: now, on: connection) }
        case .character("A"):
            do {
                let officers = try data.officers(on: connection)
                overlay = .picker(
                    Picker(kind: .assignee, title: strings["picker.assignee"], options: [("", strings["nobody"])] + officers.map { ($0, $0) }))
            } catch {
                report(error)
            }
        case .character("t"):
            overlay = .picker(
                Picker(kind: .status, title: strings["picker.status"], options: OfficerDesk.settableStatuses.map { ($0, strings["status.\($0)"]) }))
        case .character("n"):
            guard targetTicketID != nil else { return }
            overlay = .prompt(Prompt(kind: .note, title: strings["prompt.note"]))
        case .character("r"):
            guard targetTicketID != nil else { return }
            overlay = .prompt(Prompt(kind: .reply, title: strings["prompt.reply"]))
        case .character("L"):
            guard targetTicketID != nil else { return }
            overlay = .picker(Picker(kind: .correctType, title: strings["picker.type"], options: desk.taxonomy.types.map { ($0, $0) }))
        case .character("e"):
            do {
                overlay = .picker(Picker(kind: .escalateTeam, title: strings["picker.team"], options: try data.teams(on: connection).map { ($0, $0) }))
            } catch {
                report(error)
            }
        case .character("R"):
            overlay = .picker(
                Picker(kind: .resolution, title: strings["picker.resolution"], options: settings.resolutionCodes.map { ($0, strings["resolution.\($0)"]) }))
        case .character("C"):
            overlay = .picker(Picker(kind: .closeLoop, title: strings["picker.close_loop"], options: [("yes", strings["answer.yes"]), ("no", strings["answer.no"])]))
        case .character("F"):
            guard targetTicketID != nil else { return }
            overlay = .picker(
                Picker(kind: .referService, title: strings["picker.service"], options: ReferralService.allCases.map { ($0.rawValue, strings["service.\($0.rawValue)"]) }))
        case .character("q"), .control("c"): running = false
        default:
            status = (strings["unknown_key"], .warning)
        }
    }

    func move(by delta: Int) {
        guard !rows.isEmpty else { return }
        cursor = max(0, min(cursor + delta, rows.count - 1))
        if delta > 0 {
            loadMoreIfNeeded()
            if cursor + delta > rows.count - 1 { cursor = max(0, min(cursor, rows.count - 1)) }
        }
    }

    func open() {
        guard let row = currentRow else { return }
        do {
            ticket = try data.detail(ticketID: row.id, recordView: true, on: connection)
            ticketScroll = 0
            revealedContact = nil
        } catch {
            report(error)
        }
    }

    func openFirst(_ typed: String) {
        do {
            guard let reference = TicketReference.normalise(typed), let id = try data.ticketID(reference: reference, on: connection) else {
                status = (strings.format("no_such_ticket", ["reference": typed]), .alert)
                return
            }
            ticket = try data.detail(ticketID: id, recordView: true, on: connection)
        } catch {
            report(error)
        }
    }

    func applyFilter() {
        rows = []
        cursor = 0
        top = 0
        reload(keeping: nil)
    }

    func clampScroll() {
        ticketScroll = max(0, min(ticketScroll, max(ticketLines().count - listHeight, 0)))
    }

    // MARK: - Overlays

    enum Overlay {
        case help
        case prompt(Prompt)
        case picker(Picker)
    }

    struct Prompt {
        enum Kind {
            case search, note, reply, filterFlag, filterChannel, filterLocation, correctFlags, correctSectors, escalateReason, resolutionNote
            case referOrganisation, referOverrideReason
        }
        var kind: Kind
        var title: String
        var editor = LineEditor()
        var templateIndex = -1
    }

    struct Picker {
        enum Kind {
            case assignee, status, correctType, escalateTeam, resolution, closeLoop, filterMenu, filterSeverity, filterStatus
            case referService, referConsent
        }
        var kind: Kind
        var title: String
        var options: [(value: String, label: String)]
        var index = 0
    }

    func filterMenu() -> Picker {
        Picker(
            kind: .filterMenu, title: strings["picker.filter"],
            options: [
                ("flag", strings["filter.flag"]), ("status", strings["filter.status"]), ("severity", strings["filter.severity"]), ("channel", strings["filter.channel"]),
                ("location", strings["filter.location"]), ("scope", strings["filter.scope"]), ("mine", strings["filter.mine"]),
                ("unassigned", strings["filter.unassigned"]), ("clear", strings["filter.clear"]),
            ])
    }

    func handleOverlay(_ key: Key) {
        switch overlay {
        case .help:
            overlay = nil
        case .prompt(var prompt):
            switch key {
            case .escape, .control("c"), .control("g"):
                overlay = nil
                pendingCorrection = nil
                pendingEscalation = nil
                pendingResolution = nil
                pendingReferral = nil
                status = (strings["cancelled"], .dim)
            case .enter:
                overlay = nil
                submit(prompt)
            case .backspace: prompt.editor.backspace(); overlay = .prompt(prompt)
            case .delete, .control("d"): prompt.editor.deleteForward(); overlay = .prompt(prompt)
            case .left, .control("b"): prompt.editor.moveLeft(); overlay = .prompt(prompt)
            case .right, .control("f"): prompt.editor.moveRight(); overlay = .prompt(prompt)
            case .home, .control("a"): prompt.editor.moveHome(); overlay = .prompt(prompt)
            case .end, .control("e"): prompt.editor.moveEnd(); overlay = .prompt(prompt)
            case .control("w"): prompt.editor.deleteWord(); overlay = .prompt(prompt)
            case .control("u"): prompt.editor = LineEditor(); overlay = .prompt(prompt)
            case .character("\t") where prompt.kind == .reply:
                let replies = desk.templates.language(ticketLanguage).replies
                if !replies.isEmpty {
                    prompt.templateIndex = (prompt.templateIndex + 1) % replies.count
                    prompt.editor = LineEditor(MessageTemplates.filling(replies[prompt.templateIndex].text, reference: targetReference))
                }
                overlay = .prompt(prompt)
            case .character(let scalar):
                prompt.editor.insert(scalar)
                overlay = .prompt(prompt)
            default: break
            }
        case .picker(var picker):
            switch key {
            case .escape, .character("q"), .control("c"), .control("g"):
                overlay = nil
                pendingCorrection = nil
                status = (strings["cancelled"], .dim)
            case .down, .character("j"): picker.index = min(picker.index + 1, picker.options.count - 1); overlay = .picker(picker)
            case .up, .character("k"): picker.index = max(picker.index - 1, 0); overlay = .picker(picker)
            case .enter:
                overlay = nil
                if picker.options.indices.contains(picker.index) { choose(picker, picker.options[picker.index].value) }
            case .character(let scalar):
                // The first option whose label starts with the typed letter.
                let letter = String(scalar).lowercased()
                if let index = picker.options.firstIndex(where: { $0.label.lowercased().hasPrefix(letter) }) { picker.index = index }
                overlay = .picker(picker)
            default: break
            }
        case nil:
            break
        }
    }

    var ticketLanguage: String? {
        if let ticket { return ticket.language }
        return currentRow?.language
    }

    func submit(_ prompt: Prompt) {
        let text = prompt.editor.text.trimmingCharacters(in: .whitespaces)
        let now = clock()
        switch prompt.kind {
        case .search:
            filter.search = text.isEmpty ? nil : text
            ticket = nil
            applyFilter()
        case .filterFlag:
            filter.flag = text.isEmpty ? nil : text.lowercased()
            applyFilter()
        case .filterChannel:
            filter.channel = text.isEmpty ? nil : text
            applyFilter()
        case .filterLocation:
            filter.location = text.isEmpty ? nil : text
            applyFilter()
        case .note:
            act("done.note") { id in try desk.note(ticketID: id, text: text, now: now, on: connection) }
        case .reply:
            act("done.reply") { id in try desk.reply(ticketID: id, text: text, now: now, on: connection) }
        case .correctFlags:
            guard let type = pendingCorrection?.type else { return }
            pendingCorrection = (type, text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init))
            let current = ticket?.sectors ?? []
            overlay = .prompt(Prompt(kind: .correctSectors, title: strings["prompt.sectors"], editor: LineEditor(current.joined(separator: " "))))
        case .correctSectors:
            guard let correction = pendingCorrection else { return }
            pendingCorrection = nil
            let sectors = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            act("done.corrected") { id in
                try desk.correct(ticketID: id, type: correction.type, flags: correction.flags, sectors: sectors, now: now, on: connection)
            }
        case .escalateReason:
            guard let team = pendingEscalation else { return }
            pendingEscalation = nil
            act("done.escalated") { id in try desk.escalate(ticketID: id, to: team, reason: text, now: now, on: connection) }
        case .referOrganisation:
            guard let service = pendingReferral?.service else { return }
            pendingReferral = (service, text)
            overlay = .picker(
                Picker(kind: .referConsent, title: strings["picker.consent"], options: [("given", strings["consent.given"]), ("overridden", strings["consent.overridden"])]))
        case .referOverrideReason:
            guard let referral = pendingReferral else { return }
            pendingReferral = nil
            act("done.referred") { id in
                try desk.refer(
                    ticketID: id, organisation: referral.organisation, service: referral.service, consent: .overridden(reason: text), now: now,
                    on: connection)
            }
        case .resolutionNote:
            guard let code = pendingResolution else { return }
            pendingResolution = nil
            act("done.resolved") { id in try desk.resolve(ticketID: id, code: code, note: text, now: now, on: connection) }
        }
    }

    func choose(_ picker: Picker, _ value: String) {
        let now = clock()
        switch picker.kind {
        case .assignee:
            act("done.assigned") { id in try desk.assign(ticketID: id, to: value.isEmpty ? nil : value, now: now, on: connection) }
        case .status:
            act("done.status") { id in try desk.setStatus(ticketID: id, to: value, now: now, on: connection) }
        case .correctType:
            pendingCorrection = (value, [])
            let current = ticket?.flags ?? currentRow?.flags ?? []
            overlay = .prompt(Prompt(kind: .correctFlags, title: strings["prompt.flags"], editor: LineEditor(current.joined(separator: " "))))
        case .escalateTeam:
            pendingEscalation = value
            overlay = .prompt(Prompt(kind: .escalateReason, title: strings["prompt.reason"]))
        case .resolution:
            pendingResolution = value
            overlay = .prompt(Prompt(kind: .resolutionNote, title: strings["prompt.resolution_note"]))
        case .closeLoop:
            guard value == "yes", let id = targetTicketID else { return }
            do {
                switch try desk.closeLoop(ticketID: id, now: now, on: connection) {
                case .messageQueued: say("done.closed_loop", ["reference": targetReference])
                case .closedWithoutMessage(let why): status = (strings["done.closed_silently"] + ": " + why, .warning)
                }
            } catch {
                report(error)
            }
            reload(keeping: id)
        case .filterMenu:
            switch value {
            case "flag": overlay = .prompt(Prompt(kind: .filterFlag, title: strings["prompt.filter_flag"], editor: LineEditor(filter.flag ?? "")))
            case "channel":
                overlay = .prompt(Prompt(kind: .filterChannel, title: strings["prompt.filter_channel"], editor: LineEditor(filter.channel ?? "")))
            case "location":
                overlay = .prompt(Prompt(kind: .filterLocation, title: strings["prompt.filter_location"], editor: LineEditor(filter.location ?? "")))
            case "severity":
                overlay = .picker(
                    Picker(
                        kind: .filterSeverity, title: strings["filter.severity"],
                        options: [("", strings["any"])] + Severity.allCases.reversed().map { ($0.rawValue, $0.rawValue) }))
            case "status":
                let statuses = ["new", "open", "pending", "escalated", "resolved", "closed"]
                overlay = .picker(
                    Picker(kind: .filterStatus, title: strings["filter.status"], options: [("", strings["any"])] + statuses.map { ($0, strings["status.\($0)"]) }))
            case "scope":
                let all = QueueFilter.Scope.allCases
                filter.scope = all[(all.firstIndex(of: filter.scope)! + 1) % all.count]
                applyFilter()
            case "mine":
                filter.mine.toggle()
                if filter.mine { filter.unassigned = false }
                applyFilter()
            case "unassigned":
                filter.unassigned.toggle()
                if filter.unassigned { filter.mine = false }
                applyFilter()
            default:
                filter = QueueFilter()
                applyFilter()
            }
        case .filterSeverity:
            filter.minimumSeverity = Severity(rawValue: value)
            applyFilter()
        case .referService:
            guard let service = ReferralService(rawValue: value) else { return }
            pendingReferral = (service, "")
            overlay = .prompt(Prompt(kind: .referOrganisation, title: strings["prompt.organisation"]))
        case .referConsent:
            guard let referral = pendingReferral else { return }
            if value == "overridden" {
                overlay = .prompt(Prompt(kind: .referOverrideReason, title: strings["prompt.override_reason"]))
                return
            }
            pendingReferral = nil
            act("done.referred") { id in
                try desk.refer(ticketID: id, organisation: referral.organisation, service: referral.service, consent: .given, now: now, on: connection)
            }
        case .filterStatus:
            filter.status = value.isEmpty ? nil : value
            // An exact status is searched among all tickets, resolved and closed included.
            if filter.status != nil { filter.scope = .all }
            applyFilter()
        }
    }

    // MARK: - Drawing

    func draw() {
        terminal.erase()
        terminal.hideCursor()
        if ticket != nil { drawTicket() } else { drawQueue() }
        drawBottom()
        switch overlay {
        case .help: drawHelp()
        case .picker(let picker): drawPicker(picker)
        default: break
        }
        if case .prompt(let prompt) = overlay { drawPrompt(prompt) }
        terminal.refresh()
    }

    func drawQueue() {
        let now = clock()
        var header = "Escucha · \(profile.login)"
        if let team = profile.team { header += " (\(team))" }
        header += " · " + filter.summary(strings) + " · " + strings.format("tickets_count", ["count": String(total)])
        var runs = [StyledRun(" " + header + " ")]
        if hidden.count > 0 {
            runs.append(StyledRun(strings.format("hidden_count", ["count": String(hidden.count), "overdue": String(hidden.overdue)]), .restricted))
        }
        terminal.bar(runs, row: 0)
        let layout = QueueLayout(width: terminal.columns)
        terminal.draw(layout.header(strings), row: 1, style: .bold)
        let height = listHeight
        if cursor < top { top = cursor }
        if cursor >= top + height { top = cursor - height + 1 }
        if rows.isEmpty {
            terminal.draw(strings["empty_queue"], row: 3, column: 2, style: .dim)
        }
        for (offset, row) in rows.dropFirst(top).prefix(height).enumerated() {
            let line = layout.line(row, now: now)
            if top + offset == cursor {
                terminal.highlightLine(line, row: 2 + offset)
            } else {
                terminal.draw(line, row: 2 + offset)
            }
        }
    }

    func drawTicket() {
        guard let ticket else { return }
        var runs = [StyledRun(" " + strings["ticket"] + " " + ticket.reference + " · " + strings["status.\(ticket.status)"] + " ")]
        if ticket.restricted { runs.append(StyledRun(strings["restricted"] + " ", .restricted)) }
        terminal.bar(runs, row: 0)
        let lines = ticketLines()
        for (offset, line) in lines.dropFirst(ticketScroll).prefix(listHeight + 1).enumerated() {
            terminal.draw(line, row: 1 + offset)
        }
    }

    /// The ticket screen as lines for the current width.
    func ticketLines() -> [[StyledRun]] {
        guard let ticket else { return [] }
        let width = max(terminal.columns - 2, 10)
        let now = clock()
        var lines: [[StyledRun]] = []
        func field(_ key: String, _ value: String, _ style: RunStyle = .plain) -> [StyledRun] {
            [StyledRun(strings[key] + ": ", .dim), StyledRun(value.isEmpty ? "-" : value, style)]
        }
        func add(_ runs: [StyledRun]) { lines += TerminalText.wrap(runs, columns: width).map { [StyledRun(" ")] + $0 } }

        add(field("field.severity", ticket.severity, QueueLayout.style(severity: ticket.severity)) + [StyledRun("   ")]
            + field("field.type", ticket.type) + [StyledRun("   ")] + field("field.language", ticket.language))
        add(field("field.flags", ticket.flags.joined(separator: " "), QueueLayout.style(severity: ticket.severity)))
        add(field("field.sectors", ticket.sectors.joined(separator: " ")) + [StyledRun("   ")] + field("field.location", ticket.location))
        add(field("field.team", ticket.team) + [StyledRun("   ")] + field("field.assignee", ticket.assignee))
        let ack = ticket.acknowledgedAt.map { strings["acknowledged"] + " " + timeFormatter.string(from: $0) }
        let dueAck = QueueLayout.timeLeft(ticket.acknowledgedAt == nil ? ticket.ackDue : nil, now: now)
        let dueResolve = QueueLayout.timeLeft(ticket.resolveDue, now: now, done: ["resolved", "closed"].contains(ticket.status))
        add(field("field.created", timeFormatter.string(from: ticket.createdAt)) + [StyledRun("   ")]
            + (ack.map { [StyledRun($0, .good)] } ?? field("field.ack_due", dueAck.0, dueAck.1)) + [StyledRun("   ")]
            + field("field.resolve_due", dueResolve.0, dueResolve.1))
        if let code = ticket.resolutionCode { add(field("field.resolution", strings["resolution.\(code)"])) }
        var contact = field("field.contact", revealedContact ?? ticket.contactMasked, revealedContact == nil ? .plain : .warning)
        if ticket.contactOptedOut { contact.append(StyledRun(" " + strings["opted_out"], .alert)) }
        if revealedContact == nil, profile.clearance, !ticket.contactMasked.isEmpty { contact.append(StyledRun("  (v: " + strings["reveal"] + ")", .dim)) }
        add(contact)

        lines.append([])
        add([StyledRun(strings["section.conversation"], .bold)])
        for entry in ticket.conversation {
            let arrow: String
            var style = RunStyle.plain
            switch (entry.kind, entry.direction) {
            case ("note", _):
                arrow = "# " + strings["note"]
                style = .dim
            case (_, "in"): arrow = "← " + entry.kind
            default: arrow = "→ " + entry.kind
            }
            add([StyledRun(timeFormatter.string(from: entry.at) + "  " + arrow + "  " + entry.channel + (entry.language.map { "  [\($0)]" } ?? ""), .dim)])
            add([StyledRun("  ")] + [StyledRun].highlighting(entry.text, ranges: entry.highlights, base: style))
        }
        if !ticket.evidence.isEmpty {
            lines.append([])
            add([StyledRun(strings["section.classification"] + " (\(ticket.classifierVersion))", .bold)])
            for item in ticket.evidence {
                add([StyledRun("  " + item.flag, .warning), StyledRun("  «"), StyledRun(item.text, .evidence), StyledRun("»  " + item.entry, .dim)])
            }
        }
        if !ticket.escalations.isEmpty {
            lines.append([])
            add([StyledRun(strings["section.rules"], .bold)])
            for step in ticket.escalations {
                var state = strings["escalation.pending"]
                var style = RunStyle.warning
                if let at = step.acknowledgedAt {
                    state = strings["escalation.acknowledged"] + " " + timeFormatter.string(from: at)
                    style = .good
                } else if let at = step.firedAt {
                    state = strings["escalation.fired"] + " " + timeFormatter.string(from: at)
                    style = .alert
                }
                add([
                    StyledRun("  \(step.rule) L\(step.level) → \(step.target)  "), StyledRun(strings["field.due"] + " " + timeFormatter.string(from: step.due) + "  ", .dim),
                    StyledRun(state, style),
                ])
            }
        }
        if !ticket.referrals.isEmpty {
            lines.append([])
            add([StyledRun(strings["section.referrals"], .bold)])
            for referral in ticket.referrals {
                add([
                    StyledRun("  " + strings["service.\(referral.service)"] + " → " + referral.organisation + "  "),
                    StyledRun(referral.status + (referral.consent == "overridden" ? "  (" + strings["consent.overridden"] + ")" : ""), .dim),
                ])
            }
        }
        lines.append([])
        add([StyledRun(strings["section.history"], .bold)])
        for event in ticket.history {
            add([StyledRun("  " + timeFormatter.string(from: event.at) + "  ", .dim), StyledRun(event.actor + " "), StyledRun(event.action, .bold),
                 StyledRun(" " + event.details, .dim)])
        }
        return lines
    }

    func drawBottom() {
        let row = terminal.rows - 1
        if let status {
            terminal.draw([StyledRun(" " + status.text, status.style)], row: row - 1)
        }
        let hints = ticket == nil ? strings["hints.queue"] : strings["hints.ticket"]
        terminal.bar([StyledRun(" " + hints)], row: row)
    }

    func drawPrompt(_ prompt: Prompt) {
        let row = terminal.rows - 2
        let label = prompt.title + ": "
        terminal.draw([StyledRun(String(repeating: " ", count: terminal.columns))], row: row)
        terminal.draw(label, row: row, style: .bold)
        let labelWidth = TerminalText.width(label)
        let visible = prompt.editor.visible(columns: max(terminal.columns - labelWidth - 1, 2))
        terminal.draw(visible.text, row: row, column: labelWidth)
        if prompt.kind == .reply {
            let count = SMSSegments.count(prompt.editor.text)
            let counter = strings.format(
                "sms_counter", ["segments": String(count.segments), "left": String(count.charactersLeft), "encoding": count.encoding.rawValue])
            terminal.bar([StyledRun(" " + counter + "   " + strings["hints.reply"], count.encoding == .ucs2 ? .warning : .plain)], row: terminal.rows - 1)
        } else {
            terminal.bar([StyledRun(" " + strings["hints.prompt"])], row: terminal.rows - 1)
        }
        terminal.showCursor(row: row, column: labelWidth + visible.cursorColumn)
    }

    func drawPicker(_ picker: Picker) {
        let width = min(max(picker.options.map { TerminalText.width($0.label) }.max() ?? 10, TerminalText.width(picker.title)) + 6, terminal.columns - 2)
        let height = min(picker.options.count + 2, terminal.rows - 2)
        let left = max((terminal.columns - width) / 2, 0)
        let topRow = max((terminal.rows - height) / 2, 0)
        terminal.draw([StyledRun(TerminalText.fit(" " + picker.title, columns: width), .heading)], row: topRow, column: left)
        let visible = height - 2
        let first = max(0, picker.index - visible + 1)
        for (offset, option) in picker.options.enumerated().dropFirst(first).prefix(visible) {
            let text = TerminalText.fit("  " + option.label, columns: width)
            let row = topRow + 1 + offset - first
            if offset == picker.index {
                terminal.draw([StyledRun(text, .heading)], row: row, column: left)
            } else {
                terminal.draw([StyledRun(text)], row: row, column: left)
            }
        }
        terminal.draw([StyledRun(TerminalText.fit(" " + strings["hints.picker"], columns: width), .dim)], row: topRow + height - 1, column: left)
    }

    func drawHelp() {
        terminal.erase()
        terminal.bar([StyledRun(" " + strings["help.title"])], row: 0)
        let lines = strings["help.body"].split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.prefix(terminal.rows - 2).enumerated() {
            terminal.draw(" " + line, row: 1 + index)
        }
        terminal.bar([StyledRun(" " + strings["help.close"])], row: terminal.rows - 1)
    }
}
