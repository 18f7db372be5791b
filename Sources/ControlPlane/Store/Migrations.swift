/// The schema, as numbered steps. Portable SQL: the same text runs on SQLite and
/// PostgreSQL (`BIGINT` microsecond times, `INTEGER` 0/1 booleans, JSON documents as text),
/// with the blob type taken from the dialect.
enum Migrations {
    static func steps(_ dialect: SQLDialect) -> [(version: Int, statements: [String])] {
        [
            (
                1,
                [
                    """
                    CREATE TABLE organizations (
                        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)
                    """,
                    """
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),
                        name TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
                        created_at BIGINT NOT NULL, revoked_at BIGINT)
                    """,
                    """
                    CREATE TABLE registration_tokens (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),
                        token_hash TEXT NOT NULL UNIQUE, pool_names TEXT NOT NULL, expires_at BIGINT NOT NULL,
                        used_at BIGINT, created_at BIGINT NOT NULL)
                    """,
                    """
                    CREATE TABLE workflows (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        name TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX workflows_org ON workflows (organization_id, created_at)",
                    """
                    CREATE TABLE trajectories (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE, run_id TEXT, name TEXT,
                        is_approved INTEGER NOT NULL, is_generated INTEGER NOT NULL, is_main INTEGER NOT NULL,
                        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX trajectories_workflow ON trajectories (workflow_id, created_at)",
                    """
                    CREATE TABLE machines (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        fingerprint TEXT NOT NULL, name TEXT, status TEXT NOT NULL, is_available INTEGER NOT NULL,
                        reserved_session_id TEXT, last_seen BIGINT NOT NULL, created_at BIGINT NOT NULL,
                        UNIQUE (organization_id, fingerprint))
                    """,
                    """
                    CREATE TABLE pools (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        name TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
                        UNIQUE (organization_id, name))
                    """,
                    """
                    CREATE TABLE pool_machines (
                        pool_id TEXT NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
                        machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
                        PRIMARY KEY (pool_id, machine_id))
                    """,
                    "CREATE INDEX pool_machines_machine ON pool_machines (machine_id)",
                    """
                    CREATE TABLE connections (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, status TEXT NOT NULL,
                        connected_at BIGINT NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    """
                    CREATE TABLE sessions (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, machine_id TEXT,
                        is_open INTEGER NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    """
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        workflow_id TEXT NOT NULL, status TEXT NOT NULL, pinned_machine_id TEXT,
                        assigned_machine_id TEXT, holds_machine TEXT UNIQUE, session_id TEXT,
                        is_priority INTEGER NOT NULL, sequence BIGINT NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX runs_org ON runs (organization_id, created_at)",
                    "CREATE INDEX runs_queue ON runs (status, is_priority, sequence)",
                    "CREATE INDEX runs_session ON runs (session_id, sequence)",
                    "CREATE INDEX runs_workflow ON runs (workflow_id)",
                    """
                    CREATE TABLE run_pools (
                        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pool_id TEXT NOT NULL,
                        PRIMARY KEY (run_id, pool_id))
                    """,
                    """
                    CREATE TABLE run_attachments (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, attachment_type TEXT NOT NULL,
                        sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX run_attachments_run ON run_attachments (run_id)",
                    "CREATE INDEX run_attachments_sha ON run_attachments (sha256)",
                    """
                    CREATE TABLE vault_secrets (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, owner_kind TEXT NOT NULL,
                        owner_id TEXT NOT NULL, name TEXT NOT NULL, sealed \(dialect.blobType) NOT NULL,
                        created_at BIGINT NOT NULL, UNIQUE (owner_kind, owner_id, name))
                    """,
                    """
                    CREATE TABLE idempotency_keys (
                        organization_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, method TEXT NOT NULL,
                        path TEXT NOT NULL, is_complete INTEGER NOT NULL, status INTEGER NOT NULL,
                        body \(dialect.blobType) NOT NULL, created_at BIGINT NOT NULL,
                        PRIMARY KEY (organization_id, idempotency_key))
                    """,
                    "CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at)",
                ]
            ),
            (
                2,
                [
                    // The agent protocol: machine credentials, offers and leases.
                    "ALTER TABLE machines ADD COLUMN token_hash TEXT",
                    "CREATE UNIQUE INDEX machines_token ON machines (token_hash)",
                    "ALTER TABLE runs ADD COLUMN offered_at BIGINT",
                    "ALTER TABLE runs ADD COLUMN lease_expires_at BIGINT",
                    "CREATE INDEX runs_assigned ON runs (assigned_machine_id, status)",
                    "CREATE INDEX machines_seen ON machines (status, last_seen)",
                ]
            ),
            (
                3,
                // `?search=` matches what users see (names, prompts, values), lowercased in
                // Swift so that non-ASCII text compares the same on every engine.
                ["workflows", "trajectories", "machines", "pools", "runs"].map {
                    "ALTER TABLE \($0) ADD COLUMN search_text TEXT NOT NULL DEFAULT ''"
                }
            ),
            (
                4,
                // One open session per machine, as a constraint, so that replicas racing to
                // bind sessions cannot both win (one active run per machine is `holds_machine`).
                [
                    """
                    CREATE UNIQUE INDEX sessions_open_machine ON sessions (machine_id)
                    WHERE is_open = 1 AND machine_id IS NOT NULL
                    """
                ]
            ),
            (
                5,
                // Computer commands that cross replicas: the API call and the machine's poll
                // may reach different servers (see `CommandRelay`).
                [
                    """
                    CREATE TABLE machine_commands (
                        id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, command TEXT NOT NULL, delivered_at BIGINT,
                        result_status INTEGER, result_type TEXT, result_body \(dialect.blobType), completed_at BIGINT,
                        created_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX machine_commands_machine ON machine_commands (machine_id, completed_at)",
                ]
            ),
            (
                6,
                // Attachment blobs in the database, for replicas without a shared file system
                // (`DatabaseBlobStore`; the embedded store keeps them as files).
                [
                    "CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at BIGINT NOT NULL)",
                    """
                    CREATE TABLE blob_chunks (
                        blob_key TEXT NOT NULL, seq BIGINT NOT NULL, data \(dialect.blobType) NOT NULL,
                        created_at BIGINT NOT NULL, PRIMARY KEY (blob_key, seq))
                    """,
                ]
            ),
            (
                7,
                // Which vault and URL-signing keys this database's data belongs to (their ids,
                // never the keys), so a replica started with other key files is refused.
                ["CREATE TABLE server_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"]
            ),
            (
                8,
                // Every agent connect closes the machine's open connections: without this
                // index that was a scan of the whole table (twice, with the count), so
                // 10,000 agents joining cost quadratic time.
                ["CREATE INDEX connections_machine ON connections (machine_id, status)"]
            ),
            (
                9,
                // Prompt-driven runs (PLANNER.md): model configurations (at most one default per
                // organization, as a constraint), an organization's key per provider slot (the
                // keys themselves are in `vault_secrets`), and prompt images (bytes in the blob
                // store, shared with attachments by SHA-256).
                [
                    """
                    CREATE TABLE model_configurations (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL, name TEXT NOT NULL,
                        provider TEXT NOT NULL, is_system_default INTEGER NOT NULL, is_archived INTEGER NOT NULL,
                        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX model_configurations_org ON model_configurations (organization_id, created_at)",
                    """
                    CREATE UNIQUE INDEX model_configurations_default ON model_configurations (organization_id)
                    WHERE is_system_default = 1
                    """,
                    """
                    CREATE TABLE provider_credentials (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL, slot TEXT NOT NULL,
                        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (organization_id, slot))
                    """,
                    """
                    CREATE TABLE prompt_images (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL, path TEXT NOT NULL UNIQUE,
                        sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX prompt_images_org ON prompt_images (organization_id, created_at)",
                    "CREATE INDEX prompt_images_sha ON prompt_images (sha256)",
                ]
            ),
            (
                10,
                // Dashboard sign-ins (DASHBOARD.md): the SHA-256 of the cookie's random id, the
                // SHA-256 of the API key it was made with (never the key) so revoking the key
                // ends it, and the last use for the idle expiry. In the store, so every replica
                // serves every session.
                [
                    """
                    CREATE TABLE web_sessions (
                        id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, doc TEXT NOT NULL,
                        key_hash TEXT NOT NULL, last_used BIGINT NOT NULL, created_at BIGINT NOT NULL)
                    """,
                    "CREATE INDEX web_sessions_key ON web_sessions (key_hash)",
                ]
            ),
            (
                11,
                // A machine's hostname as a column (`Machine.fieldColumns`): the dashboard's
                // machine pickers read id, name, hostname and status of every machine without
                // reading their documents.
                [
                    "ALTER TABLE machines ADD COLUMN hostname TEXT",
                    "UPDATE machines SET hostname = \(dialect.jsonTextField(of: "doc", "hostname"))",
                ]
            ),
            (
                12,
                // A registration token revoked unused is told apart from one a machine used.
                ["ALTER TABLE registration_tokens ADD COLUMN revoked_at BIGINT"]
            ),
        ]
    }
}
