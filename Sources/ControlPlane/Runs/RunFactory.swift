import CyberdeskAPI
import FoundationEssentials
import Synchronization

/// Turns run requests (`POST /v1/runs`, bulk, chain, retry) into stored runs: checks the
/// references, the inputs against the workflow's schema and trajectory, seals sensitive
/// values in the vault and stores file inputs as attachments — all in one transaction.
public final class RunFactory: Sendable {
    let store: any Store
    let blobs: any BlobStore
    let vault: Vault
    let limits: Limits
    let now: @Sendable () -> Date
    private let lastSequence = Mutex<Int64>(0)

    public struct Limits: Sendable {
        /// Largest decoded file input or attachment.
        public var maxFileBytes: Int
        public init(maxFileBytes: Int = 50 << 20) { self.maxFileBytes = maxFileBytes }
    }

    public init(
        store: any Store, blobs: any BlobStore, vault: Vault, limits: Limits = Limits(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.blobs = blobs
        self.vault = vault
        self.limits = limits
        self.now = now
    }

    /// Creation order: the current time in microseconds, strictly increasing.
    func nextSequence(_ date: Date) -> Int64 {
        lastSequence.withLock { last in
            last = max(last + 1, Timestamp.micros(date))
            return last
        }
    }

    /// One run to create, after the request's shape has been checked.
    public struct Request: Sendable {
        public var workflowID: String
        public var machineID: String?
        public var poolIDs: [String]
        public var inputValues: JSONObject?
        public var sensitiveInputValues: JSONObject?
        public var fileInputs: [FileInput]
        public var sessionID: String?
        public var startSession: Bool
        public var sessionAlias: String?
        public var releaseSessionAfter: Bool?
        public var isPriority: Bool
        public var mainPrompt: String?
        public var mainAgentModelID: String?
        public var modelMetadata: WorkflowModelMetadata?
        public var chainIndex: Int?

        public init(_ create: RunCreate) {
            workflowID = create.workflowID
            machineID = create.machineID
            poolIDs = create.poolIDs ?? []
            inputValues = create.inputValues
            sensitiveInputValues = create.sensitiveInputValues
            fileInputs = create.fileInputs ?? []
            sessionID = create.sessionID
            startSession = create.startSession ?? false
            sessionAlias = create.sessionAlias
            releaseSessionAfter = create.releaseSessionAfter
            isPriority = create.isPriority ?? false
            mainPrompt = create.mainPrompt
            mainAgentModelID = create.mainAgentModelID
            modelMetadata = create.modelMetadata
        }
    }

    /// File inputs decoded and stored as blobs (outside any transaction: blob writes are
    /// plain file I/O). A request refused later discards the blobs it wrote (`discard`).
    struct StoredFile: Sendable {
        var input: FileInput
        var sha256: String
        var size: Int64
        /// Whether this request wrote the blob (false when the same content was stored before).
        var created: Bool
    }

    /// Checks every input before storing any, so a request refused for its third file leaves
    /// no blob of its first behind.
    func storeFiles(_ inputs: [FileInput]) async throws -> [StoredFile] {
        var decoded: [(FileInput, [UInt8])] = []
        for (index, input) in inputs.enumerated() {
            try Self.checkFilename(input.filename, field: "file_inputs[\(index)].filename")
            if let target = input.targetPath {
                try Self.checkTargetPath(target, field: "file_inputs[\(index)].target_path")
            }
            guard input.content.utf8.count / 4 * 3 <= limits.maxFileBytes + 3 else {
                throw ControlPlaneError.tooLarge(
                    "file_inputs[\(index)] '\(input.filename)' is larger than the limit of \(limits.maxFileBytes) bytes"
                )
            }
            guard let bytes = Self.decodeBase64(input.content) else {
                throw ControlPlaneError.badRequest("file_inputs[\(index)].content is not valid base64")
            }
            guard bytes.count <= limits.maxFileBytes else {
                throw ControlPlaneError.tooLarge(
                    "file_inputs[\(index)] '\(input.filename)' is larger than the limit of \(limits.maxFileBytes) bytes"
                )
            }
            decoded.append((input, Array(bytes)))
        }
        var files: [StoredFile] = []
        do {
            for (input, bytes) in decoded {
                let existed = try await blobs.contains(FileBlobStore.digest(bytes))
                let sha256 = try await blobs.put(bytes)
                files.append(StoredFile(input: input, sha256: sha256, size: Int64(bytes.count), created: !existed))
            }
        } catch {
            await discard(files)
            throw error
        }
        return files
    }

    /// Deletes the blobs a failed request wrote, unless an attachment refers to them by now.
    func discard(_ files: [StoredFile]) async {
        for file in files where file.created {
            let count = try? await store.transaction { try await $0.attachmentCount(sha256: file.sha256) }
            if count == 0 { try? await blobs.delete(file.sha256) }
        }
    }

    /// Base64 as the SDK sends it; line breaks and spaces are allowed, any other character
    /// is refused rather than skipped (skipping turned `%%%` into an empty file).
    static func decodeBase64(_ text: String) -> Data? {
        Data(base64Encoded: String(text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)))
    }

    /// A file name is a single path component without control characters.
    static func checkFilename(_ name: String, field: String) throws {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\\"),
            name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw ControlPlaneError.badRequest(
                "\(field) '\(name.debugDescription.dropFirst().dropLast())' must be a plain file name: no '/', '\\', '..' or control characters, at most 255 bytes"
            )
        }
    }

    /// A target path may be absolute, `~/...` or relative to `~/CyberdeskTransfers`, but never
    /// climbs with `..` and has no control characters; the agent confines it further.
    static func checkTargetPath(_ path: String, field: String) throws {
        let components = path.split(separator: "/")
        guard !path.isEmpty, path.utf8.count <= 4096, !components.contains(".."),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw ControlPlaneError.badRequest(
                "\(field) must be a path without '..' components or control characters")
        }
    }

    /// Creates runs in one transaction. Runs of one call share `files` and get consecutive
    /// sequence numbers.
    /// `newSessionID` opens that session first (a chain's session). `identical` (a bulk
    /// create: one request, many runs) looks up and checks what the runs refer to once.
    public func create(
        _ requests: [Request], organizationID: String, newSessionID: String? = nil, identical: Bool = false
    ) async throws -> [StoredRun] {
        var filesPerRequest: [[StoredFile]] = []
        do {
            for request in requests { filesPerRequest.append(try await storeFiles(request.fileInputs)) }
        } catch {
            await discard(filesPerRequest.flatMap { $0 })
            throw error
        }
        let time = now()
        let sequences = requests.map { _ in nextSequence(time) }
        let runIDs = requests.map { _ in UUID().uuidString.lowercased() }
        let files = filesPerRequest
        do {
            return try await insertAll(
                requests, ids: runIDs, sequences: sequences, files: files, organizationID: organizationID,
                newSessionID: newSessionID, identical: identical, at: time)
        } catch {
            await discard(files.flatMap { $0 })
            throw error
        }
    }

    private func insertAll(
        _ requests: [Request], ids runIDs: [String], sequences: [Int64], files: [[StoredFile]], organizationID: String,
        newSessionID: String?, identical: Bool, at time: Date
    ) async throws -> [StoredRun] {
        try await store.transaction { tx in
            if let newSessionID {
                try await tx.insertSession(
                    SessionRecord(
                        id: newSessionID, organizationID: organizationID, machineID: nil, isOpen: true, createdAt: time)
                )
            }
            var created: [StoredRun] = []
            var shared: Checked?
            for (index, request) in requests.enumerated() {
                let checked: Checked
                if identical, let shared {
                    checked = shared
                } else {
                    checked = try await self.check(request, organizationID: organizationID, in: tx)
                    shared = checked
                }
                created.append(
                    try await self.insert(
                        request, checked: checked, id: runIDs[index], sequence: sequences[index], files: files[index],
                        organizationID: organizationID, at: time, in: tx))
            }
            return created
        }
    }

    /// What a request refers to, looked up and checked against the store.
    struct Checked: Sendable {
        var workflow: Workflow
        var machine: Machine?
        var pools: [Pool]
        /// The run's models: the workflow's, overlaid with the request's `model_metadata`, then
        /// its `main_agent_model_id`; nil when none names any.
        var modelMetadata: WorkflowModelMetadata?
        var mainAgentModelID: String?
    }

    /// Looks up and checks what the request refers to: the workflow, machine, pools and
    /// session exist and fit, and the inputs match the workflow.
    func check(_ request: Request, organizationID: String, in tx: any StoreTransaction) async throws -> Checked {
        guard
            let workflow = try await tx.fetch(
                Workflow.self, id: request.workflowID, organizationID: organizationID, forUpdate: false)
        else { throw ControlPlaneError.notFound("workflow \(request.workflowID) not found") }
        var machine: Machine?
        if let machineID = request.machineID {
            machine = try await tx.fetch(Machine.self, id: machineID, organizationID: organizationID, forUpdate: false)
            if machine == nil { throw ControlPlaneError.notFound("machine \(machineID) not found") }
        }
        var pools: [Pool] = []
        for poolID in Self.unique(request.poolIDs) {
            guard let pool = try await tx.fetch(Pool.self, id: poolID, organizationID: organizationID, forUpdate: false)
            else { throw ControlPlaneError.notFound("pool \(poolID) not found") }
            pools.append(pool)
        }
        if let existing = request.sessionID {
            guard let session = try await tx.session(id: existing, forUpdate: false),
                session.organizationID == organizationID
            else { throw ControlPlaneError.notFound("session \(existing) not found") }
            guard session.isOpen else {
                throw ControlPlaneError.badRequest("session \(existing) has been released; start a new session")
            }
            if let pinned = request.machineID, let bound = session.machineID, bound != pinned {
                throw ControlPlaneError.badRequest(
                    "session \(existing) runs on machine \(bound); a run of the session cannot be pinned to machine \(pinned)"
                )
            }
        }
        try await InputCheck.check(
            workflow: workflow, inputs: request.inputValues ?? [:], sensitive: request.sensitiveInputValues ?? [:],
            machine: machine, pools: pools, in: tx)
        if let prompt = request.mainPrompt {
            try await PromptImages.checkReferences(
                in: prompt, field: "main_prompt", organizationID: organizationID, in: tx)
        }
        let requested = try await ModelConfigurationRules.check(
            metadata: request.modelMetadata, field: "model_metadata", organizationID: organizationID, in: tx)
        let mainAgent = try await ModelConfigurationRules.check(
            configuration: request.mainAgentModelID, field: "main_agent_model_id", organizationID: organizationID,
            in: tx)
        var metadata = (workflow.modelMetadata ?? WorkflowModelMetadata()).overlaid(with: requested)
        if let mainAgent { metadata.mainAgentModelID = mainAgent }
        return Checked(
            workflow: workflow, machine: machine, pools: pools, modelMetadata: metadata.isEmpty ? nil : metadata,
            mainAgentModelID: mainAgent)
    }

    func insert(
        _ request: Request, checked: Checked, id: String, sequence: Int64, files: [StoredFile], organizationID: String,
        at time: Date, in tx: any StoreTransaction
    ) async throws -> StoredRun {
        let workflow = checked.workflow
        let pools = checked.pools
        var sessionID = request.sessionID
        if request.sessionID == nil, request.startSession {
            sessionID = id
            try await tx.insertSession(
                SessionRecord(id: id, organizationID: organizationID, machineID: nil, isOpen: true, createdAt: time))
        }

        let sealed = try vault.sealAll(
            request.sensitiveInputValues ?? [:], organizationID: organizationID, ownerKind: .run, ownerID: id, now: time
        )
        var attachmentIDs: [String] = []
        var attachments: [RunAttachment] = []
        for file in files {
            let attachment = RunAttachment(
                id: UUID().uuidString.lowercased(), organizationID: organizationID, runID: id,
                filename: file.input.filename, contentType: ContentTypes.guess(file.input.filename),
                attachmentType: .input, sizeBytes: file.size, sha256: file.sha256,
                storagePath: "sha256/" + file.sha256, targetPath: file.input.targetPath,
                cleanupImportsAfterRun: file.input.cleanupImportsAfterRun ?? false, expiresAt: nil, createdAt: time)
            attachments.append(attachment)
            attachmentIDs.append(attachment.id)
        }
        let run = Run(
            id: id, organizationID: organizationID, workflowID: workflow.id, machineID: request.machineID,
            status: .scheduling, inputValues: request.inputValues ?? [:], inputAttachmentIDs: attachmentIDs,
            runMessageHistory: [],
            sensitiveInputAliases: request.sensitiveInputValues == nil ? nil : sealed.aliases,
            sessionID: sessionID, sessionAlias: request.sessionAlias, releaseSessionAfter: request.releaseSessionAfter,
            poolIDs: request.machineID == nil ? pools.map(\.id) : pools.map(\.id), isPriority: request.isPriority,
            mainPrompt: request.mainPrompt ?? workflow.mainPrompt, mainAgentModelID: checked.mainAgentModelID,
            modelMetadata: checked.modelMetadata, createdAt: Timestamp.truncated(time))
        let stored = StoredRun(
            run: run, pinnedMachineID: request.machineID, sequence: sequence, chainIndex: request.chainIndex)
        try await tx.insert(stored)
        // A pinned run ignores pools for scheduling (PUBLIC-API.md); they stay on the run for display.
        if request.machineID == nil, !pools.isEmpty { try await tx.setRunPools(pools.map(\.id), run: id) }
        for attachment in attachments { try await tx.insert(attachment) }
        for secret in sealed.secrets { try await tx.insertSecret(secret) }
        return stored
    }

    /// Starts a new attempt of a terminal run, with the overrides of `RunRetry`.
    public func retry(runID: String, organizationID: String, with retry: RunRetry) async throws -> StoredRun {
        let files = try await storeFiles(retry.fileInputs ?? [])
        do {
            return try await storeRetry(runID: runID, organizationID: organizationID, with: retry, files: files)
        } catch {
            await discard(files)
            throw error
        }
    }

    private func storeRetry(runID: String, organizationID: String, with retry: RunRetry, files: [StoredFile])
        async throws
        -> StoredRun
    {
        let time = now()
        let sequence = nextSequence(time)
        return try await store.transaction { tx in
            guard
                var stored = try await tx.fetch(
                    StoredRun.self, id: runID, organizationID: organizationID, forUpdate: true)
            else { throw ControlPlaneError.notFound("run \(runID) not found") }
            guard stored.run.status.isTerminal else {
                throw ControlPlaneError.conflict(
                    "run \(runID) is \(stored.run.status.rawValue); only a finished run can be retried")
            }
            guard
                let workflow = try await tx.fetch(
                    Workflow.self, id: stored.run.workflowID, organizationID: organizationID, forUpdate: false)
            else { throw ControlPlaneError.notFound("workflow \(stored.run.workflowID) not found") }
            if let machineID = retry.machineID {
                guard
                    try await tx.fetch(Machine.self, id: machineID, organizationID: organizationID, forUpdate: false)
                        != nil
                else { throw ControlPlaneError.notFound("machine \(machineID) not found") }
                stored.pinnedMachineID = machineID
            }
            if let poolIDs = retry.poolIDs {
                for poolID in poolIDs
                where try await tx.fetch(Pool.self, id: poolID, organizationID: organizationID, forUpdate: false) == nil
                {
                    throw ControlPlaneError.notFound("pool \(poolID) not found")
                }
                stored.run.poolIDs = Self.unique(poolIDs)
            }
            if let inputs = retry.inputValues { stored.run.inputValues = inputs }
            if let isPriority = retry.isPriority { stored.run.isPriority = isPriority }
            if let alias = retry.sessionAlias { stored.run.sessionAlias = alias }
            if let release = retry.releaseSessionAfter { stored.run.releaseSessionAfter = release }

            // Session: an explicit session, a new one, or the old one while it is still open.
            if let sessionID = retry.sessionID {
                guard let session = try await tx.session(id: sessionID, forUpdate: false),
                    session.organizationID == organizationID, session.isOpen
                else { throw ControlPlaneError.notFound("session \(sessionID) not found or released") }
                stored.run.sessionID = sessionID
            } else if retry.startSession == true {
                let sessionID = UUID().uuidString.lowercased()
                try await tx.insertSession(
                    SessionRecord(
                        id: sessionID, organizationID: organizationID, machineID: nil, isOpen: true, createdAt: time))
                stored.run.sessionID = sessionID
            } else if let sessionID = stored.run.sessionID {
                let session = try await tx.session(id: sessionID, forUpdate: false)
                if retry.reuseSession == false || session?.isOpen != true { stored.run.sessionID = nil }
            }

            var machine: Machine?
            if let pinned = stored.pinnedMachineID {
                machine = try await tx.fetch(Machine.self, id: pinned, organizationID: organizationID, forUpdate: false)
            }
            var pools: [Pool] = []
            for poolID in stored.run.poolIDs {
                if let pool = try await tx.fetch(
                    Pool.self, id: poolID, organizationID: organizationID, forUpdate: false)
                {
                    pools.append(pool)
                }
            }
            try await InputCheck.check(
                workflow: workflow, inputs: stored.run.inputValues ?? [:], sensitive: retry.sensitiveInputValues ?? [:],
                machine: machine, pools: pools, in: tx)
            try await tx.deleteSecrets(ownerKind: .run, ownerID: runID)
            if let sensitive = retry.sensitiveInputValues {
                let sealed = try self.vault.sealAll(
                    sensitive, organizationID: organizationID, ownerKind: .run, ownerID: runID, now: time)
                for secret in sealed.secrets { try await tx.insertSecret(secret) }
                stored.run.sensitiveInputAliases = sealed.aliases
            } else {
                stored.run.sensitiveInputAliases = nil
            }
            for file in files {
                let attachment = RunAttachment(
                    id: UUID().uuidString.lowercased(), organizationID: organizationID, runID: runID,
                    filename: file.input.filename, contentType: ContentTypes.guess(file.input.filename),
                    attachmentType: .input, sizeBytes: file.size, sha256: file.sha256,
                    storagePath: "sha256/" + file.sha256, targetPath: file.input.targetPath,
                    cleanupImportsAfterRun: file.input.cleanupImportsAfterRun ?? false, expiresAt: nil, createdAt: time)
                try await tx.insert(attachment)
                stored.run.inputAttachmentIDs.append(attachment.id)
            }
            stored.attempt += 1
            stored.sequence = sequence
            stored.assignedMachineID = nil
            stored.offeredAt = nil
            stored.leaseToken = nil
            stored.leaseExpiresAt = nil
            stored.connectionID = nil
            stored.stepIndex = nil
            stored.run.machineID = stored.pinnedMachineID
            stored.run.status = .scheduling
            stored.run.error = nil
            stored.run.outputData = nil
            stored.run.startedAt = nil
            stored.run.endedAt = nil
            stored.run.runMessageHistory = []
            // A new attempt has its own conversation and usage (a model's or a replay's).
            stored.planner = nil
            stored.run.usageMetadata = nil
            try await tx.save(stored)
            try await tx.setRunPools(stored.pinnedMachineID == nil ? stored.run.poolIDs : [], run: runID)
            return stored
        }
    }

    static func unique(_ ids: [String]) -> [String] {
        var seen = Set<String>()
        return ids.filter { seen.insert($0).inserted }
    }
}
