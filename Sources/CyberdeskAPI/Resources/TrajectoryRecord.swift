import FoundationEssentials

/// A recorded list of steps for a workflow (`STEPS.md`). A run executes its workflow's
/// trajectory marked `is_main`, else the newest approved one.
public struct TrajectoryRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var workflowID: String
    public var name: String?
    public var description: String?
    public var trajectoryData: [JSONValue]
    public var dimensions: JSONObject
    public var runID: String?
    public var originalInputValues: JSONObject?
    public var isApproved: Bool
    public var hasBeenApproved: Bool
    public var isGenerated: Bool
    public var isMain: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, organizationID: String, workflowID: String, name: String?, description: String?,
        trajectoryData: [JSONValue], dimensions: JSONObject, runID: String?, originalInputValues: JSONObject?,
        isApproved: Bool, hasBeenApproved: Bool, isGenerated: Bool, isMain: Bool, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.workflowID = workflowID
        self.name = name
        self.description = description
        self.trajectoryData = trajectoryData
        self.dimensions = dimensions
        self.runID = runID
        self.originalInputValues = originalInputValues
        self.isApproved = isApproved
        self.hasBeenApproved = hasBeenApproved
        self.isGenerated = isGenerated
        self.isMain = isMain
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, dimensions
        case organizationID = "organization_id"
        case workflowID = "workflow_id"
        case trajectoryData = "trajectory_data"
        case runID = "run_id"
        case originalInputValues = "original_input_values"
        case isApproved = "is_approved"
        case hasBeenApproved = "has_been_approved"
        case isGenerated = "is_generated"
        case isMain = "is_main"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `POST /v1/trajectories`.
public struct TrajectoryCreate: Codable, Sendable {
    public var workflowID: String
    public var trajectoryData: [JSONValue]
    public var dimensions: JSONObject
    public var name: String?
    public var description: String?
    public var runID: String?
    public var originalInputValues: JSONObject?
    public var isApproved: Bool?

    public init(
        workflowID: String, trajectoryData: [JSONValue], dimensions: JSONObject, name: String? = nil,
        description: String? = nil, runID: String? = nil, originalInputValues: JSONObject? = nil,
        isApproved: Bool? = nil
    ) {
        self.workflowID = workflowID
        self.trajectoryData = trajectoryData
        self.dimensions = dimensions
        self.name = name
        self.description = description
        self.runID = runID
        self.originalInputValues = originalInputValues
        self.isApproved = isApproved
    }

    enum CodingKeys: String, CodingKey {
        case name, description, dimensions
        case workflowID = "workflow_id"
        case trajectoryData = "trajectory_data"
        case runID = "run_id"
        case originalInputValues = "original_input_values"
        case isApproved = "is_approved"
    }
}
