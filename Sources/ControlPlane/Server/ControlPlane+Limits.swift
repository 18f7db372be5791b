import CyberdeskAPI
import FoundationEssentials

extension ControlPlane {
    /// Every size limit of the API in one place; docs/LIMITS.md lists the same numbers.
    ///
    /// Bodies are limited per route: only routes where files travel take bodies as large
    /// as files need (`maxBodyBytes`, `--max-body-mb`); trajectories and a run's results
    /// take documents of tens of MiB; every other route takes 1 MiB. Fields are limited
    /// where they are stored and copied (a workflow's `main_prompt` goes into its
    /// `old_versions` on every update), so that a request under its body limit still cannot
    /// store a 64 MiB prompt. A body over its limit is 413; a field over its limit is 422 in
    /// FastAPI's shape, its `loc` naming the field. Either way nothing is stored.
    public struct Limits: Sendable {
        // MARK: Bodies

        /// Routes where files travel: run creation (single, bulk, chain, retry) with base64
        /// `file_inputs`, `POST /v1/run-attachments`, prompt image uploads,
        /// `/v1/computer/{id}/fs/write`, and the agent's `/plan` and `/complete` (they carry
        /// the run's `output_data`, which a `read_file` may fill with 10 MiB).
        public var maxBodyBytes: Int
        /// The largest single file (decoded): file inputs, attachments, agent uploads.
        public var maxFileBytes: Int
        /// Every other route of the public API and the agent protocol's JSON routes.
        public var bodyBytes: Int
        /// `trajectory_data` as JSON: steps with their checkpoint crops (each PNG at most
        /// `Checkpoint.maxPNGBytes`, 512 KiB).
        public var trajectoryDataBytes: Int
        /// Steps in one trajectory (`Trajectory.maxSteps`, which the agent checks too).
        public var trajectorySteps: Int { Trajectory.maxSteps }

        // MARK: Fields

        /// `main_prompt` of a workflow or a run, in characters (Unicode code points, as
        /// Python's `len`). 128 Ki characters is about 32 k model tokens, and fits the
        /// 1 MiB body even when every character is sent escaped (`\u00e9`, as Python's
        /// `json.dumps` does by default).
        public var promptCharacters: Int
        /// `input_schema` and `output_schema`, each, in characters.
        public var schemaCharacters: Int
        /// `name` of a workflow, trajectory, pool or machine, and a run's `session_alias`.
        public var nameCharacters: Int
        /// `description` of a trajectory or a pool.
        public var descriptionCharacters: Int
        /// Each object of inputs as JSON: `input_values`, `sensitive_input_values`, a
        /// trajectory's `original_input_values`, a chain's `shared_inputs`,
        /// `shared_sensitive_inputs` and each step's `inputs` and `sensitive_inputs`.
        public var inputValuesBytes: Int
        /// Runs one request creates: a bulk `count`, a chain's `steps`.
        public var runsPerRequest: Int { 1000 }
        /// A prompt image (decoded), `PromptImages.maxBytes`.
        public var promptImageBytes: Int { PromptImages.maxBytes }

        public init(
            maxBodyBytes: Int = 100 << 20, maxFileBytes: Int = 50 << 20, bodyBytes: Int = 1 << 20,
            trajectoryDataBytes: Int = 32 << 20, promptCharacters: Int = 128 << 10, schemaCharacters: Int = 128 << 10,
            nameCharacters: Int = 255, descriptionCharacters: Int = 16 << 10, inputValuesBytes: Int = 1 << 20
        ) {
            self.maxBodyBytes = maxBodyBytes
            self.maxFileBytes = maxFileBytes
            self.bodyBytes = bodyBytes
            self.trajectoryDataBytes = trajectoryDataBytes
            self.promptCharacters = promptCharacters
            self.schemaCharacters = schemaCharacters
            self.nameCharacters = nameCharacters
            self.descriptionCharacters = descriptionCharacters
            self.inputValuesBytes = inputValuesBytes
        }

        /// What a route's body may carry, which decides its size limit.
        public enum Body: Sendable {
            /// JSON of ordinary resources: `bodyBytes`.
            case small
            /// Trajectories and a run's results (`output_data`, `run_message_history`):
            /// `trajectoryDataBytes` plus `bodyBytes` for the other fields.
            case document
            /// Files in the body: `maxBodyBytes`.
            case files
        }

        /// The body limit of a route; never more than `maxBodyBytes`, the server's ceiling.
        public func maxBody(_ body: Body) -> Int {
            switch body {
            case .small: min(bodyBytes, maxBodyBytes)
            case .document: min(trajectoryDataBytes + bodyBytes, maxBodyBytes)
            case .files: maxBodyBytes
            }
        }

        // MARK: Checks

        /// A text field: 422 `string_too_long` naming the field and its limit when longer.
        public func check(_ text: String?, field: String, max: Int, loc: [JSONValue]? = nil) throws {
            // Code points never outnumber UTF-8 bytes: most texts need no count.
            guard let text, text.utf8.count > max else { return }
            let count = text.unicodeScalars.count
            guard count > max else { return }
            throw RequestValidationError(
                loc: loc ?? ["body", .string(field)],
                msg:
                    "String should have at most \(max) characters: \(field) has \(count) (docs/LIMITS.md lists the limits)",
                type: "string_too_long")
        }

        /// A JSON field, measured as the server encodes it: 422 `too_long` naming the field
        /// and its limit when larger.
        public func check(json value: JSONValue?, field: String, maxBytes: Int, loc: [JSONValue]? = nil) throws {
            guard let value, let size = Self.encodedSize(value, over: maxBytes) else { return }
            throw RequestValidationError(
                loc: loc ?? ["body", .string(field)],
                msg:
                    "Value should be at most \(Self.describe(maxBytes)) as JSON: \(field) is \(size) bytes (docs/LIMITS.md lists the limits)",
                type: "too_long")
        }

        /// Inputs (`input_values` and the like) against `inputValuesBytes`.
        public func check(inputs: JSONObject?, field: String, loc: [JSONValue]? = nil) throws {
            try check(json: inputs.map { .object($0) }, field: field, maxBytes: inputValuesBytes, loc: loc)
        }

        /// `trajectory_data` against `trajectorySteps` and `trajectoryDataBytes`.
        public func check(trajectoryData steps: [JSONValue]) throws {
            guard steps.count <= trajectorySteps else {
                throw RequestValidationError(
                    loc: ["body", "trajectory_data"],
                    msg:
                        "List should have at most \(trajectorySteps) items after validation, not \(steps.count): trajectory_data takes at most \(trajectorySteps) steps (docs/LIMITS.md lists the limits)",
                    type: "too_long")
            }
            try check(json: .array(steps), field: "trajectory_data", maxBytes: trajectoryDataBytes)
        }

        /// The encoded size of `value` when it is over `limit`, else nil.
        static func encodedSize(_ value: JSONValue, over limit: Int) -> Int? {
            // Most values are far under their limit: a bound above the encoded size that
            // fits needs no encoding.
            guard upperBound(value) > limit else { return nil }
            let size = (try? APIJSON.encoder().encode(value).count) ?? Int.max
            return size > limit ? size : nil
        }

        /// At least the encoded size: every byte of a string escaped (`\u0000`, 6 bytes),
        /// numbers at their longest, a separator after every item.
        private static func upperBound(_ value: JSONValue) -> Int {
            switch value {
            case .string(let text): 6 * text.utf8.count + 2
            case .array(let items): items.reduce(2) { $0 + upperBound($1) + 1 }
            case .object(let object): object.reduce(2) { $0 + 6 * $1.key.utf8.count + 4 + upperBound($1.value) }
            default: 32
            }
        }

        /// "1 MiB (1048576 bytes)".
        static func describe(_ bytes: Int) -> String {
            if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB (\(bytes) bytes)" }
            if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB (\(bytes) bytes)" }
            return "\(bytes) bytes"
        }
    }
}
