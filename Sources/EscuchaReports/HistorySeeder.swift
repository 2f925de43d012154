import EscuchaCore
public import EscuchaStore
public import Foundation

/// Generates realistic synthetic ticket history for demos, tests and load: several places
/// with different volumes, languages and teams, yearly and weekly seasonality, a steady mix
/// of feedback types, sectors and flags, response times, resolution messages — and injected
/// outbreaks (a surge of one flag family in one place for a few days) that the early-warning
/// report must find. Deterministic for a seed. Rows go in with COPY.
public struct HistorySeeder: Sendable {
    /// An injected outbreak.
    public struct Outbreak: Sendable, Equatable, Codable {
        public var location: String
        public var flag: String
        /// Days before the end day when it starts.
        public var daysBeforeEnd: Int
        public var days: Int
        /// Extra tickets per day, as a multiple of the place's usual daily count of flagged tickets.
        public var intensity: Double
        /// A phrase the extra messages share (a rumour), or `nil`.
        public var phrase: String?

        public init(location: String, flag: String, daysBeforeEnd: Int, days: Int, intensity: Double, phrase: String? = nil) {
            self.location = location
            self.flag = flag
            self.daysBeforeEnd = daysBeforeEnd
            self.days = days
            self.intensity = intensity
            self.phrase = phrase
        }
    }

    /// A place of the synthetic deployment.
    public struct Site: Sendable, Equatable {
        public var location: String
        public var team: String
        public var weight: Double
        public var languages: [(String, Double)]
        public static func == (a: Site, b: Site) -> Bool { a.location == b.location && a.team == b.team }
    }

    public var tickets: Int
    public var seed: UInt64
    /// The last day of history (UTC).
    public var endDay: Date
    /// How many days of history.
    public var days: Int
    public var sites: [Site]
    public var outbreaks: [Outbreak]

    /// The default deployment: eight places on the route, three outbreaks in the last 8 weeks.
    public init(tickets: Int, seed: UInt64, endDay: Date = Date(), days: Int = 728) {
        self.tickets = tickets
        self.seed = seed
        self.endDay = ReportCalendar.startOfDay(endDay)
        self.days = max(28, days)
        sites = [
            Site(location: "Tapachula", team: "cea-tapachula", weight: 3.0, languages: [("es", 0.7), ("ht", 0.2), ("fr", 0.05), ("en", 0.05)]),
            Site(location: "Cúcuta", team: "cea-cucuta", weight: 2.5, languages: [("es", 0.95), ("en", 0.05)]),
            Site(location: "Necoclí", team: "cea-necocli", weight: 1.2, languages: [("es", 0.6), ("ht", 0.3), ("fr", 0.1)]),
            Site(location: "Ipiales", team: "cea-ipiales", weight: 1.0, languages: [("es", 1.0)]),
            Site(location: "Tijuana", team: "cea-tijuana", weight: 1.5, languages: [("es", 0.8), ("ht", 0.1), ("en", 0.1)]),
            Site(location: "Boa Vista", team: "cea-boavista", weight: 1.0, languages: [("pt", 0.6), ("es", 0.4)]),
            Site(location: "Lima", team: "cea-lima", weight: 1.4, languages: [("es", 1.0)]),
            Site(location: "Darién", team: "cea-darien", weight: 0.8, languages: [("es", 0.5), ("ht", 0.2), ("fr", 0.2), ("en", 0.1)]),
        ]
        outbreaks = [
            Outbreak(location: "Tapachula", flag: "stigma.rumour", daysBeforeEnd: 20, days: 5, intensity: 4,
                     phrase: "dicen que la vacuna de la cruz roja esteriliza a los niños"),
            Outbreak(location: "Cúcuta", flag: "protection.extortion", daysBeforeEnd: 6, days: 4, intensity: 5),
            Outbreak(location: "Necoclí", flag: "discrimination.service_denial", daysBeforeEnd: 40, days: 6, intensity: 5),
        ]
    }

    /// What a seeding did.
    public struct Outcome: Sendable {
        public var tickets: Int
        public var messages: Int
        public var resolutionMessages: Int
    }

    static let flagMix: [(String, Double)] = [
        ("stigma.xenophobic_speech", 4), ("stigma.rumour", 3), ("discrimination.service_denial", 5),
        ("discrimination.mistreatment", 4), ("protection.gbv", 1.5), ("protection.violence", 2.5),
        ("protection.trafficking", 0.5), ("protection.extortion", 2.5), ("protection.detention", 1.5),
        ("protection.deportation", 1.5), ("protection.missing_person", 2), ("protection.child_at_risk", 0.8),
        ("protection.self_harm", 0.3), ("protection.medical_emergency", 1), ("protection.death", 0.3),
        ("misconduct.sexual_exploitation", 0.2), ("misconduct.fraud", 0.8), ("misconduct.staff_behaviour", 1),
    ]
    static let typeMix: [(String, Double)] = [
        ("question", 30), ("request", 30), ("complaint", 20), ("suggestion", 4), ("praise", 6), ("rumour", 5), ("other", 5),
    ]
    static let sectorMix: [(String, Double)] = [
        ("food", 10), ("shelter", 9), ("health", 9), ("cash", 8), ("documentation", 10), ("family_links", 5),
        ("education", 3), ("wash", 4), ("livelihoods", 5), ("transport", 4), ("information", 8), ("protection", 6),
    ]
    static let channelMix: [(String, Double)] = [("sms-gateway", 70), ("email", 10), ("hotline", 20)]
    static let texts: [String: [String]] = [
        "es": ["necesito ayuda con comida para mis hijos", "donde puedo sacar el permiso de permanencia",
               "no hay agua en el albergue desde ayer", "gracias por la atencion en el punto de salud",
               "cuando entregan los kits de higiene", "me negaron la atencion en el hospital por ser venezolano",
               "nos amenazaron en el camino y pidieron plata para pasar", "en el barrio dicen que los migrantes roban"],
        "ht": ["mwen bezwen ed pou manje", "ki kote mwen ka jwenn papye", "pa gen dlo nan abri a", "mesi pou ed la"],
        "pt": ["preciso de ajuda com comida", "onde consigo o documento", "nao tem agua no abrigo", "obrigado pela ajuda"],
        "fr": ["j'ai besoin d'aide pour manger", "ou puis-je obtenir des papiers", "il n'y a pas d'eau au refuge"],
        "en": ["i need help with food for my kids", "where can i get my papers", "there is no water at the shelter"],
    ]

    static func pick(_ mix: [(String, Double)], _ rng: inout SeededRandom) -> String {
        let total = mix.reduce(0) { $0 + $1.1 }
        var u = Double.random(in: 0..<total, using: &rng)
        for (value, weight) in mix {
            if u < weight { return value }
            u -= weight
        }
        return mix[mix.count - 1].0
    }

    static func poisson(_ lambda: Double, _ rng: inout SeededRandom) -> Int {
        if lambda <= 0 { return 0 }
        if lambda > 60 {
            // Normal approximation for large means (fast, fine for synthetic volumes).
            let u1 = max(Double.random(in: 0..<1, using: &rng), 1e-12), u2 = Double.random(in: 0..<1, using: &rng)
            let z = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
            return max(0, Int((lambda + z * lambda.squareRoot()).rounded()))
        }
        let limit = Foundation.exp(-lambda)
        var k = 0
        var p = Double.random(in: 0..<1, using: &rng)
        while p > limit {
            k += 1
            p *= Double.random(in: 0..<1, using: &rng)
        }
        return k
    }

    /// A 6-character Crockford base-32 reference from a 30-bit number, scrambled by a
    /// bijection so consecutive tickets do not get consecutive references.
    static func reference(_ n: UInt64) -> String {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var x = n & 0x3FFF_FFFF
        x = (x &* 0x2545_F491) & 0x3FFF_FFFF  // odd multiplier: a bijection mod 2^30
        x ^= x >> 15
        var out = ""
        for shift in stride(from: 25, through: 0, by: -5) { out.append(alphabet[Int((x >> UInt64(shift)) & 31)]) }
        return out
    }

    /// Daily volume per site: yearly seasonality (a peak in the northern spring), fewer
    /// messages at weekends, slow growth.
    func intensity(day: Int, site: Site) -> Double {
        let date = ReportCalendar.adding(days: day - days + 1, to: endDay)
        let weekday = ReportCalendar.utc.component(.weekday, from: date)  // 1 Sunday
        let weekly = weekday == 1 ? 0.6 : weekday == 7 ? 0.75 : 1.05
        let yearly = 1 + 0.3 * Foundation.sin(2 * .pi * Double(day) / 365.25)
        let growth = 0.8 + 0.4 * Double(day) / Double(days)
        return site.weight * weekly * yearly * growth
    }

    /// Seeds the database. Tickets get ids from the table; references are derived from the
    /// next id so repeated seedings do not collide.
    @discardableResult
    public func run(_ pool: PostgresPool, restrictedFlags: Set<String>, now: Date = Date()) async throws -> Outcome {
        let startNumber = try await pool.withConnection { conn in
            try conn.query("SELECT coalesce(max(id), 0) + 1 AS next FROM tickets").first?.decode("next", as: Int64.self) ?? 1
        }
        let plan = self
        return try await pool.withTransaction { conn in
            for site in plan.sites {
                _ = try conn.execute(
                    "INSERT INTO teams (id, name) VALUES (\(site.team), \(site.location)) ON CONFLICT (id) DO NOTHING",
                    operation: "creating seed teams")
            }
            _ = try conn.execute(
                unsafeScript: """
                    CREATE TEMP TABLE seed_tickets (
                        reference char(6), status text, type text, flags text[], sectors text[], severity text,
                        restricted boolean, language text, location text, team text, channel_id text,
                        created_at timestamptz, first_response_at timestamptz, acknowledged_at timestamptz,
                        resolved_at timestamptz, closed_at timestamptz, ack_due_at timestamptz, resolve_due_at timestamptz,
                        text text, resolution_message boolean
                    ) ON COMMIT DROP
                    """, operation: "creating the seed staging table")
            let rows = SeedRows(plan: plan, restrictedFlags: restrictedFlags, now: now, firstNumber: UInt64(startNumber))
            let copied = try conn.copy(
                into: "seed_tickets",
                columns: [
                    "reference", "status", "type", "flags", "sectors", "severity", "restricted", "language", "location", "team",
                    "channel_id", "created_at", "first_response_at", "acknowledged_at", "resolved_at", "closed_at", "ack_due_at",
                    "resolve_due_at", "text", "resolution_message",
                ], rows: rows)
            _ = try conn.execute(
                unsafeScript: """
                    INSERT INTO tickets (reference, status, type, flags, sectors, severity, restricted, language, location, team,
                                         channel_id, created_at, updated_at, first_response_at, acknowledged_at, resolved_at,
                                         closed_at, ack_due_at, resolve_due_at)
                    SELECT reference, status, type, flags, sectors, severity, restricted, language, location, team,
                           channel_id, created_at, now(), first_response_at, acknowledged_at, resolved_at,
                           closed_at, ack_due_at, resolve_due_at FROM seed_tickets
                    """, operation: "inserting seed tickets")
            let messages = try conn.execute(
                """
                INSERT INTO messages (ticket_id, channel_id, kind, direction, text, received_at, language)
                SELECT t.id, s.channel_id, CASE s.channel_id WHEN 'email' THEN 'email' WHEN 'hotline' THEN 'hotline' ELSE 'sms' END,
                       'in', s.text, s.created_at, s.language
                  FROM seed_tickets s JOIN tickets t ON t.reference = s.reference
                """, operation: "inserting seed messages")
            let outbox = try conn.execute(
                """
                INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key, status, created_at, sent_at)
                SELECT t.id, 'sms', s.channel_id, '\\x00'::bytea,
                       jsonb_build_object('template', 'resolution', 'language', s.language, 'text', ''),
                       'seed-resolution-' || t.id, 'sent', s.resolved_at, s.resolved_at
                  FROM seed_tickets s JOIN tickets t ON t.reference = s.reference
                 WHERE s.resolution_message
                """, operation: "inserting seed resolution messages")
            return Outcome(tickets: copied, messages: messages, resolutionMessages: outbox)
        }
    }
}

/// The seed rows, generated lazily one (day, place) at a time so a million tickets never sit
/// in memory at once.
struct SeedRows: Sequence, IteratorProtocol {
    let plan: HistorySeeder
    let restrictedFlags: Set<String>
    let now: Date
    var rng: SeededRandom
    var number: UInt64
    let scale: Double
    var day = 0
    var siteIndex = 0
    var buffer: [[any PostgresEncodable]] = []
    var position = 0
    let flaggedShare = 0.3
    let dayLength = 86_400.0

    init(plan: HistorySeeder, restrictedFlags: Set<String>, now: Date, firstNumber: UInt64) {
        self.plan = plan
        self.restrictedFlags = restrictedFlags
        self.now = now
        rng = SeededRandom(seed: plan.seed)
        number = firstNumber
        let total = plan.sites.indices.reduce(0.0) { sum, s in
            sum + (0..<plan.days).reduce(0.0) { $0 + plan.intensity(day: $1, site: plan.sites[s]) }
        }
        scale = Double(plan.tickets) / Swift.max(total, 1)
    }

    mutating func next() -> [any PostgresEncodable]? {
        while position >= buffer.count {
            guard day < plan.days else { return nil }
            buffer.removeAll(keepingCapacity: true)
            position = 0
            fill(day: day, site: plan.sites[siteIndex])
            siteIndex += 1
            if siteIndex == plan.sites.count {
                siteIndex = 0
                day += 1
            }
        }
        defer { position += 1 }
        return buffer[position]
    }

    mutating func fill(day: Int, site: HistorySeeder.Site) {
        typealias Self_ = HistorySeeder
        let dayStart = ReportCalendar.adding(days: day - plan.days + 1, to: plan.endDay)
        let lambda = plan.intensity(day: day, site: site) * scale
        var count = Self_.poisson(lambda, &rng)
        var outbreakFlags: [(String, String?)] = []
        for o in plan.outbreaks where o.location == site.location {
            let first = plan.days - 1 - o.daysBeforeEnd
            if day >= first && day < first + o.days {
                let usual = lambda * flaggedShare * 0.3  // a family's usual daily count
                let extra = Self_.poisson(Swift.max(8, usual * o.intensity), &rng)
                outbreakFlags += Array(repeating: (o.flag, o.phrase), count: extra)
            }
        }
        count += outbreakFlags.count
            for i in 0..<count {
                var flags: [String] = []
                var phrase: String?
                if i < outbreakFlags.count {
                    flags = [outbreakFlags[i].0]
                    phrase = outbreakFlags[i].1
                } else if Double.random(in: 0..<1, using: &rng) < flaggedShare {
                    flags = [Self_.pick(Self_.flagMix, &rng)]
                    if Double.random(in: 0..<1, using: &rng) < 0.15 {
                        let second = Self_.pick(Self_.flagMix, &rng)
                        if second != flags[0] { flags.append(second) }
                    }
                }
                let restricted = flags.contains { restrictedFlags.contains($0) }
                let severity = flags.isEmpty ? "low" : (restricted ? "critical" : (flags[0].hasPrefix("protection") ? "high" : "medium"))
                let type = flags.isEmpty ? Self_.pick(Self_.typeMix, &rng) : (flags[0] == "stigma.rumour" ? "rumour" : "complaint")
                var sectors = [Self_.pick(Self_.sectorMix, &rng)]
                if flags.contains(where: { $0.hasPrefix("protection") }) { sectors.append("protection") }
                let language = Self_.pick(site.languages, &rng)
                let channel = Self_.pick(Self_.channelMix, &rng)
                // Fewer messages at night: hour drawn from a day-time bump.
                let hour = Swift.min(23.99, Swift.max(0, 13 + 4 * (Double.random(in: 0..<1, using: &rng) + Double.random(in: 0..<1, using: &rng) - 1) * 2))
                let created = dayStart.addingTimeInterval(hour * 3600 + Double.random(in: 0..<3600, using: &rng))
                let ackHours = severity == "critical" ? 2.0 : severity == "high" ? 8.0 : 24.0
                let ackDue = created.addingTimeInterval(ackHours * 3600)
                let resolveDue = created.addingTimeInterval(ackHours * 3600 * 7)
                let age = now.timeIntervalSince(created)
                // Acknowledgement: mostly on time, some late, some never (recent ones more).
                let u = Double.random(in: 0..<1, using: &rng)
                var acknowledged: Date?
                if u < 0.82 {
                    acknowledged = created.addingTimeInterval(Double.random(in: 0.05..<0.95, using: &rng) * ackHours * 3600)
                } else if u < 0.95 {
                    acknowledged = created.addingTimeInterval(ackHours * 3600 * Double.random(in: 1.05..<3, using: &rng))
                }
                if let a = acknowledged, a > now { acknowledged = nil }
                let firstResponse = acknowledged.map { $0.addingTimeInterval(Double.random(in: 0..<2, using: &rng) * 3600) }
                var resolved: Date?
                if let a = acknowledged, age > dayLength * 2, Double.random(in: 0..<1, using: &rng) < 0.9 {
                    let days = Foundation.exp(Double.random(in: -1..<2.3, using: &rng))  // 0.4 … 10 days
                    let r = a.addingTimeInterval(days * dayLength)
                    if r < now { resolved = r }
                }
                let closed = resolved.flatMap { r -> Date? in
                    let c = r.addingTimeInterval(dayLength)
                    return c < now ? c : nil
                }
                let status = closed != nil ? "closed" : resolved != nil ? "resolved" : acknowledged != nil ? "open" : "new"
                let resolutionMessage = resolved != nil && Double.random(in: 0..<1, using: &rng) < 0.75
                let base = Self_.texts[language] ?? Self_.texts["es"]!
                var text = base[Int.random(in: 0..<base.count, using: &rng)]
                if let phrase { text = phrase + " " + text }
                buffer.append([
                    Self_.reference(number), status, type, flags, sectors, severity, restricted, language, site.location,
                    site.team, channel, created, firstResponse, acknowledged, resolved, closed, ackDue, resolveDue, text,
                    resolutionMessage,
                ])
                number += 1
            }
    }
}
