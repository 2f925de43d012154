import Foundation

/// Administrative codes of a gazetteer place, for HXL exports (#country, #adm1, #adm2).
public struct PlaceCodes: Sendable, Equatable, Codable {
    /// ISO 3166-1 alpha-2.
    public var country: String
    /// ISO 3166-2 subdivision, when known.
    public var admin1: String?
    /// National municipality code, when known.
    public var admin2: String?

    /// Creates codes.
    public init(country: String, admin1: String? = nil, admin2: String? = nil) {
        self.country = country
        self.admin1 = admin1
        self.admin2 = admin2
    }
}

/// The administrative codes of every place of `Config/places.yaml`, by place name.
public struct PlaceDirectory: Sendable {
    /// Codes by the place's `name`.
    public var codes: [String: PlaceCodes]

    /// Creates a directory.
    public init(codes: [String: PlaceCodes] = [:]) { self.codes = codes }

    /// Parses the gazetteer (`places:` with `name`, `country`, `admin1`, `admin2`).
    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> PlaceDirectory {
        let root = try ConfigNode.parse(yaml, file: file)
        guard let items = root["places"]?.items else { throw root.error("missing 'places': list the places under `places:`") }
        var codes: [String: PlaceCodes] = [:]
        for item in items {
            let name = try item.requireString("name")
            codes[name] = PlaceCodes(
                country: item["country"]?.string ?? "", admin1: item["admin1"]?.string, admin2: item["admin2"]?.string)
        }
        return PlaceDirectory(codes: codes)
    }

    /// Loads `places.yaml`.
    public static func load(path: String) throws(ConfigError) -> PlaceDirectory {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, line: nil, message: "cannot read the gazetteer; check that Config/places.yaml is present")
        }
        return try parse(text, file: path)
    }
}
