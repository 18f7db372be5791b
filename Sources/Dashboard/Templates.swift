import Mustache

/// The dashboard's Mustache templates, compiled into the binary (the packaged server is one
/// file, with no resource bundle beside it). `{{value}}` escapes HTML; no template uses
/// triple braces, so nothing from the API reaches the page unescaped.
enum Templates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let all: [String: String] = [
        "layout": layout, "csrf": csrf, "pagination": pagination, "run_table": runTable, "run_row": runRow,
        "sign_in": signIn,
        "error": error, "overview": overview, "machines": machines, "machine": machine, "pools": pools,
        "pool": pool, "workflows": workflows, "workflow_fields": workflowFields, "workflow_new": workflowNew,
        "workflow": workflow, "trajectory": trajectory, "runs": runs, "run": run, "run_live": runLive,
        "settings": settings,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{$title}}Cyberdesk{{/title}} · Cyberdesk</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/static/dashboard.css">
        <script src="/static/dashboard.js" defer></script>
        </head>
        <body>
        {{#session}}
        <header class="top">
          <a class="brand" href="/">Cyberdesk</a>
          <nav aria-label="Sections">
            <a href="/machines"{{#nav_machines}} aria-current="page"{{/nav_machines}}>Machines</a>
            <a href="/pools"{{#nav_pools}} aria-current="page"{{/nav_pools}}>Pools</a>
            <a href="/workflows"{{#nav_workflows}} aria-current="page"{{/nav_workflows}}>Workflows</a>
            <a href="/runs"{{#nav_runs}} aria-current="page"{{/nav_runs}}>Runs</a>
            <a href="/settings"{{#nav_settings}} aria-current="page"{{/nav_settings}}>Settings</a>
          </nav>
          <span class="who" title="Signed in with key {{keyPrefix}}…">{{organizationName}}</span>
          <form method="post" action="/sign-out" class="inline">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" class="link" data-testid="sign-out">Sign out</button>
          </form>
        </header>
        {{/session}}
        <main>
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    static let csrf = """
        <input type="hidden" name="csrf" value="{{csrf}}">
        """

    static let pagination = """
        {{#pagination.show}}<nav class="pages" aria-label="Pages">
        {{#pagination.previous}}<a href="{{pagination.previous}}" rel="prev">← Newer</a>{{/pagination.previous}}
        <span>{{pagination.from}}–{{pagination.to}} of {{pagination.total}}</span>
        {{#pagination.next}}<a href="{{pagination.next}}" rel="next">Older →</a>{{/pagination.next}}
        </nav>{{/pagination.show}}
        """

    static let runTable = """
        <table class="list">
        <thead><tr><th scope="col">Run</th><th scope="col">Workflow</th><th scope="col">Status</th><th scope="col">Machine</th><th scope="col">Created</th></tr></thead>
        <tbody>
        """

    static let runRow = """
        <tr data-testid="run-row" data-run-id="{{id}}">
          <td><a href="/runs/{{id}}"><code>{{shortID}}</code></a></td>
          <td><a href="/workflows/{{workflow_id}}">{{workflowName}}</a></td>
          <td><span class="badge status-{{status}}">{{status}}</span></td>
          <td>{{#machine_id}}<a href="/machines/{{machine_id}}">{{machineName}}</a>{{/machine_id}}{{^machine_id}}<span class="muted">waiting</span>{{/machine_id}}</td>
          <td><time datetime="{{created_at}}">{{created_at}}</time></td>
        </tr>
        """

    static let signIn = """
        {{<layout}}{{$title}}Sign in{{/title}}{{$content}}
        <section class="sign-in">
          <h1>Sign in to Cyberdesk</h1>
          <p>Use an API key of your organization. <code>cyberdesk-server keys create --org NAME</code> makes one; the server printed the first on its first start.</p>
          <form method="post" action="/sign-in">
            <input type="hidden" name="next" value="{{next}}">
            <label for="api_key">API key</label>
            <input id="api_key" name="api_key" type="password" autocomplete="off" required autofocus
              data-testid="api-key"{{#error}} aria-invalid="true" aria-describedby="api_key-error"{{/error}}>
            {{#error}}<p class="field-error" id="api_key-error" role="alert" data-testid="sign-in-error">{{error}}</p>{{/error}}
            <button type="submit" data-testid="sign-in">Sign in</button>
          </form>
        </section>
        {{/content}}{{/layout}}
        """

    static let error = """
        {{<layout}}{{$title}}{{title}}{{/title}}{{$content}}
        <h1>{{status}} · {{title}}</h1>
        <p class="error-message" data-testid="error-message">{{message}}</p>
        <p><a href="/">Back to the overview</a></p>
        {{/content}}{{/layout}}
        """

    static let overview = """
        {{<layout}}{{$title}}Overview{{/title}}{{$content}}
        <h1>Overview</h1>
        <section>
          <h2>Machines</h2>
          {{#machineCount}}
          <ul class="counts">
          {{#statusCounts}}<li><a href="/machines"><span class="badge status-{{status}}">{{status}}</span> {{count}}</a></li>{{/statusCounts}}
          </ul>
          {{/machineCount}}
          {{^machineCount}}<p class="empty">No machines yet: create a registration token in <a href="/settings">Settings</a>, then run <code>cyberdesk-agent join SERVER_URL TOKEN</code> on the machine.</p>{{/machineCount}}
        </section>
        <section>
          <h2>Runs in progress</h2>
          {{#has_active}}{{> run_table}}{{#active}}{{> run_row}}{{/active}}</tbody></table>{{/has_active}}
          {{^active}}<p class="empty">No run is in progress. Start one from a <a href="/workflows">workflow</a>.</p>{{/active}}
        </section>
        <section>
          <h2>Recent failures</h2>
          {{#has_failures}}{{> run_table}}{{#failures}}{{> run_row}}{{/failures}}</tbody></table>{{/has_failures}}
          {{^failures}}<p class="empty">No failed runs.</p>{{/failures}}
        </section>
        {{/content}}{{/layout}}
        """

    static let machines = """
        {{<layout}}{{$title}}Machines{{/title}}{{$content}}
        <h1>Machines</h1>
        {{^machines}}<p class="empty">No machines yet: create a registration token in <a href="/settings">Settings</a>, then run <code>cyberdesk-agent join SERVER_URL TOKEN</code> on the machine.</p>{{/machines}}
        {{#has_machines}}
        <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Pools</th><th scope="col">Host</th><th scope="col">Last seen</th></tr></thead>
        <tbody>
        {{#machines}}
        <tr data-testid="machine-row" data-machine-id="{{id}}">
          <td><a href="/machines/{{id}}">{{displayName}}</a></td>
          <td><span class="badge status-{{status}}">{{status}}</span>{{#reserved_session_id}} <span class="badge">session</span>{{/reserved_session_id}}</td>
          <td>{{poolNames}}</td>
          <td>{{hostname}}</td>
          <td><time datetime="{{last_seen}}">{{last_seen}}</time></td>
        </tr>
        {{/machines}}
        </tbody>
        </table>
        {{/has_machines}}
        {{> pagination}}
        {{/content}}{{/layout}}
        """

    static let machine = """
        {{<layout}}{{$title}}{{displayName}}{{/title}}{{$content}}
        <p class="crumbs"><a href="/machines">Machines</a> /</p>
        <h1>{{displayName}} <span class="badge status-{{status}}" data-testid="machine-status">{{status}}</span></h1>
        <div class="columns">
        <section class="screen">
          <h2>Screen</h2>
          {{#isConnected}}
          <img data-testid="machine-screen" class="live-screen" src="/machines/{{id}}/screen.png" data-live-src="/machines/{{id}}/screen.png" alt="The screen of {{displayName}}, refreshed every second">
          <p class="muted">Refreshed every second while this page is visible.</p>
          {{/isConnected}}
          {{^isConnected}}<p class="empty">The machine is not connected, so its screen cannot be shown. Check that <code>cyberdesk-agent</code> runs on it.</p>{{/isConnected}}
        </section>
        <section>
          <h2>Details</h2>
          <dl class="facts">
            <dt>Host</dt><dd>{{hostname}}</dd>
            <dt>System</dt><dd>{{os_info}}</dd>
            <dt>Agent</dt><dd>{{version}}</dd>
            <dt>Last seen</dt><dd><time datetime="{{last_seen}}">{{last_seen}}</time></dd>
            <dt>Joined</dt><dd><time datetime="{{created_at}}">{{created_at}}</time></dd>
            <dt>Current run</dt><dd>{{#currentRun}}<a href="/runs/{{id}}">{{workflowName}}</a> <span class="badge status-{{status}}">{{status}}</span>{{/currentRun}}{{^currentRun}}none{{/currentRun}}</dd>
            <dt>Session</dt><dd>{{#reserved_session_id}}<code>{{reserved_session_id}}</code>
              <form method="post" action="/machines/{{id}}/clear-session" class="inline">{{> csrf}}<button type="submit">Clear session</button></form>{{/reserved_session_id}}{{^reserved_session_id}}none{{/reserved_session_id}}</dd>
          </dl>
          <h2>Pools</h2>
          {{^pools}}<p class="empty">No pools yet. <a href="/pools">Create one</a> to group machines.</p>{{/pools}}
          {{#has_pools}}
          <form method="post" action="/machines/{{id}}/pools">
            {{> csrf}}
            <fieldset><legend>Member of</legend>
            {{#pools}}<label class="check"><input type="checkbox" name="pool_id" value="{{id}}"{{#checked}} checked{{/checked}}> {{name}}</label>{{/pools}}
            </fieldset>
            <button type="submit">Save pools</button>
          </form>
          {{/has_pools}}
          <h2>Recent runs</h2>
          {{#has_recentRuns}}{{> run_table}}{{#recentRuns}}{{> run_row}}{{/recentRuns}}</tbody></table>{{/has_recentRuns}}
          {{^recentRuns}}<p class="empty">This machine has run nothing yet.</p>{{/recentRuns}}
          <h2>Remove</h2>
          <form method="post" action="/machines/{{id}}/delete" data-confirm="Delete this machine? Its runs are kept.">
            {{> csrf}}<button type="submit" class="danger">Delete machine</button>
          </form>
        </section>
        </div>
        {{/content}}{{/layout}}
        """

    static let pools = """
        {{<layout}}{{$title}}Pools{{/title}}{{$content}}
        <h1>Pools</h1>
        {{^pools}}<p class="empty">No pools yet. A pool groups machines, so a run can go to any machine of the pool.</p>{{/pools}}
        {{#has_pools}}
        <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Machines</th><th scope="col">Created</th></tr></thead>
        <tbody>
        {{#pools}}<tr data-testid="pool-row"><td><a href="/pools/{{id}}">{{name}}</a></td><td>{{description}}</td><td>{{machine_count}}</td><td><time datetime="{{created_at}}">{{created_at}}</time></td></tr>{{/pools}}
        </tbody>
        </table>
        {{/has_pools}}
        <h2>New pool</h2>
        <form method="post" action="/pools" class="stack">
          {{> csrf}}
          <label for="pool-name">Name</label>
          <input id="pool-name" name="name" value="{{form.name}}" required{{#errors.name}} aria-invalid="true" aria-describedby="pool-name-error"{{/errors.name}}>
          {{#errors.name}}<p class="field-error" id="pool-name-error">{{errors.name}}</p>{{/errors.name}}
          <label for="pool-description">Description</label>
          <input id="pool-description" name="description" value="{{form.description}}">
          <button type="submit">Create pool</button>
        </form>
        {{/content}}{{/layout}}
        """

    static let pool = """
        {{<layout}}{{$title}}{{name}}{{/title}}{{$content}}
        <p class="crumbs"><a href="/pools">Pools</a> /</p>
        <h1>{{name}}</h1>
        <form method="post" action="/pools/{{id}}" class="stack">
          {{> csrf}}
          <label for="pool-name">Name</label>
          <input id="pool-name" name="name" value="{{name}}" required{{#errors.name}} aria-invalid="true" aria-describedby="pool-name-error"{{/errors.name}}>
          {{#errors.name}}<p class="field-error" id="pool-name-error">{{errors.name}}</p>{{/errors.name}}
          <label for="pool-description">Description</label>
          <input id="pool-description" name="description" value="{{description}}">
          <button type="submit">Save</button>
        </form>
        <h2>Members</h2>
        <form method="post" action="/pools/{{id}}/members">
          {{> csrf}}
          {{^members}}<p class="empty">No machines in this pool yet: add some below.</p>{{/members}}
          {{#has_members}}<fieldset><legend>Remove from the pool</legend>
          {{#members}}<label class="check"><input type="checkbox" name="remove" value="{{id}}"> {{displayName}} <span class="badge status-{{status}}">{{status}}</span></label>{{/members}}
          </fieldset>{{/has_members}}
          {{#has_others}}<fieldset><legend>Add to the pool</legend>
          {{#others}}<label class="check"><input type="checkbox" name="add" value="{{id}}"> {{displayName}} <span class="badge status-{{status}}">{{status}}</span></label>{{/others}}
          </fieldset>{{/has_others}}
          <button type="submit">Update members</button>
        </form>
        <h2>Remove</h2>
        <form method="post" action="/pools/{{id}}/delete" data-confirm="Delete this pool? Its machines stay.">{{> csrf}}<button type="submit" class="danger">Delete pool</button></form>
        {{/content}}{{/layout}}
        """

    static let workflows = """
        {{<layout}}{{$title}}Workflows{{/title}}{{$content}}
        <h1>Workflows <a class="button" href="/workflows/new">New workflow</a></h1>
        <form method="get" action="/workflows" class="filters" role="search">
          <label for="search">Search</label>
          <input id="search" name="search" value="{{search}}" type="search">
          <button type="submit">Search</button>
        </form>
        {{^workflows}}<p class="empty">{{#search}}No workflow matches “{{search}}”.{{/search}}{{^search}}No workflows yet. <a href="/workflows/new">Create one</a>: a prompt that tells the agent what to do.{{/search}}</p>{{/workflows}}
        {{#has_workflows}}
        <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Updated</th><th scope="col">Created</th></tr></thead>
        <tbody>
        {{#workflows}}<tr data-testid="workflow-row"><td><a href="/workflows/{{id}}">{{displayName}}</a></td><td><time datetime="{{updated_at}}">{{updated_at}}</time></td><td><time datetime="{{created_at}}">{{created_at}}</time></td></tr>{{/workflows}}
        </tbody>
        </table>
        {{/has_workflows}}
        {{> pagination}}
        {{/content}}{{/layout}}
        """

    static let workflowFields = """
          {{> csrf}}
          <label for="workflow-name">Name</label>
          <input id="workflow-name" name="name" value="{{form.name}}" required data-testid="workflow-name"{{#errors.name}} aria-invalid="true" aria-describedby="workflow-name-error"{{/errors.name}}>
          {{#errors.name}}<p class="field-error" id="workflow-name-error">{{errors.name}}</p>{{/errors.name}}
          <label for="workflow-prompt">Prompt</label>
          <textarea id="workflow-prompt" name="main_prompt" rows="8" required data-testid="workflow-prompt"{{#errors.main_prompt}} aria-invalid="true" aria-describedby="workflow-prompt-error"{{/errors.main_prompt}}>{{form.main_prompt}}</textarea>
          {{#errors.main_prompt}}<p class="field-error" id="workflow-prompt-error">{{errors.main_prompt}}</p>{{/errors.main_prompt}}
          <p class="hint">Use <code>{input_name}</code> for an input and <code>{$secret}</code> for a secret typed at run time.</p>
          <label for="workflow-input-schema">Input schema (JSON Schema, optional)</label>
          <textarea id="workflow-input-schema" name="input_schema" rows="4" class="code"{{#errors.input_schema}} aria-invalid="true" aria-describedby="workflow-input-schema-error"{{/errors.input_schema}}>{{form.input_schema}}</textarea>
          {{#errors.input_schema}}<p class="field-error" id="workflow-input-schema-error">{{errors.input_schema}}</p>{{/errors.input_schema}}
          <label for="workflow-output-schema">Output schema (JSON Schema, optional)</label>
          <textarea id="workflow-output-schema" name="output_schema" rows="4" class="code"{{#errors.output_schema}} aria-invalid="true" aria-describedby="workflow-output-schema-error"{{/errors.output_schema}}>{{form.output_schema}}</textarea>
          {{#errors.output_schema}}<p class="field-error" id="workflow-output-schema-error">{{errors.output_schema}}</p>{{/errors.output_schema}}
          <label class="check"><input type="checkbox" name="includes_file_exports" value="1"{{#form.includes_file_exports}} checked{{/form.includes_file_exports}}> Exports files (runs may attach files to their output)</label>
          <label for="workflow-model">Model</label>
          <select id="workflow-model" name="main_agent_model_id"{{#errors.main_agent_model_id}} aria-invalid="true" aria-describedby="workflow-model-error"{{/errors.main_agent_model_id}}>
            <option value="">The organization's default</option>
            {{#models}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/models}}
          </select>
          {{#errors.main_agent_model_id}}<p class="field-error" id="workflow-model-error">{{errors.main_agent_model_id}}</p>{{/errors.main_agent_model_id}}
        """

    static let workflowNew = """
        {{<layout}}{{$title}}New workflow{{/title}}{{$content}}
        <p class="crumbs"><a href="/workflows">Workflows</a> /</p>
        <h1>New workflow</h1>
        <form method="post" action="/workflows" class="stack">
        {{> workflow_fields}}
          <button type="submit" data-testid="save-workflow">Create workflow</button>
        </form>
        {{/content}}{{/layout}}
        """

    static let workflow = """
        {{<layout}}{{$title}}{{displayName}}{{/title}}{{$content}}
        <p class="crumbs"><a href="/workflows">Workflows</a> /</p>
        <h1 data-testid="workflow-title">{{displayName}}</h1>
        <div class="columns">
        <section>
        <h2>Start a run</h2>
        <form method="post" action="/workflows/{{id}}/runs" class="stack" data-testid="run-form">
          {{> csrf}}
          <label for="run-machine">Machine</label>
          <select id="run-machine" name="machine_id" data-testid="run-machine"{{#runErrors.machine_id}} aria-invalid="true" aria-describedby="run-machine-error"{{/runErrors.machine_id}}>
            <option value="">Any available machine</option>
            {{{machineOptions}}}
          </select>
          {{#runErrors.machine_id}}<p class="field-error" id="run-machine-error">{{runErrors.machine_id}}</p>{{/runErrors.machine_id}}
          {{#has_pools}}<fieldset><legend>Or any machine in all of these pools</legend>
          {{#pools}}<label class="check"><input type="checkbox" name="pool_id" value="{{id}}"{{#selected}} checked{{/selected}}> {{name}}</label>{{/pools}}
          </fieldset>{{/has_pools}}
          {{#runErrors.pool_ids}}<p class="field-error">{{runErrors.pool_ids}}</p>{{/runErrors.pool_ids}}
          <label for="run-inputs">Inputs (a JSON object)</label>
          <textarea id="run-inputs" name="input_values" rows="4" class="code" placeholder='{"name": "value"}' data-testid="run-inputs"{{#runErrors.input_values}} aria-invalid="true" aria-describedby="run-inputs-error"{{/runErrors.input_values}}>{{runForm.input_values}}</textarea>
          {{#runErrors.input_values}}<p class="field-error" id="run-inputs-error">{{runErrors.input_values}}</p>{{/runErrors.input_values}}
          <fieldset><legend>Secrets (typed where the prompt says <code>{$name}</code>; never shown again)</legend>
          {{#runForm.secrets}}
          <div class="secret-row">
            <label for="secret-name-{{row}}">Name</label><input id="secret-name-{{row}}" name="secret_name_{{row}}" value="{{name}}" autocomplete="off">
            <label for="secret-value-{{row}}">Value</label><input id="secret-value-{{row}}" name="secret_value_{{row}}" type="password" autocomplete="new-password">
          </div>
          {{/runForm.secrets}}
          </fieldset>
          {{#runErrors.sensitive_input_values}}<p class="field-error">{{runErrors.sensitive_input_values}}</p>{{/runErrors.sensitive_input_values}}
          <button type="submit" data-testid="start-run">Start run</button>
        </form>
        <h2>Recent runs</h2>
        {{#has_recentRuns}}{{> run_table}}{{#recentRuns}}{{> run_row}}{{/recentRuns}}</tbody></table><p><a href="/runs?workflow_id={{id}}">All runs of this workflow</a></p>{{/has_recentRuns}}
        {{^recentRuns}}<p class="empty">No runs yet: start one above.</p>{{/recentRuns}}
        <h2>Trajectories</h2>
        {{^trajectories}}<p class="empty">No trajectories yet. A run performed by the model records one; approve it to make later runs replay it.</p>{{/trajectories}}
        {{#has_trajectories}}
        <table class="list">
        <thead><tr><th scope="col">Trajectory</th><th scope="col">Steps</th><th scope="col">State</th><th scope="col">Updated</th></tr></thead>
        <tbody>
        {{#trajectories}}<tr data-testid="trajectory-row"><td><a href="/trajectories/{{id}}">{{displayName}}</a></td><td>{{stepCount}}</td>
          <td>{{#is_approved}}<span class="badge status-success">approved</span>{{/is_approved}}{{^is_approved}}<span class="badge">not approved</span>{{/is_approved}} {{#is_main}}<span class="badge">main</span>{{/is_main}}</td>
          <td><time datetime="{{updated_at}}">{{updated_at}}</time></td></tr>{{/trajectories}}
        </tbody>
        </table>
        {{/has_trajectories}}
        </section>
        <section>
        <h2>Edit</h2>
        <form method="post" action="/workflows/{{id}}" class="stack">
        {{> workflow_fields}}
          <button type="submit" data-testid="save-workflow">Save workflow</button>
        </form>
        <h2>Versions</h2>
        <ul class="versions">
        {{#versions}}<li><details><summary>Version {{version}}{{#is_current}} (current){{/is_current}} · <time datetime="{{updated_at}}">{{updated_at}}</time> · {{name}}</summary><pre>{{main_prompt}}</pre></details></li>{{/versions}}
        </ul>
        <h2>Remove</h2>
        <form method="post" action="/workflows/{{id}}/delete" data-confirm="Delete this workflow with its runs and trajectories?">{{> csrf}}<button type="submit" class="danger">Delete workflow</button></form>
        </section>
        </div>
        {{/content}}{{/layout}}
        """

    static let trajectory = """
        {{<layout}}{{$title}}{{displayName}}{{/title}}{{$content}}
        <p class="crumbs"><a href="/workflows">Workflows</a> / <a href="/workflows/{{workflow_id}}">{{workflowName}}</a> /</p>
        <h1>{{displayName}}
          {{#is_approved}}<span class="badge status-success" data-testid="trajectory-approved">approved</span>{{/is_approved}}
          {{^is_approved}}<span class="badge" data-testid="trajectory-approved">not approved</span>{{/is_approved}}
          {{#is_main}}<span class="badge">main</span>{{/is_main}}</h1>
        <p>{{stepCount}} steps{{#dimensionsText}}, recorded at {{dimensionsText}}{{/dimensionsText}}. {{description}}</p>
        <div class="actions">
          {{^is_approved}}<form method="post" action="/trajectories/{{id}}/approve" class="inline">{{> csrf}}<button type="submit" data-testid="approve-trajectory">Approve: later runs replay it</button></form>{{/is_approved}}
          {{#is_approved}}<form method="post" action="/trajectories/{{id}}/unapprove" class="inline">{{> csrf}}<button type="submit">Withdraw approval</button></form>{{/is_approved}}
          {{^is_main}}<form method="post" action="/trajectories/{{id}}/make-main" class="inline">{{> csrf}}<button type="submit">Make main</button></form>{{/is_main}}
          <form method="post" action="/trajectories/{{id}}/delete" class="inline" data-confirm="Delete this trajectory?">{{> csrf}}<button type="submit" class="danger">Delete</button></form>
        </div>
        <ol class="steps">
        {{#steps}}
        <li data-testid="trajectory-step">
          <h3>{{number}}. <code>{{name}}</code></h3>
          {{#args}}<pre>{{args}}</pre>{{/args}}
          {{#checkpoint}}<figure><img src="{{checkpoint}}" alt="Checkpoint of step {{number}}" class="crop"><figcaption>Checkpoint {{region}}</figcaption></figure>{{/checkpoint}}
        </li>
        {{/steps}}
        </ol>
        {{^steps}}<p class="empty">This trajectory has no steps.</p>{{/steps}}
        {{/content}}{{/layout}}
        """

    static let runs = """
        {{<layout}}{{$title}}Runs{{/title}}{{$content}}
        <h1>Runs</h1>
        <form method="get" action="/runs" class="filters">
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status"><option value="">any</option>{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/statuses}}</select>
          <label for="filter-workflow">Workflow</label>
          <select id="filter-workflow" name="workflow_id"><option value="">any</option>{{#workflows}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/workflows}}</select>
          <label for="filter-machine">Machine</label>
          <select id="filter-machine" name="machine_id"><option value="">any</option>{{{machineOptions}}}</select>
          <button type="submit">Filter</button>
        </form>
        {{#has_runs}}{{> run_table}}{{#runs}}{{> run_row}}{{/runs}}</tbody></table>{{/has_runs}}
        {{^runs}}<p class="empty">{{#filtered}}No run matches these filters. <a href="/runs">Show all runs</a>.{{/filtered}}{{^filtered}}No runs yet. Start one from a <a href="/workflows">workflow</a>, or with the SDK.{{/filtered}}</p>{{/runs}}
        {{> pagination}}
        {{/content}}{{/layout}}
        """

    static let run = """
        {{<layout}}{{$title}}Run {{shortID}}{{/title}}{{$content}}
        <p class="crumbs"><a href="/runs">Runs</a> / <a href="/workflows/{{workflow_id}}">{{workflowName}}</a> /</p>
        <h1>Run <code>{{shortID}}</code></h1>
        <div id="run-live" data-live-url="/runs/{{id}}/live"{{^isFinal}} data-live="1"{{/isFinal}}>
        {{> run_live}}
        </div>
        {{/content}}{{/layout}}
        """

    static let runLive = """
        <div class="run-head" data-final="{{#isFinal}}1{{/isFinal}}{{^isFinal}}0{{/isFinal}}">
          <p>Status: <span class="badge status-{{status}}" data-testid="run-status">{{status}}</span>
          {{#machine_id}} on <a href="/machines/{{machine_id}}">{{machineName}}</a>{{/machine_id}}</p>
          <p class="muted">Created <time datetime="{{created_at}}">{{created_at}}</time>{{#started_at}} · started <time datetime="{{started_at}}">{{started_at}}</time>{{/started_at}}{{#ended_at}} · ended <time datetime="{{ended_at}}">{{ended_at}}</time>{{/ended_at}}</p>
          <div class="actions">
          {{#canCancel}}<form method="post" action="/runs/{{id}}/cancel" class="inline">{{> csrf}}<button type="submit" class="danger" data-testid="cancel-run">Cancel run</button></form>{{/canCancel}}
          {{#isFinal}}<form method="post" action="/runs/{{id}}/retry" class="inline">{{> csrf}}<button type="submit" data-testid="retry-run">Retry</button></form>{{/isFinal}}
          </div>
        </div>
        {{#has_errors}}<section class="errors"><h2>Errors</h2><ul>{{#errors}}<li data-testid="run-error">{{.}}</li>{{/errors}}</ul></section>{{/has_errors}}
        <section><h2>Output</h2>
        {{#outputJSON}}<pre data-testid="run-output">{{outputJSON}}</pre>{{/outputJSON}}
        {{^outputJSON}}<p class="empty">{{#isFinal}}This run returned no output data.{{/isFinal}}{{^isFinal}}The output appears when the run ends.{{/isFinal}}</p>{{/outputJSON}}
        </section>
        {{#has_attachments}}<section><h2>Attachments</h2><ul>{{#attachments}}<li><a href="{{href}}" download data-testid="run-attachment">{{filename}}</a> <span class="muted">{{attachment_type}} · {{size_bytes}} bytes</span></li>{{/attachments}}</ul></section>{{/has_attachments}}
        {{#inputJSON}}<section><h2>Inputs</h2><pre>{{inputJSON}}</pre>{{#sensitive_input_aliases}}<p class="muted">Secrets were given; their values are never shown.</p>{{/sensitive_input_aliases}}</section>{{/inputJSON}}
        <section><h2>History</h2>
        {{^history}}<p class="empty">{{#isFinal}}Nothing was recorded.{{/isFinal}}{{^isFinal}}Steps appear here as the machine performs them.{{/isFinal}}</p>{{/history}}
        <ol class="history">
        {{#history}}
        <li class="event" data-testid="history-event">
          <p><strong>{{#step}}Step {{step}}: {{/step}}{{#name}}<code>{{name}}</code>{{/name}}{{^name}}{{type}}{{/name}}</strong>
          {{#status}}<span class="badge status-{{status}}">{{status}}</span>{{/status}}
          {{#at}}<time datetime="{{at}}">{{at}}</time>{{/at}}</p>
          {{#text}}<p>{{text}}</p>{{/text}}
          {{#error}}<p class="field-error">{{error}}</p>{{/error}}
          {{#args}}<details><summary>Arguments</summary><pre>{{args}}</pre></details>{{/args}}
          {{#result}}<details><summary>Result</summary><pre>{{result}}</pre></details>{{/result}}
          {{#image}}<img src="{{image}}" alt="Screenshot at event {{number}}" class="shot" data-testid="run-image" loading="lazy">{{/image}}
        </li>
        {{/history}}
        </ol>
        </section>
        """

    static let settings = """
        {{<layout}}{{$title}}Settings{{/title}}{{$content}}
        <h1>Settings</h1>
        <section id="keys">
        <h2>API keys</h2>
        {{#newKey}}<div class="secret-once" role="status"><p>New key “{{name}}”. Copy it now: it is not shown again.</p><p><code data-testid="new-api-key">{{secret}}</code></p></div>{{/newKey}}
        <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"></th></tr></thead>
        <tbody>
        {{#keys}}<tr data-testid="key-row"><td>{{name}}</td><td><code>{{prefix}}…</code></td><td><time datetime="{{created_at}}">{{created_at}}</time></td>
          <td>{{#revoked}}revoked{{/revoked}}{{^revoked}}active{{#current}} (this session){{/current}}{{/revoked}}</td>
          <td>{{^revoked}}<form method="post" action="/settings/keys/{{id}}/revoke" class="inline" data-confirm="Revoke this key? Programs and sessions using it stop at once.">{{> csrf}}<button type="submit" class="danger">Revoke</button></form>{{/revoked}}</td></tr>{{/keys}}
        </tbody>
        </table>
        <form method="post" action="/settings/keys" class="row">
          {{> csrf}}
          <label for="key-name">Name of a new key</label>
          <input id="key-name" name="name" required{{#keyErrors.name}} aria-invalid="true" aria-describedby="key-name-error"{{/keyErrors.name}}>
          <button type="submit">Create key</button>
          {{#keyErrors.name}}<p class="field-error" id="key-name-error">{{keyErrors.name}}</p>{{/keyErrors.name}}
        </form>
        </section>
        <section id="tokens">
        <h2>Machine registration tokens</h2>
        {{#newToken}}<div class="secret-once" role="status"><p>New token. Copy it now: it is not shown again. On the machine run <code>cyberdesk-agent join SERVER_URL TOKEN</code>.</p><p><code data-testid="new-token">{{secret}}</code></p></div>{{/newToken}}
        {{^tokens}}<p class="empty">No tokens yet. A token lets one machine join this organization.</p>{{/tokens}}
        {{#has_tokens}}
        <table class="list">
        <thead><tr><th scope="col">Pools</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"></th></tr></thead>
        <tbody>
        {{#tokens}}<tr><td>{{pools}}</td><td><time datetime="{{created_at}}">{{created_at}}</time></td><td><time datetime="{{expires_at}}">{{expires_at}}</time></td><td>{{state}}</td>
          <td>{{#active}}<form method="post" action="/settings/tokens/{{id}}/revoke" class="inline">{{> csrf}}<button type="submit" class="danger">Revoke</button></form>{{/active}}</td></tr>{{/tokens}}
        </tbody>
        </table>
        {{/has_tokens}}
        <form method="post" action="/settings/tokens" class="row">
          {{> csrf}}
          <label for="token-pools">Pools to join (comma-separated names)</label>
          <input id="token-pools" name="pools">
          <label for="token-ttl">Valid for (hours)</label>
          <input id="token-ttl" name="ttl_hours" type="number" min="1" max="720" value="1"{{#tokenErrors.ttl_hours}} aria-invalid="true" aria-describedby="token-ttl-error"{{/tokenErrors.ttl_hours}}>
          <button type="submit">Create token</button>
          {{#tokenErrors.ttl_hours}}<p class="field-error" id="token-ttl-error">{{tokenErrors.ttl_hours}}</p>{{/tokenErrors.ttl_hours}}
        </form>
        </section>
        <section id="models">
        <h2>Model configurations</h2>
        {{^models}}<p class="empty">No model configurations. Add one so prompt-driven runs can call a model.</p>{{/models}}
        {{#has_models}}
        <table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Provider</th><th scope="col">Model</th><th scope="col">Default</th><th scope="col"></th></tr></thead>
        <tbody>
        {{#models}}<tr><td>{{name}}</td><td>{{provider}}</td><td><code>{{model}}</code></td><td>{{#is_system_default}}yes{{/is_system_default}}</td>
          <td><form method="post" action="/settings/models/{{id}}/delete" class="inline" data-confirm="Delete this model configuration?">{{> csrf}}<button type="submit" class="danger">Delete</button></form></td></tr>{{/models}}
        </tbody>
        </table>
        {{/has_models}}
        <form method="post" action="/settings/models" class="stack">
          {{> csrf}}
          <label for="model-name">Name</label>
          <input id="model-name" name="name" value="{{modelForm.name}}" required{{#modelErrors.name}} aria-invalid="true" aria-describedby="model-name-error"{{/modelErrors.name}}>
          {{#modelErrors.name}}<p class="field-error" id="model-name-error">{{modelErrors.name}}</p>{{/modelErrors.name}}
          <label for="model-provider">Provider</label>
          <input id="model-provider" name="provider" value="{{modelForm.provider}}" list="providers" required{{#modelErrors.provider}} aria-invalid="true" aria-describedby="model-provider-error"{{/modelErrors.provider}}>
          <datalist id="providers"><option value="anthropic"><option value="openai"></datalist>
          {{#modelErrors.provider}}<p class="field-error" id="model-provider-error">{{modelErrors.provider}}</p>{{/modelErrors.provider}}
          <label for="model-model">Model</label>
          <input id="model-model" name="model" value="{{modelForm.model}}" required{{#modelErrors.model}} aria-invalid="true" aria-describedby="model-model-error"{{/modelErrors.model}}>
          {{#modelErrors.model}}<p class="field-error" id="model-model-error">{{modelErrors.model}}</p>{{/modelErrors.model}}
          <label for="model-base-url">Base URL (optional, for a compatible endpoint)</label>
          <input id="model-base-url" name="base_url" value="{{modelForm.base_url}}">
          <label for="model-key">API key (stored encrypted, never shown)</label>
          <input id="model-key" name="api_key" type="password" autocomplete="new-password">
          <label class="check"><input type="checkbox" name="is_system_default" value="1"> The organization's default</label>
          <button type="submit">Add model configuration</button>
        </form>
        </section>
        {{/content}}{{/layout}}
        """
}
