import ArgumentParser
import Foundation

/// Where Escucha finds its configuration (`Config/`).
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config-dir"), help: ArgumentHelp("The configuration folder (lexicons, taxonomy, rules).", valueName: "path"))
    var configDirOption: String?

    /// `--config-dir`, else `ESCUCHA_CONFIG_DIR`, else `./Config`.
    var configDirectory: String {
        configDirOption ?? ProcessInfo.processInfo.environment["ESCUCHA_CONFIG_DIR"] ?? "Config"
    }
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
