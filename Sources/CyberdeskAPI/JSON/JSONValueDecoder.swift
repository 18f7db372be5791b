import FoundationEssentials

/// Decodes a `Decodable` type from a ``JSONValue`` tree, with the API's dialect
/// (``APIJSON``: ISO-8601 timestamps, keys as written).
///
/// With ``JSONParser`` this is `APIJSON.decode(_:from:)`, which the store uses to read its
/// records: a `JSONValue` field (a run's history, inputs, parameters, trajectory steps) is
/// handed over as it was parsed instead of being found by trial and error (see
/// ``JSONParser`` for why that mattered). Behaves as `JSONDecoder` does for the types of the
/// API: integers decode from integral numbers only, `decodeIfPresent` gives nil for a missing
/// key or null, a missing key is `keyNotFound`, a wrong kind `typeMismatch`.
public struct JSONValueDecoder: Decoder {
    public let value: JSONValue
    public let codingPath: [any CodingKey]
    public var userInfo: [CodingUserInfoKey: Any] { [:] }

    public init(_ value: JSONValue, codingPath: [any CodingKey] = []) {
        self.value = value
        self.codingPath = codingPath
    }

    public func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw Self.mismatch([String: JSONValue].self, value, codingPath)
        }
        return KeyedDecodingContainer(Keyed<Key>(members: members, codingPath: codingPath))
    }

    public func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw Self.mismatch([JSONValue].self, value, codingPath) }
        return Unkeyed(elements: elements, codingPath: codingPath)
    }

    public func singleValueContainer() throws -> any SingleValueDecodingContainer {
        Single(value: value, codingPath: codingPath)
    }

    // MARK: - Values

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        if value == .null {
            return DecodingError.valueNotFound(
                type, DecodingError.Context(codingPath: path, debugDescription: "Cannot get \(type) -- found null value instead"))
        }
        return DecodingError.typeMismatch(
            type,
            DecodingError.Context(
                codingPath: path, debugDescription: "Expected to decode \(type) but found \(value.typeName) instead."))
    }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, at path: [any CodingKey]) throws -> T {
        // The types decoded most, without a detour through `init(from:)`.
        if T.self == JSONValue.self { return value as! T }
        if T.self == String.self { return try string(value, path) as! T }
        if T.self == [String: JSONValue].self {
            guard case .object(let members) = value else { throw mismatch(T.self, value, path) }
            return members as! T
        }
        if T.self == [JSONValue].self {
            guard case .array(let elements) = value else { throw mismatch(T.self, value, path) }
            return elements as! T
        }
        if T.self == Bool.self { return try bool(value, path) as! T }
        if T.self == Int.self { return try integer(Int.self, value, path) as! T }
        if T.self == Double.self { return try double(value, path) as! T }
        // The other numbers (their `init(from:)` would ask a single value container, which
        // comes back here).
        if let integerType = T.self as? any FixedWidthInteger.Type {
            return try integer(integerType, value, path) as! T
        }
        if T.self == Float.self { return Float(try double(value, path)) as! T }
        if T.self == Date.self {
            let text = try string(value, path)
            guard let date = APIJSON.parseTimestamp(text) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(codingPath: path, debugDescription: "'\(text)' is not an ISO-8601 date-time"))
            }
            return date as! T
        }
        return try T(from: JSONValueDecoder(value, codingPath: path))
    }

    static func string(_ value: JSONValue, _ path: [any CodingKey]) throws -> String {
        guard case .string(let text) = value else { throw mismatch(String.self, value, path) }
        return text
    }

    static func bool(_ value: JSONValue, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch(Bool.self, value, path) }
        return flag
    }

    static func double(_ value: JSONValue, _ path: [any CodingKey]) throws -> Double {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: throw mismatch(Double.self, value, path)
        }
    }

    static func integer<T: FixedWidthInteger>(_ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> T {
        let result: T?
        switch value {
        case .int(let number): result = T(exactly: number)
        case .double(let number): result = T(exactly: number)
        default: throw mismatch(T.self, value, path)
        }
        guard let result else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: path, debugDescription: "Number \(value.compactJSON) does not fit in \(T.self)."))
        }
        return result
    }

    // MARK: - Containers

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [String: JSONValue]
        let codingPath: [any CodingKey]

        var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

        private func member(_ key: Key) throws -> JSONValue {
            guard let value = members[key.stringValue] else {
                throw DecodingError.keyNotFound(
                    key,
                    DecodingError.Context(
                        codingPath: codingPath,
                        debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
            }
            return value
        }

        func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try JSONValueDecoder.decode(type, from: try member(key), at: codingPath + [key])
        }

        // The primitive requirements, all through the generic one.
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type as Bool.Type, key) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type as String.Type, key) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type as Double.Type, key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type as Float.Type, key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type as Int.Type, key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type as Int8.Type, key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type as Int16.Type, key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type as Int32.Type, key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type as Int64.Type, key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type as UInt.Type, key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type as UInt8.Type, key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type as UInt16.Type, key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type as UInt32.Type, key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type as UInt64.Type, key) }

        private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
            try JSONValueDecoder.decode(type, from: try member(key), at: codingPath + [key])
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard let value = members[key.stringValue], value != .null else { return nil }
            return try JSONValueDecoder.decode(type, from: value, at: codingPath + [key])
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try JSONValueDecoder(try member(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try JSONValueDecoder(try member(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder {
            JSONValueDecoder(members["super"] ?? .null, codingPath: codingPath + [AnyKey("super")])
        }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            JSONValueDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0

        init(elements: [JSONValue], codingPath: [any CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }

        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        private var path: [any CodingKey] { codingPath + [AnyKey(index: currentIndex)] }

        private func next<T>(_ type: T.Type) throws -> JSONValue {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    type, DecodingError.Context(codingPath: path, debugDescription: "Unkeyed container is at end."))
            }
            return elements[currentIndex]
        }

        mutating func decodeNil() throws -> Bool {
            guard try next(JSONValue.self) == .null else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let value = try JSONValueDecoder.decode(type, from: try next(type), at: path)
            currentIndex += 1
            return value
        }

        mutating func decode(_ type: Bool.Type) throws -> Bool { try next(decoding: type) }
        mutating func decode(_ type: String.Type) throws -> String { try next(decoding: type) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next(decoding: type) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next(decoding: type) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next(decoding: type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(decoding: type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(decoding: type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(decoding: type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(decoding: type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next(decoding: type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(decoding: type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(decoding: type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(decoding: type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(decoding: type) }

        private mutating func next<T: Decodable>(decoding type: T.Type) throws -> T {
            let value = try JSONValueDecoder.decode(type, from: try next(type), at: path)
            currentIndex += 1
            return value
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            let container = try JSONValueDecoder(try next(JSONObject.self), codingPath: path).container(keyedBy: type)
            currentIndex += 1
            return container
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let container = try JSONValueDecoder(try next([JSONValue].self), codingPath: path).unkeyedContainer()
            currentIndex += 1
            return container
        }

        mutating func superDecoder() throws -> any Decoder {
            let decoder = JSONValueDecoder(try next(JSONValue.self), codingPath: path)
            currentIndex += 1
            return decoder
        }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [any CodingKey]

        func decodeNil() -> Bool { value == .null }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONValueDecoder.decode(type, from: value, at: codingPath)
        }

        func decode(_ type: Bool.Type) throws -> Bool { try JSONValueDecoder.decode(type as Bool.Type, from: value, at: codingPath) }
        func decode(_ type: String.Type) throws -> String { try JSONValueDecoder.decode(type as String.Type, from: value, at: codingPath) }
        func decode(_ type: Double.Type) throws -> Double { try JSONValueDecoder.decode(type as Double.Type, from: value, at: codingPath) }
        func decode(_ type: Float.Type) throws -> Float { try JSONValueDecoder.decode(type as Float.Type, from: value, at: codingPath) }
        func decode(_ type: Int.Type) throws -> Int { try JSONValueDecoder.decode(type as Int.Type, from: value, at: codingPath) }
        func decode(_ type: Int8.Type) throws -> Int8 { try JSONValueDecoder.decode(type as Int8.Type, from: value, at: codingPath) }
        func decode(_ type: Int16.Type) throws -> Int16 { try JSONValueDecoder.decode(type as Int16.Type, from: value, at: codingPath) }
        func decode(_ type: Int32.Type) throws -> Int32 { try JSONValueDecoder.decode(type as Int32.Type, from: value, at: codingPath) }
        func decode(_ type: Int64.Type) throws -> Int64 { try JSONValueDecoder.decode(type as Int64.Type, from: value, at: codingPath) }
        func decode(_ type: UInt.Type) throws -> UInt { try JSONValueDecoder.decode(type as UInt.Type, from: value, at: codingPath) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONValueDecoder.decode(type as UInt8.Type, from: value, at: codingPath) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONValueDecoder.decode(type as UInt16.Type, from: value, at: codingPath) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONValueDecoder.decode(type as UInt32.Type, from: value, at: codingPath) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONValueDecoder.decode(type as UInt64.Type, from: value, at: codingPath) }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?

        init(_ string: String) {
            stringValue = string
        }

        init(index: Int) {
            stringValue = "Index \(index)"
            intValue = index
        }

        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { self.init(index: intValue) }
    }
}

extension APIJSON {
    /// Decodes `type` from JSON text: ``JSONParser`` then ``JSONValueDecoder``, the same
    /// results as `decoder().decode(_:from:)` at a fraction of the cost for free-form fields.
    /// Text that is not JSON is `DecodingError.dataCorrupted` at the top (empty coding path),
    /// as with `JSONDecoder`.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONValueDecoder.decode(type, from: try parsed { () throws(JSONParser.Failure) in try JSONParser.parse(text) }, at: [])
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONValueDecoder.decode(type, from: try parsed { () throws(JSONParser.Failure) in try JSONParser.parse(bytes: bytes) }, at: [])
    }

    private static func parsed(_ parse: () throws(JSONParser.Failure) -> JSONValue) throws -> JSONValue {
        do {
            return try parse()
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: [], debugDescription: error.description, underlyingError: error))
        }
    }
}
