import CyberdeskAPI
import Desktop
import Foundation

/// The two wire formats the scripted model speaks.
enum WireFormatName: String, Sendable {
    case anthropic
    case openai
}

/// What the scripted model needs from a request, read from either wire format.
struct WireConversation {
    var format: WireFormatName
    var model: String
    /// Assistant turns already in the conversation: the script step of this request.
    var assistantTurns: Int
    /// The text of the first user message (the prompt, inputs substituted).
    var promptText: String
    /// The latest image: the last tool_result / user image (Anthropic), the last image_url (OpenAI).
    var latestImage: [UInt8]?
    /// The screen the computer tool declares (Anthropic) — nil means the image's own size.
    var declaredScreen: (width: Int, height: Int)?
    /// The tool declaration or the body says coordinates are 0-1000.
    var saysNormalized: Bool
    /// The images of the first user message, in order (a cache detection question's crops).
    var promptImages: [[UInt8]]
    /// The names of the declared tools (`computer` included when declared).
    var toolNames: [String]

    init(format: WireFormatName, body: JSONObject) throws {
        self.format = format
        model = body["model"]?.stringValue ?? "scripted"
        let messages = body["messages"]?.arrayValue ?? []
        assistantTurns = messages.filter { $0.objectValue?["role"]?.stringValue == "assistant" }.count
        let firstUser = messages.first { $0.objectValue?["role"]?.stringValue == "user" }?.objectValue
        promptText = Self.texts(firstUser?["content"]).joined(separator: "\n")
        promptImages = (firstUser?["content"]?.arrayValue ?? []).compactMap {
            Self.lastImage(.array([$0]), format: format)
        }
        toolNames = (body["tools"]?.arrayValue ?? []).compactMap {
            $0.objectValue?["name"]?.stringValue ?? $0.objectValue?["function"]?.objectValue?["name"]?.stringValue
        }
        latestImage = nil
        declaredScreen = nil
        saysNormalized = body["coordinate_space"]?.stringValue == "normalized_1000"
        for message in messages.reversed() {
            if let image = Self.lastImage(message.objectValue?["content"], format: format) {
                latestImage = image
                break
            }
        }
        for tool in body["tools"]?.arrayValue ?? [] {
            guard let tool = tool.objectValue else { continue }
            if tool["name"]?.stringValue == "computer", let width = tool["display_width_px"]?.intValue,
                let height = tool["display_height_px"]?.intValue
            {
                declaredScreen = (Int(width), Int(height))
            }
            if let function = tool["function"]?.objectValue, function["name"]?.stringValue == "computer",
                let description = function["description"]?.stringValue, description.contains("normalized_1000")
            {
                saysNormalized = true
            }
        }
    }

    /// The N-th text between « and » of the prompt.
    func quoted(_ index: Int) -> String? {
        var found: [String] = []
        var rest = Substring(promptText)
        while let open = rest.firstIndex(of: "«") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "»") else { break }
            found.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return index >= 0 && index < found.count ? found[index] : nil
    }

    private static func texts(_ content: JSONValue?) -> [String] {
        if let text = content?.stringValue { return [text] }
        return (content?.arrayValue ?? []).compactMap { part in
            guard let part = part.objectValue, part["type"]?.stringValue == "text" else { return nil }
            return part["text"]?.stringValue
        }
    }

    private static func lastImage(_ content: JSONValue?, format: WireFormatName) -> [UInt8]? {
        for part in (content?.arrayValue ?? []).reversed() {
            guard let part = part.objectValue else { continue }
            switch (format, part["type"]?.stringValue) {
            case (.anthropic, "image"):
                if let data = part["source"]?.objectValue?["data"]?.stringValue,
                    let bytes = Data(base64Encoded: data)
                {
                    return Array(bytes)
                }
            case (.anthropic, "tool_result"):
                if let image = lastImage(part["content"], format: format) { return image }
            case (.openai, "image_url"):
                if let url = part["image_url"]?.objectValue?["url"]?.stringValue ?? part["image_url"]?.stringValue,
                    let comma = url.firstIndex(of: ","), url.hasPrefix("data:"),
                    let bytes = Data(base64Encoded: String(url[url.index(after: comma)...]))
                {
                    return Array(bytes)
                }
            default:
                continue
            }
        }
        return nil
    }
}
