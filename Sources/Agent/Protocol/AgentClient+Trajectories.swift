import CyberdeskAPI

extension AgentClient {
    /// `POST /v1/trajectories` (the public API): what `cyberdesk-agent record --upload` sends.
    /// The agent protocol gives a machine no way to create a trajectory, so this client is
    /// made with an organization API key as its credential, not the machine's. Returns the
    /// new trajectory's id.
    public func createTrajectory(_ create: TrajectoryCreate) async throws -> String {
        let answer = try await call(.POST, "/v1/trajectories", json: create, as: JSONValue.self)
        guard let id = answer?.objectValue?["id"]?.stringValue else {
            throw AgentClientError.protocolViolation("/v1/trajectories: the answer has no id")
        }
        return id
    }
}
