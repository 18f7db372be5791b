import FoundationEssentials

/// A `multipart/form-data` body (RFC 7578) split into its parts. Hummingbird has no parser
/// and the body is already collected (with the server's size limit), so this works on the
/// bytes: the boundary comes from `Content-Type`, parts are separated by
/// `CRLF--boundary`, and each part's headers end at the first empty line.
///
/// Hostile input is refused, never guessed at: a boundary RFC 2046 does not allow, a missing
/// closing delimiter, more than `maxParts` parts or headers larger than `maxHeaderBytes` are
/// all `MultipartError`s. The delimiter search is linear: a boundary holds no CR, so a failed
/// comparison never makes the scan step back.
struct MultipartFormData {
    struct Part: Sendable {
        /// `Content-Disposition: form-data; name="..."`.
        var name: String
        /// The `filename` parameter, if the part is a file.
        var filename: String?
        /// The part's own `Content-Type`, as the client claimed it.
        var contentType: String?
        var body: [UInt8]
    }

    var parts: [Part]

    static let maxParts = 16
    static let maxHeaderBytes = 8 * 1024

    func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(contentType: String) throws(MultipartError) -> String {
        let pieces = splitParameters(contentType)
        guard let type = pieces.first, type.lowercased() == "multipart/form-data" else {
            throw .notMultipart
        }
        guard let boundary = parameters(pieces.dropFirst())["boundary"] else { throw .badBoundary }
        // RFC 2046 bchars, 1 to 70 of them, not ending in a space.
        let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ".utf8)
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy(allowed.contains),
            boundary.utf8.last != UInt8(ascii: " ")
        else { throw .badBoundary }
        return boundary
    }

    init(body: [UInt8], contentType: String) throws(MultipartError) {
        let boundary = try Self.boundary(contentType: contentType)
        let dashBoundary = Array("--\(boundary)".utf8)
        let delimiter = [13, 10] + dashBoundary
        var parts: [Part] = []
        // The first delimiter may start the body (no CRLF before it) or follow a preamble.
        var position: Int
        if body.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let found = Self.find(delimiter, in: body, from: 0) {
            position = found + delimiter.count
        } else {
            throw .missingDelimiter
        }
        while true {
            // After a delimiter: "--" ends the body, else optional whitespace then CRLF.
            if Self.matches([45, 45], in: body, at: position) { break }
            while position < body.count, body[position] == 32 || body[position] == 9 { position += 1 }
            guard Self.matches([13, 10], in: body, at: position) else { throw .malformedDelimiter }
            position += 2
            guard parts.count < Self.maxParts else { throw .tooManyParts }
            // Headers end at CRLF CRLF; a part without headers starts with CRLF at once.
            let headerEnd: Int
            let contentStart: Int
            if Self.matches([13, 10], in: body, at: position) {
                headerEnd = position
                contentStart = position + 2
            } else {
                let limit = min(body.count, position + Self.maxHeaderBytes)
                guard let end = Self.find([13, 10, 13, 10], in: body, from: position, before: limit) else {
                    throw position + Self.maxHeaderBytes <= body.count ? .headersTooLarge : .missingDelimiter
                }
                headerEnd = end
                contentStart = end + 4
            }
            guard let next = Self.find(delimiter, in: body, from: contentStart) else { throw .missingDelimiter }
            let headers = try Self.headers(Array(body[position..<headerEnd]))
            guard let disposition = headers["content-disposition"] else { throw .missingDisposition }
            let pieces = Self.splitParameters(disposition)
            guard pieces.first?.lowercased() == "form-data" else { throw .missingDisposition }
            let parameters = Self.parameters(pieces.dropFirst())
            guard let name = parameters["name"] else { throw .missingDisposition }
            parts.append(
                Part(
                    name: name, filename: parameters["filename"], contentType: headers["content-type"],
                    body: Array(body[contentStart..<next])))
            position = next + delimiter.count
        }
        self.parts = parts
    }

    /// Header lines of one part, names lowercased. Obsolete line folding is refused.
    private static func headers(_ bytes: [UInt8]) throws(MultipartError) -> [String: String] {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .badHeader }
        var headers: [String: String] = [:]
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":"), let first = line.first, first != " ", first != "\t" else {
                throw .badHeader
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) else {
                throw .badHeader
            }
            headers[name] = value
        }
        return headers
    }

    /// `a; b=c; d="e;f"` → `["a", "b=c", "d=\"e;f\""]`: semicolons inside quotes do not split.
    static func splitParameters(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted && character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
                current.append(character)
            } else if character == ";" && !quoted {
                pieces.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        pieces.append(current.trimmingCharacters(in: .whitespaces))
        return pieces.filter { !$0.isEmpty }
    }

    /// `name=value` pairs, names lowercased, quoted values unquoted (`\"` → `"`). The first of
    /// a repeated name wins. `filename*` (RFC 5987) is decoded when it is UTF-8.
    static func parameters(_ pieces: ArraySlice<String>) -> [String: String] {
        var result: [String: String] = [:]
        for piece in pieces {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let name = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                var unquoted = ""
                var escaped = false
                for character in value.dropFirst().dropLast() {
                    if escaped {
                        unquoted.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else {
                        unquoted.append(character)
                    }
                }
                value = unquoted
            }
            if name == "filename*" {
                if let decoded = extendedValue(value) { result["filename"] = decoded }
                continue
            }
            if result[name] == nil { result[name] = value }
        }
        return result
    }

    /// `UTF-8''percent%20encoded` → the text; nil for other charsets or bad escapes.
    private static func extendedValue(_ value: String) -> String? {
        let parts = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].lowercased() == "utf-8" else { return nil }
        var bytes: [UInt8] = []
        var iterator = Array(parts[2].utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func matches(_ pattern: [UInt8], in body: [UInt8], at position: Int) -> Bool {
        guard position + pattern.count <= body.count else { return false }
        for index in pattern.indices where body[position + index] != pattern[index] { return false }
        return true
    }

    /// The first index at or after `start` where `pattern` begins and ends before `end`.
    static func find(_ pattern: [UInt8], in body: [UInt8], from start: Int, before end: Int? = nil) -> Int? {
        let end = end ?? body.count
        guard !pattern.isEmpty, start + pattern.count <= end else { return nil }
        return body.withUnsafeBufferPointer { bytes -> Int? in
            pattern.withUnsafeBufferPointer { needle -> Int? in
                let first = needle[0]
                var index = start
                let last = end - needle.count
                while index <= last {
                    if bytes[index] != first {
                        index += 1
                        continue
                    }
                    var matched = 1
                    while matched < needle.count, bytes[index + matched] == needle[matched] { matched += 1 }
                    if matched == needle.count { return index }
                    index += 1
                }
                return nil
            }
        }
    }
}

/// Why a multipart body was refused; each is answered 422 naming `body.file`, as FastAPI does.
enum MultipartError: Error, Equatable, CustomStringConvertible {
    case notMultipart
    case badBoundary
    case missingDelimiter
    case malformedDelimiter
    case tooManyParts
    case headersTooLarge
    case badHeader
    case missingDisposition

    var description: String {
        switch self {
        case .notMultipart: "the body must be multipart/form-data with a part named 'file'"
        case .badBoundary: "the Content-Type has no usable boundary parameter (1 to 70 characters allowed by RFC 2046)"
        case .missingDelimiter: "the multipart body is incomplete: a part has no closing boundary"
        case .malformedDelimiter: "a multipart boundary line is not followed by CRLF"
        case .tooManyParts: "the multipart body has more than \(MultipartFormData.maxParts) parts"
        case .headersTooLarge: "a multipart part's headers are larger than \(MultipartFormData.maxHeaderBytes) bytes"
        case .badHeader: "a multipart part has a malformed header line"
        case .missingDisposition: "a multipart part has no 'Content-Disposition: form-data; name=...' header"
        }
    }
}
