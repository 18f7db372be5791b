/// A compiled (sub)schema: keyword values checked and typed once, when the schema is loaded,
/// so validation never meets a malformed keyword.
indirect enum SchemaNode: Sendable {
    /// `true` accepts everything, `false` nothing.
    case boolean(Bool)
    case keywords(SchemaKeywords)
}
