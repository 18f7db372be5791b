import ControlPlane
import CyberdeskAPI
import Foundation

/// Builders for stored records with sensible defaults; tests name only what matters to them.
/// Times are whole seconds after `Records.epoch`, so they survive a round trip exactly.
enum Records {
    static let epoch = Date(timeIntervalSince1970: 1_780_000_000)

    static func id() -> String { UUID().uuidString.lowercased() }

    static func time(_ seconds: Int) -> Date { epoch.addingTimeInterval(Double(seconds)) }

    static func workflow(
        organizationID: String, id: String = Records.id(), name: String? = "workflow", prompt: String = "Do the thing",
        inputSchema: String? = nil, at seconds: Int = 0
    ) -> Workflow {
        Workflow(
            id: id, organizationID: organizationID, name: name, mainPrompt: prompt, inputSchema: inputSchema,
            outputSchema: nil, includesFileExports: false, isWebhooksEnabled: false, terminalCommandAllowlist: nil,
            includesInputVariables: false, oldVersions: [], createdAt: time(seconds), updatedAt: time(seconds))
    }

    static func trajectory(
        organizationID: String, workflowID: String, id: String = Records.id(), name: String? = "trajectory",
        steps: [JSONValue] = [["func_name": "screenshot"]], runID: String? = nil, isApproved: Bool = true,
        isGenerated: Bool = false, isMain: Bool = false, at seconds: Int = 0
    ) -> TrajectoryRecord {
        TrajectoryRecord(
            id: id, organizationID: organizationID, workflowID: workflowID, name: name, description: nil,
            trajectoryData: steps, dimensions: ["width": 1024, "height": 768], runID: runID,
            originalInputValues: nil, isApproved: isApproved, hasBeenApproved: isApproved, isGenerated: isGenerated,
            isMain: isMain, createdAt: time(seconds), updatedAt: time(seconds))
    }

    static func machine(
        organizationID: String, id: String = Records.id(), name: String? = "machine", fingerprint: String? = nil,
        status: MachineStatus = .connected, isAvailable: Bool = true, parameters: JSONObject? = nil,
        reservedSessionID: String? = nil, at seconds: Int = 0
    ) -> Machine {
        Machine(
            id: id, organizationID: organizationID, fingerprint: fingerprint ?? "fp-\(id)", unkeyKeyID: "key-\(id)",
            name: name, version: "1.0", hostname: "host-\(id.prefix(8))", osInfo: "Linux", status: status,
            isAvailable: isAvailable, alertsEnabled: false, machineParameters: parameters,
            machineSensitiveParameters: nil, reservedSessionID: reservedSessionID, lastSeen: time(seconds),
            createdAt: time(seconds))
    }

    static func pool(
        organizationID: String, id: String = Records.id(), name: String, parameters: JSONObject? = nil,
        at seconds: Int = 0
    ) -> Pool {
        Pool(
            id: id, organizationID: organizationID, name: name, description: nil, poolParameters: parameters,
            poolSensitiveParameters: nil, machineCount: 0, createdAt: time(seconds), updatedAt: time(seconds))
    }

    static func connection(
        organizationID: String, machineID: String, id: String = Records.id(), status: ConnectionStatus = .connected,
        at seconds: Int = 0
    ) -> Connection {
        Connection(
            id: id, organizationID: organizationID, websocketID: "ws-\(id.prefix(8))", machineID: machineID,
            connectedAt: time(seconds), disconnectedAt: nil, lastPing: time(seconds), status: status,
            ipAddress: "127.0.0.1", userAgent: "tests")
    }

    static func attachment(
        organizationID: String, runID: String, id: String = Records.id(), filename: String = "file.txt",
        type: AttachmentType = .input, sha256: String = String(repeating: "ab", count: 32), at seconds: Int = 0
    ) -> RunAttachment {
        RunAttachment(
            id: id, organizationID: organizationID, runID: runID, filename: filename, contentType: "text/plain",
            attachmentType: type, sizeBytes: 5, sha256: sha256, storagePath: "sha256/" + sha256, targetPath: nil,
            cleanupImportsAfterRun: false, expiresAt: nil, createdAt: time(seconds))
    }

    static func run(
        organizationID: String, workflowID: String, id: String = Records.id(), status: RunStatus = .scheduling,
        pinnedMachineID: String? = nil, assignedMachineID: String? = nil, sessionID: String? = nil,
        inputs: JSONObject = [:], sequence: Int64? = nil, at seconds: Int = 0
    ) -> StoredRun {
        let run = Run(
            id: id, organizationID: organizationID, workflowID: workflowID,
            machineID: assignedMachineID ?? pinnedMachineID, status: status, inputValues: inputs,
            sensitiveInputAliases: nil, sessionID: sessionID, sessionAlias: nil, releaseSessionAfter: nil, poolIDs: [],
            isPriority: false, mainPrompt: "Do the thing", createdAt: time(seconds))
        return StoredRun(
            run: run, pinnedMachineID: pinnedMachineID, assignedMachineID: assignedMachineID,
            sequence: sequence ?? Int64(seconds) * 1_000_000)
    }
}
