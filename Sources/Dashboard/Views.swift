import CyberdeskAPI
import Hummingbird
import FoundationEssentials

/// API answers as values Mustache renders: objects become `[String: Any]` (nulls left out,
/// so `{{#field}}` is false), arrays `[Any]`. Mustache escapes every `{{value}}` for HTML;
/// templates never use triple braces.
enum Views {
    /// A list page's `skip` query parameter: a non-negative number, 0 when missing or not one.
    static func skip(_ request: Request) -> Int {
        max(0, request.uri.queryParameters["skip"].flatMap { Int($0) } ?? 0)
    }

    /// `<option>`s for a `<select>` of many items (every machine), made here rather than by a
    /// template section: Mustache looks each field up in a context stack per item, which for
    /// a thousand machines was most of a page's render time (BENCHMARKS.md, "Dashboard").
    static func options(_ items: [(value: String, label: String)], selected: String) -> String {
        var html = ""
        html.reserveCapacity(items.count * 64)
        for item in items {
            html += "<option value=\""
            escapeHTML(item.value, into: &html)
            html += item.value == selected ? "\" selected>" : "\">"
            escapeHTML(item.label, into: &html)
            html += "</option>"
        }
        return html
    }

    /// Mustache's escaping (`& < > " '`), appending the text whole when it needs none.
    static func escapeHTML(_ text: String, into html: inout String) {
        func special(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">")
                || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
        }
        guard text.utf8.contains(where: special) else {
            html += text
            return
        }
        for character in text {
            switch character {
            case "&": html += "&amp;"
            case "<": html += "&lt;"
            case ">": html += "&gt;"
            case "\"": html += "&quot;"
            case "'": html += "&#39;"
            default: html.append(character)
            }
        }
    }

    static func value(_ json: JSONValue) -> Any {
        switch json {
        case .null: return false
        case .bool(let flag): return flag
        case .int(let number): return number
        case .double(let number): return number
        case .string(let text): return text
        case .array(let items): return items.map(value)
        case .object(let members): return object(members)
        }
    }

    static func object(_ members: JSONObject) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, member) in members where member != .null { out[key] = value(member) }
        return out
    }

    /// The items of a page answer (`{"items": [...], "total": n}`).
    static func items(_ page: JSONValue) -> [JSONObject] {
        page.objectValue?["items"]?.arrayValue?.compactMap(\.objectValue) ?? []
    }

    static func total(_ page: JSONValue) -> Int {
        Int(page.objectValue?["total"]?.intValue ?? 0)
    }

    /// Pretty-printed JSON for `<pre>` blocks and textareas.
    static func pretty(_ json: JSONValue?) -> String {
        guard let json, json != .null else { return "" }
        let encoder = APIJSON.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(json)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func parseJSON(_ text: String) -> JSONValue? {
        try? JSONParser.parse(text)
    }

    /// Previous/next links for a list of `total` items shown `limit` at a time from `skip`.
    static func pagination(path: String, query: [(String, String)], skip: Int, limit: Int, total: Int) -> [String: Any]
    {
        func link(_ skip: Int) -> String {
            let parts = query.filter { !$0.1.isEmpty && $0.0 != "skip" } + (skip > 0 ? [("skip", "\(skip)")] : [])
            return parts.isEmpty
                ? path : path + "?" + parts.map { "\($0.0)=\(FormFields.encode($0.1))" }.joined(separator: "&")
        }
        var out: [String: Any] = [
            "from": total == 0 ? 0 : skip + 1, "to": min(skip + limit, total), "total": total,
        ]
        if skip > 0 { out["previous"] = link(max(0, skip - limit)) }
        if skip + limit < total { out["next"] = link(skip + limit) }
        out["show"] = total > limit || skip > 0
        return out
    }

    static let runStatuses = [
        "scheduling", "running", "running_checks", "success", "task_failed", "error", "cancelled",
    ]
    static let finalStatuses: Set<String> = ["success", "task_failed", "error", "cancelled"]
}
