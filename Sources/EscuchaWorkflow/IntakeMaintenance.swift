import EscuchaChannels
import EscuchaStore
import Foundation
import Logging
import ServiceLifecycle

extension Intake {
    /// Moves spooled requests into the database, oldest first, through the same pipeline
    /// (so retries are recognised as usual). Stops at the first database failure.
    /// - Returns: how many requests left the spool.
    @discardableResult
    public func drainSpool() async -> Int {
        var drained = 0
        for name in spool.pending() {
            let entry: SpooledRequest
            do {
                entry = try spool.read(name)
            } catch {
                logger.error("unreadable spool file set aside", metadata: ["spool.file": "\(name)"])
                spool.quarantine(name)
                continue
            }
            let request = entry.request
            let inboundID: Int64
            do {
                inboundID = try await storeRaw(channelID: entry.channelID, request: request, receivedAt: entry.receivedAt)
            } catch {
                return drained
            }
            // The raw request is committed: the file can go; processing failures leave the
            // row pending for `reprocessPending`.
            spool.remove(name)
            drained += 1
            _ = await process(inboundID: inboundID, channelID: entry.channelID, request: request, receivedAt: entry.receivedAt, oversize: false)
        }
        if drained > 0 { logger.info("spool drained", metadata: ["count": "\(drained)"]) }
        return drained
    }

    /// Re-processes raw requests left `pending` (a crash or an outage between storing and
    /// processing). Duplicates are recognised as usual.
    /// - Parameter olderThan: leave rows younger than this to the request still handling them.
    @discardableResult
    public func reprocessPending(olderThan age: TimeInterval = 60) async throws -> Int {
        let cutoff = Date().addingTimeInterval(-age)
        let rows = try await pool.withConnection { connection in
            try connection.query(
                """
                SELECT id, channel_id, method, path, headers, body, remote_addr, received_at FROM inbound
                WHERE status = 'pending' AND kind = 'http' AND received_at < \(cutoff)
                ORDER BY id LIMIT 100
                """, operation: "finding pending raw requests")
        }
        var count = 0
        for row in rows {
            let id = try row.decode("id", as: Int64.self)
            let headersJSON = try row.decode("headers", as: JSON.self)
            let headers = ((try? headersJSON.decode([String: String].self)) ?? [:]).map { (name: $0.key, value: $0.value) }
            var request = RawRequest(
                method: try row.decode("method", as: String?.self) ?? "POST", target: try row.decode("path", as: String?.self) ?? "/",
                headers: headers, body: [UInt8](try row.decode("body", as: Data.self)))
            request.remoteAddress = try row.decode("remote_addr", as: String?.self)
            _ = await process(
                inboundID: id, channelID: try row.decode("channel_id", as: String.self), request: request,
                receivedAt: try row.decode("received_at", as: Date.self), oversize: false)
            count += 1
        }
        return count
    }
}

/// Keeps intake whole in the background: drains the spool when the database is back and
/// re-processes requests left pending.
public struct IntakeMaintenance: Service {
    let intake: Intake
    let interval: Duration
    let logger: Logger

    public init(intake: Intake, interval: Duration = .seconds(2), logger: Logger = Logger(label: "escucha.intake.maintenance")) {
        self.intake = intake
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var ticks = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await intake.drainSpool()
            if ticks % 15 == 0 {
                do { try await intake.reprocessPending() } catch {
                    logger.warning("cannot re-process pending requests yet", metadata: ["error": "\(error)"])
                }
            }
            ticks += 1
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
