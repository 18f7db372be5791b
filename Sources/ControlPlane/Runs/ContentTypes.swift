/// Content types by file extension, for attachments whose type the caller did not give.
enum ContentTypes {
    static func guess(_ filename: String) -> String {
        let ext = filename.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return switch ext {
        case "txt", "log": "text/plain"
        case "csv": "text/csv"
        case "json": "application/json"
        case "pdf": "application/pdf"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "html", "htm": "text/html"
        case "xml": "application/xml"
        case "zip": "application/zip"
        case "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        default: "application/octet-stream"
        }
    }
}
