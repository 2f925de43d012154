import EscuchaTestSupport
import EscuchaStore
import Foundation
import Testing

/// The libpq wrapper and the pool against a real PostgreSQL.
@Suite struct ConnectionTests {
    static let database = Task { try await TestCluster.freshDatabase("connection") }

    func pool(size: Int = 4) async throws -> PostgresPool {
        var configuration = try await Self.database.value
        configuration.size = size
        return PostgresPool(configuration: configuration)
    }

    @Test func everySupportedTypeRoundTrips() async throws {
        let pool = try await pool()
        let date = Date(timeIntervalSince1970: 1_715_000_000.123456)
        let uuid = UUID()
        let bytes = Data([0, 1, 2, 0xff, 0])
        let json = JSON(#"{"a": [1, "dos", null], "ñ": true}"#)
        let tags = ["plain", "with space", "quote\"d", "back\\slash", "comma,brace{}", "", "NULL", "ñandú 🙂"]
        let row = try await pool.withConnection { conn in
            try conn.execute(
                """
                CREATE TEMP TABLE all_types (
                    t text, i8 int8, i4 int4, i int8, b bool, d float8, ts timestamptz, raw bytea, u uuid,
                    j jsonb, tags text[], ids int8[], missing text, missing_ts timestamptz)
                """)
            let missing: String? = nil
            let missingDate: Date? = nil
            try conn.execute(
                """
                INSERT INTO all_types VALUES (\("café 'quoted' \\ ünïcode"), \(Int64.max), \(Int32.min), \(-42),
                    \(true), \(3.141592653589793), \(date), \(bytes), \(uuid), \(json), \(tags), \([1, -2, 3]),
                    \(missing), \(missingDate))
                """)
            return try conn.query("SELECT * FROM all_types")[0]
        }
        await pool.close()
        #expect(try row.decode("t", as: String.self) == "café 'quoted' \\ ünïcode")
        #expect(try row.decode("i8", as: Int64.self) == .max)
        #expect(try row.decode("i4", as: Int32.self) == .min)
        #expect(try row.decode("i", as: Int.self) == -42)
        #expect(try row.decode("b", as: Bool.self) == true)
        #expect(try row.decode("d", as: Double.self) == 3.141592653589793)
        let decodedDate = try row.decode("ts", as: Date.self)
        #expect(abs(decodedDate.timeIntervalSince(date)) < 0.000_001)
        #expect(try row.decode("raw", as: Data.self) == bytes)
        #expect(try row.decode("raw", as: [UInt8].self) == [0, 1, 2, 0xff, 0])
        #expect(try row.decode("u", as: UUID.self) == uuid)
        let decodedJSON = try row.decode("j", as: JSON.self)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(decodedJSON.text.utf8)) as? [String: Any])
        #expect(object["ñ"] as? Bool == true)
        #expect((object["a"] as? [Any])?.count == 3)
        #expect(try row.decode("tags", as: [String].self) == tags)
        #expect(try row.decode("ids", as: [Int].self) == [1, -2, 3])
        #expect(try row.decode("missing", as: String?.self) == nil)
        #expect(try row.decode("missing_ts", as: Date?.self) == nil)
        #expect(try row.decode(0, as: String?.self) == "café 'quoted' \\ ünïcode")
        #expect(throws: StoreError.self) { try row.decode("missing", as: String.self) }
        #expect(throws: StoreError.self) { try row.decode("no_such_column", as: String.self) }
        #expect(throws: StoreError.self) { try row.decode("t", as: Int.self) }
    }

    @Test func timestampsKeepMicrosecondsAndSpecialDoubles() async throws {
        let pool = try await pool()
        let dates = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -86_400.5),
            Date(timeIntervalSince1970: 4_102_444_800.000_001), Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
        ]
        for date in dates {
            let back = try await pool.withConnection {
                try $0.query("SELECT \(date)::timestamptz AS d")[0].decode("d", as: Date.self)
            }
            #expect(abs(back.timeIntervalSince(date)) < 0.000_001, "\(date)")
            // The server agrees on the instant, not just our own parser.
            let epoch = try await pool.withConnection {
                try $0.query("SELECT extract(epoch FROM \(date))::float8 AS e")[0].decode("e", as: Double.self)
            }
            #expect(abs(epoch - date.timeIntervalSince1970) < 0.000_001)
        }
        let specials = try await pool.withConnection { conn in
            try conn.query("SELECT \(Double.infinity) AS a, \(-Double.infinity) AS b, \(Double.nan) AS c")[0]
        }
        await pool.close()
        #expect(try specials.decode("a", as: Double.self) == .infinity)
        #expect(try specials.decode("b", as: Double.self) == -.infinity)
        #expect(try specials.decode("c", as: Double.self).isNaN)
    }

    @Test func nulBytesAndInvalidUTF8AreStoredAsBytea() async throws {
        let pool = try await pool()
        let payloads: [Data] = [
            Data([0x00]), Data([0x68, 0x00, 0x69]), Data([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]),
            Data("mensaje\u{0}con\r\nnulos".utf8) + Data([0xe9]), Data(), Data((0...255).map(UInt8.init)),
        ]
        let stored = try await pool.withTransaction { conn in
            try conn.execute("CREATE TEMP TABLE raw_bodies (n int, body bytea NOT NULL)")
            for (n, payload) in payloads.enumerated() {
                try conn.execute("INSERT INTO raw_bodies VALUES (\(n), \(payload))")
            }
            return try conn.query("SELECT body, octet_length(body) AS len FROM raw_bodies ORDER BY n")
                .map { (try $0.decode("body", as: Data.self), try $0.decode("len", as: Int.self)) }
        }
        await pool.close()
        #expect(stored.map(\.0) == payloads)
        #expect(stored.map(\.1) == payloads.map(\.count))
    }

    @Test func textWithNULIsRefusedWithoutQuotingIt() async throws {
        let pool = try await pool()
        let secret = "+573001234567\u{0}"
        let error = await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.query("SELECT \(secret) AS s") }
        }
        await pool.close()
        #expect(error?.message.contains("NUL") == true)
        #expect(error?.description.contains("573001234567") == false)
    }

    @Test func errorsCarrySQLStateAndKeepDetailOutOfDescription() async throws {
        let pool = try await pool()
        let phone = "+573009998877"
        let error = await #expect(throws: StoreError.self) {
            try await pool.withConnection { conn in
                try conn.execute("CREATE TEMP TABLE people (phone text PRIMARY KEY)")
                try conn.execute("INSERT INTO people VALUES (\(phone))")
                try conn.execute("INSERT INTO people VALUES (\(phone))", operation: "adding a person")
            }
        }
        let failure = try #require(error)
        #expect(failure.sqlState == .uniqueViolation)
        #expect(failure.operation == "adding a person")
        #expect(failure.constraint == "people_pkey")
        #expect(failure.detail?.contains(phone) == true)
        #expect(!failure.description.contains(phone))
        #expect(failure.description.contains("23505"))
        #expect(failure.debugDescription.contains(phone))

        // Data exceptions quote the input in their primary message: left out too.
        let invalid = await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.query("SELECT CAST(\(phone) AS uuid)") }
        }
        await pool.close()
        #expect(invalid?.sqlState == .invalidTextRepresentation)
        #expect(invalid?.message.contains(phone) == true)
        #expect(invalid?.description.contains(phone) == false)
    }

    struct BodyFailed: Error, Equatable {}

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        let pool = try await pool(size: 1)
        try await pool.withConnection { try $0.execute("CREATE TABLE rollback_probe (n int)") }
        await #expect(throws: BodyFailed()) {
            try await pool.withTransaction { conn in
                try conn.execute("INSERT INTO rollback_probe VALUES (1)")
                throw BodyFailed()
            }
        }
        // A store error of the body is marked as such.
        let bodyError = await #expect(throws: StoreError.self) {
            try await pool.withTransaction { conn in
                try conn.execute("INSERT INTO rollback_probe VALUES (2)")
                try conn.execute("INSERT INTO no_such_table VALUES (1)")
            }
        }
        #expect(bodyError?.transactionStage == .body)
        #expect(bodyError?.sqlState == .undefinedTable)
        // An error the body swallowed still aborts the transaction: reported at COMMIT.
        let commitError = await #expect(throws: StoreError.self) {
            try await pool.withTransaction { conn in
                try conn.execute("INSERT INTO rollback_probe VALUES (3)")
                _ = try? conn.execute("SELECT 1/0")
            }
        }
        #expect(commitError?.transactionStage == .commit)
        try await pool.withTransaction { try $0.execute("INSERT INTO rollback_probe VALUES (4)") }
        let values = try await pool.withConnection { conn in
            try conn.query("SELECT n FROM rollback_probe ORDER BY n").map { try $0.decode("n", as: Int.self) }
        }
        #expect(values == [4])
        // The connection is clean for the next user.
        let inTransaction = try await pool.withConnection { $0.isInTransaction }
        await pool.close()
        #expect(!inTransaction)
    }

    @Test func twoHundredTasksShareFourConnections() async throws {
        let pool = try await pool(size: 4)
        try await pool.withConnection {
            try $0.execute("CREATE TABLE hits (task int PRIMARY KEY, backend int NOT NULL)")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<200 {
                group.addTask {
                    try await pool.withTransaction { conn in
                        try conn.execute("SELECT pg_sleep(0.002)")
                        try conn.execute("INSERT INTO hits VALUES (\(task), pg_backend_pid())")
                    }
                }
            }
            try await group.waitForAll()
        }
        let (count, backends) = try await pool.withConnection { conn in
            let row = try conn.query("SELECT count(*) AS n, count(DISTINCT backend) AS b FROM hits")[0]
            return (try row.decode("n", as: Int.self), try row.decode("b", as: Int.self))
        }
        await pool.close()
        #expect(count == 200)
        #expect(backends >= 2 && backends <= 4)
    }

    @Test func notificationsArriveThroughListen() async throws {
        let pool = try await pool()
        let stream = try await pool.listen(to: ["ticket_changed", "Mixed Case"])
        try await pool.notify(channel: "ticket_changed", payload: "42")
        try await pool.notify(channel: "Mixed Case", payload: "ñ")
        let received = try await withTimeout(seconds: 10) {
            var received: [PostgresNotification] = []
            for try await notification in stream {
                received.append(notification)
                if received.count == 2 { break }
            }
            return received
        }
        await pool.close()
        #expect(received.map(\.channel) == ["ticket_changed", "Mixed Case"])
        #expect(received.map(\.payload) == ["42", "ñ"])
    }

    @Test func copyLoadsRowsWithEscapes() async throws {
        let pool = try await pool()
        let rows: [[any PostgresEncodable]] = [
            [1, "tab\there", Data([0, 0x5c, 0xff]), ["a\tb", "c\"d", "e\\f"], Date(timeIntervalSince1970: 10)],
            [2, "new\nline\r\nand \\N backslash", Data(), [String](), Date?.none],
            [3, String?.none, Data("\\x41".utf8), ["NULL"], Date(timeIntervalSince1970: 1e9)],
        ]
        let (copied, back) = try await pool.withConnection { conn in
            try conn.execute("CREATE TABLE copied (n int, t text, raw bytea, tags text[], at timestamptz)")
            let copied = try conn.copy(into: "copied", columns: ["n", "t", "raw", "tags", "at"], rows: rows)
            let back = try conn.query("SELECT * FROM copied ORDER BY n")
            return (copied, back)
        }
        #expect(copied == 3)
        #expect(try back[0].decode("t", as: String.self) == "tab\there")
        #expect(try back[0].decode("raw", as: Data.self) == Data([0, 0x5c, 0xff]))
        #expect(try back[0].decode("tags", as: [String].self) == ["a\tb", "c\"d", "e\\f"])
        #expect(try back[0].decode("at", as: Date.self) == Date(timeIntervalSince1970: 10))
        #expect(try back[1].decode("t", as: String.self) == "new\nline\r\nand \\N backslash")
        #expect(try back[1].decode("raw", as: Data.self) == Data())
        #expect(try back[1].decode("tags", as: [String].self) == [])
        #expect(try back[1].decode("at", as: Date?.self) == nil)
        #expect(try back[2].decode("t", as: String?.self) == nil)
        #expect(try back[2].decode("raw", as: Data.self) == Data("\\x41".utf8))
        #expect(try back[2].decode("tags", as: [String].self) == ["NULL"])

        // A bad row aborts the COPY and leaves the connection usable.
        let badRows: [[any PostgresEncodable]] = [[4, "ok"], [5, "nul\u{0}byte"]]
        await #expect(throws: StoreError.self) {
            try await pool.withConnection { conn in
                try conn.copy(into: "copied", columns: ["n", "t"], rows: badRows)
            }
        }
        let count = try await pool.withConnection {
            try $0.query("SELECT count(*) AS n FROM copied")[0].decode("n", as: Int.self)
        }
        await pool.close()
        #expect(count == 3)
    }
}

/// SQL building, without a database.
@Suite struct SQLTests {
    @Test func objectsWrittenByHandEqualWhatJSONEncoderWrites() throws {
        let awkward = "quote \" backslash \\ slash / tab \t newline \n bell \u{07} ñ 👍🏽 \u{2028} end"
        let members = ["text": awkward, "template": "acknowledgement", "": "empty key", "ñandú": ""]
        let byHand = JSON(strings: members)
        #expect(byHand.text == (try JSON(encoding: members)).text)
        #expect(try byHand.decode([String: String].self) == members)

        var object = JSONObjectText()
        object.add("restricted", true)
        object.add("rules", ["a\"b", "c"])
        object.add("team", nil as String?)
        #expect(object.json.text == #"{"restricted":true,"rules":["a\"b","c"],"team":null}"#)
    }

    @Test func interpolationBecomesNumberedBinds() {
        let name = "x'; DROP TABLE tickets; --"
        let limit = 5
        let filter: SQL = "status = \("open")"
        let sql: SQL = "SELECT * FROM \(identifier: "tick\"ets") WHERE name = \(name) AND \(filter) LIMIT \(limit)"
        let (text, binds) = sql.rendered
        #expect(text == "SELECT * FROM \"tick\"\"ets\" WHERE name = $1 AND status = $2 LIMIT $3")
        #expect(binds.count == 3)
        #expect(!sql.description.contains("DROP"))
        let joined = SQL.joined(["a = \(1)", "b = \(2)"], separator: " AND ")
        #expect(joined.rendered.text == "a = $1 AND b = $2")
    }

    @Test func databaseLocationFollowsTheDocumentedRule() {
        #expect(DatabaseLocation.resolve(databaseURL: "postgresql:///x", environment: [:]) == .external(conninfo: "postgresql:///x"))
        #expect(DatabaseLocation.resolve(environment: ["DATABASE_URL": "host=db"]) == .external(conninfo: "host=db"))
        #expect(DatabaseLocation.resolve(environment: ["PGHOST": "db"]) == .external(conninfo: ""))
        #expect(
            DatabaseLocation.resolve(dataDirectory: "/srv/e", environment: ["ESCUCHA_DATA_DIR": "/other"])
                == .embedded(dataDirectory: "/srv/e"))
        #expect(DatabaseLocation.resolve(environment: ["ESCUCHA_DATA_DIR": "/other"]) == .embedded(dataDirectory: "/other"))
        #expect(
            DatabaseLocation.resolve(environment: ["XDG_DATA_HOME": "/home/a/.data"])
                == .embedded(dataDirectory: "/home/a/.data/escucha"))
    }
}
