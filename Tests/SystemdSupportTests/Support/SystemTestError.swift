/// A failure inside the System tests' fixtures (sockets, ptys, processes), with the reason.
struct SystemTestError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
