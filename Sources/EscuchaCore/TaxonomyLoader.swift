import Foundation

extension Taxonomy {
    /// Loads and validates a taxonomy from YAML.
    ///
    /// The file has `flags:` (a list of `{code, summary, severity, restricted (or sensitive),
    /// framework, category}`),
    /// `types:` and `sectors:` (lists of codes) and `fallback_type:`.
    /// - Parameters:
    ///   - yaml: the document.
    ///   - file: the name used in errors.
    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> Taxonomy {
        let root = try ConfigNode.parse(yaml, file: file)
        guard root.isMapping else { throw root.error("the taxonomy must be a mapping with flags, types and sectors") }
        guard let flagNodes = root["flags"]?.items, !flagNodes.isEmpty else {
            throw root.error("missing 'flags': list the flag codes under `flags:`")
        }
        var flags: [FlagDefinition] = []
        var seen = Set<String>()
        for node in flagNodes {
            let code = try node.requireString("code")
            let parts = code.split(separator: ".")
            guard parts.count >= 2, parts.allSatisfy({ part in part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
                throw node.error("flag code '\(code)' must look like family.name (letters, digits, underscores)")
            }
            guard seen.insert(code).inserted else { throw node.error("flag code '\(code)' is listed twice") }
            let severityText = try node.requireString("severity")
            guard let severity = Severity(rawValue: severityText) else {
                throw node["severity"]!.error("unknown severity '\(severityText)': use low, medium, high or critical")
            }
            // `sensitive` is the word many coding frameworks use for the same mark.
            let restricted = node["restricted"]?.bool ?? node["sensitive"]?.bool ?? false
            flags.append(FlagDefinition(
                code: FlagCode(code), family: String(parts[0]), summary: node["summary"]?.string ?? "",
                severity: severity, restricted: restricted, framework: node["framework"]?.string, category: node["category"]?.string))
        }
        let types = root.strings("types")
        guard !types.isEmpty else { throw root.error("missing 'types': list the feedback types") }
        let sectors = root.strings("sectors")
        guard !sectors.isEmpty else { throw root.error("missing 'sectors': list the sectors") }
        let fallback = root["fallback_type"]?.string ?? "other"
        guard types.contains(fallback) else {
            throw (root["fallback_type"] ?? root).error("fallback_type '\(fallback)' is not one of the types")
        }
        return Taxonomy(flags: flags, types: types, sectors: sectors, fallbackType: fallback)
    }

    /// Loads `taxonomy.yaml` from a file.
    public static func load(path: String) throws(ConfigError) -> Taxonomy {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read the taxonomy; check that Config/ is present")
        }
        return try parse(text, file: path)
    }
}
