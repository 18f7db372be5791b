/// The release version of both programs: `--version`, the agent's User-Agent and the version
/// it registers with. Written only here; `scripts/package` reads it from this line to name
/// the Debian packages, so a release bumps this string and nothing else (docs/RELEASING.md).
public enum CyberdeskVersion {
    public static let current = "0.3.0"
}
