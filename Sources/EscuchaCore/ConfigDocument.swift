import Foundation
import Yams

/// An error in a configuration file, naming the file and line so a person can fix it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file, as given to the loader.
    public var file: String
    /// The 1-based line, when known.
    public var line: Int?
    /// What is wrong and, where it helps, what to write instead.
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// A YAML node that remembers its file and line, for configuration errors that point at
/// the right place.
public struct ConfigNode: Sendable {
    let node: Node
    /// The file the node was read from.
    public let file: String

    /// Parses `text` as YAML.
    /// - Parameters:
    ///   - text: the YAML source.
    ///   - file: the name used in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return ConfigNode(node: Node.mapping(Node.Mapping([])), file: file)
            }
            return ConfigNode(node: node, file: file)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), message: "not valid YAML: \(error)")
        } catch {
            throw ConfigError(file: file, line: nil, message: "not valid YAML: \(error)")
        }
    }

    /// Reads and parses the YAML file at `path`.
    public static func load(path: String) throws(ConfigError) -> ConfigNode {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read the file (\(error.localizedDescription)); check the path and its permissions")
        }
        return try parse(text, file: path)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    /// The 1-based line of this node.
    public var line: Int? { node.mark.map { $0.line } }

    /// An error located at this node.
    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, message: message)
    }

    /// The value under `key` in a mapping, or `nil`.
    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let mapping) = node else { return nil }
        for (k, v) in mapping where k.string == key {
            return ConfigNode(node: v, file: file)
        }
        return nil
    }

    /// The pairs of a mapping in file order (empty for other nodes).
    public var entries: [(key: String, keyNode: ConfigNode, value: ConfigNode)] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.map { (key: $0.key.string ?? "", keyNode: ConfigNode(node: $0.key, file: file), value: ConfigNode(node: $0.value, file: file)) }
    }

    /// The items of a sequence (a scalar counts as a one-item sequence).
    public var items: [ConfigNode] {
        switch node {
        case .sequence(let sequence): return sequence.map { ConfigNode(node: $0, file: file) }
        case .scalar: return [self]
        default: return []
        }
    }

    /// Whether this is a mapping.
    public var isMapping: Bool { if case .mapping = node { return true } else { return false } }

    /// The scalar text, or `nil` for collections.
    public var string: String? { node.string }

    /// The scalar as an integer.
    public var int: Int? { node.string.flatMap { Int($0) } }

    /// The scalar as a boolean (`true/false/yes/no`).
    public var bool: Bool? {
        switch node.string?.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    /// The required string under `key`.
    public func requireString(_ key: String) throws(ConfigError) -> String {
        guard let value = self[key]?.string, !value.isEmpty else {
            throw error("missing '\(key)': add `\(key): …` here")
        }
        return value
    }

    /// Strings under `key` (a list or a single scalar); empty when absent.
    public func strings(_ key: String) -> [String] {
        self[key]?.items.compactMap(\.string) ?? []
    }
}

extension Node: @retroactive @unchecked Sendable {}
