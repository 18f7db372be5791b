import Agent
import CyberdeskAPI
import Foundation

/// A `RunEnvironment` that keeps everything in memory, standing in for the control plane:
/// secrets and input attachments it serves, and the events, images and exports it receives.
actor FakeRunEnvironment: RunEnvironment {
    struct Export: Sendable {
        var id: String
        var filename: String
        var path: String
        var bytes: [UInt8]
    }

    enum Failure: Error, CustomStringConvertible {
        case unknownSecret(String)
        case unknownAttachment(String)
        case uploadRefused

        var description: String {
            switch self {
            case .unknownSecret(let name): "no sensitive input named \(name)"
            case .unknownAttachment(let id): "no attachment \(id)"
            case .uploadRefused: "the server refused the upload (fake)"
            }
        }
    }

    private let secrets: [String: JSONValue]
    private let attachments: [String: [UInt8]]
    private(set) var events: [JSONObject] = []
    private(set) var images: [(id: String, png: [UInt8])] = []
    private(set) var exports: [Export] = []
    private(set) var secretRequests: [String] = []
    private(set) var startedSteps: [Int] = []
    /// Number of `record` calls (events arrive in batches).
    private(set) var recordCalls = 0
    private var refuseUploads = false
    /// Answers to `plan`, in order (a model's turns); afterwards the run ends `success`.
    private var plans: [PlanResponse] = []
    private(set) var planRequests: [PlanRequest] = []
    /// How long `plan` takes (a model thinking).
    private var planDelay: Duration = .zero

    init(secrets: [String: JSONValue] = [:], attachments: [String: [UInt8]] = [:]) {
        self.secrets = secrets
        self.attachments = attachments
    }

    func refuseUploads(_ refuse: Bool) {
        refuseUploads = refuse
    }

    func script(_ plans: [PlanResponse], delay: Duration = .zero) {
        self.plans = plans
        self.planDelay = delay
    }

    /// Like the server: the events sent along are recorded; the next scripted answer.
    func plan(_ request: PlanRequest) async throws -> PlanResponse {
        planRequests.append(request)
        events += request.events
        if planDelay > .zero { try await Task.sleep(for: planDelay) }
        guard !plans.isEmpty else { return PlanResponse(steps: [], end: PlanEnd(status: .success, errors: [])) }
        return plans.removeFirst()
    }

    func secret(named name: String) async throws -> JSONValue {
        secretRequests.append(name)
        guard let value = secrets[name] else { throw Failure.unknownSecret(name) }
        return value
    }

    func download(attachmentID: String, to path: String, maxBytes: Int64) async throws -> (
        sha256: String, size: Int64
    ) {
        guard let bytes = attachments[attachmentID] else { throw Failure.unknownAttachment(attachmentID) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (SHA256Digest.hex(bytes), Int64(bytes.count))
    }

    /// Like an HTTP client, refuses to send from a cancelled task.
    func record(_ events: [JSONObject]) async throws {
        try Task.checkCancellation()
        recordCalls += 1
        self.events += events
    }

    func uploadImage(_ png: [UInt8]) async throws -> String {
        if refuseUploads { throw Failure.uploadRefused }
        let id = "img_\(images.count + 1)"
        images.append((id, png))
        return id
    }

    func export(filename: String, path: String) async throws -> String {
        if refuseUploads { throw Failure.uploadRefused }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let id = "att_\(exports.count + 1)"
        exports.append(Export(id: id, filename: filename, path: path, bytes: bytes))
        return id
    }

    /// Like the server environment: events go with the step's start, refused from a
    /// cancelled task.
    func stepStarted(index: Int, events: [JSONObject]) async throws {
        startedSteps.append(index)
        guard !events.isEmpty else { return }
        try Task.checkCancellation()
        recordCalls += 1
        self.events += events
    }

    /// The history entries of steps, in order.
    var stepEvents: [JSONObject] {
        events.filter { $0["type"] == "step" }
    }

    /// Every event as compact JSON, to search for what must not be there.
    var recordedText: String {
        events.map { JSONValue.object($0).compactJSON }.joined(separator: "\n")
    }
}
