"""Models and prompt images through the official SDK: `client.model_configurations`,
provider credentials (generated client only), `model_metadata` on workflows and runs, and
`client.workflows.*prompt_image*`.

API keys must never come back, and never sit in the data directory in plain or base64 form.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx
from cyberdesk import (
    ModelConfigurationCreate,
    ModelConfigurationUpdate,
    RunCreate,
    WorkflowCreate,
    WorkflowModelMetadata,
    WorkflowUpdate,
)
from openapi_client.cyberdesk_cloud_client.api.provider_credentials import (
    delete_provider_credential_v1_provider_credentials_slot_delete as delete_credential,
    list_provider_credentials_v1_provider_credentials_get as list_credentials,
    upsert_provider_credential_v1_provider_credentials_slot_put as put_credential,
    validate_provider_credential_v1_provider_credentials_slot_validate_post as validate_credential,
)
from openapi_client.cyberdesk_cloud_client.errors import UnexpectedStatus
from openapi_client.cyberdesk_cloud_client.models import ProviderCredentialSlot, ProviderCredentialUpsert

from sdk_helpers import REQUEST_TIMEOUT, error_detail, expect_status, new_workflow, ok, unique, val

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def configuration(**fields) -> ModelConfigurationCreate:
    values = dict(name=unique("claude"), provider="anthropic", model="claude-sonnet-4-5", max_tokens=4096)
    values.update(fields)
    return ModelConfigurationCreate(**values)


def assert_not_in_data_dir(server, secret: str) -> None:
    """The key in plain or base64 form is in no file of the server's data directory, nor in its log."""
    forms = [secret.encode(), base64.b64encode(secret.encode())]
    for path in [*Path(server.data_dir).rglob("*"), Path(server.stderr_path)]:
        if path.is_file():
            data = path.read_bytes()
            for form in forms:
                assert form not in data, f"the key is stored in {path}"


# ----- model configurations -------------------------------------------------------------


def test_configuration_round_trip_never_returns_the_key(client, server) -> None:
    secret = "sk-ant-sdk-" + uuid.uuid4().hex
    created = ok(
        client.model_configurations.create_sync(
            configuration(api_key=secret, temperature=0.2, additional_params={"tool_version": "computer_20250124"})
        ),
        "model_configurations.create",
    )
    assert created.provider == "anthropic" and created.is_system_default is False
    assert val(created.api_key_alias), "a configuration with a key shows its alias"
    assert secret not in str(created.to_dict())

    got = ok(client.model_configurations.get_sync(str(created.id)), "model_configurations.get")
    assert got.id == created.id and got.temperature == 0.2
    listed = ok(client.model_configurations.list_sync(), "model_configurations.list")
    assert created.id in [item.id for item in listed]
    assert all(secret not in str(item.to_dict()) for item in listed)

    updated = ok(
        client.model_configurations.update_sync(str(created.id), ModelConfigurationUpdate(name="renamed", max_retries=1)),
        "model_configurations.update",
    )
    assert updated.name == "renamed" and updated.max_retries == 1
    assert updated.api_key_alias == created.api_key_alias
    cleared = ok(
        client.model_configurations.update_sync(str(created.id), ModelConfigurationUpdate(clear_api_key=True)),
        "clear_api_key",
    )
    assert val(cleared.api_key_alias) is None
    assert_not_in_data_dir(server, secret)

    response = client.model_configurations.delete_sync(str(created.id))
    assert response.error is None
    expect_status(client.model_configurations.get_sync(str(created.id)), 404, what="get after delete")


def test_unsupported_provider_and_bad_params_are_400_naming_the_field(client) -> None:
    error = expect_status(client.model_configurations.create_sync(configuration(provider="cohere")), 400)
    assert "anthropic, openai" in error_detail(error)
    error = expect_status(
        client.model_configurations.create_sync(configuration(additional_params={"base_url": "file:///etc/passwd"})),
        400,
    )
    assert "additional_params.base_url" in error_detail(error)
    error = expect_status(
        client.model_configurations.create_sync(configuration(additional_params={"coordinate_space": "percent"})),
        400,
    )
    assert "coordinate_space" in error_detail(error)


def test_another_organization_cannot_see_or_use_a_configuration(client, other_client) -> None:
    created = ok(client.model_configurations.create_sync(configuration()))
    expect_status(other_client.model_configurations.get_sync(str(created.id)), 404)
    expect_status(
        other_client.model_configurations.update_sync(str(created.id), ModelConfigurationUpdate(name="x")), 404
    )
    assert created.id not in [item.id for item in ok(other_client.model_configurations.list_sync())]
    error = expect_status(
        other_client.workflows.create_sync(
            WorkflowCreate(main_prompt="x", model_metadata=WorkflowModelMetadata(main_agent_model_id=created.id))
        ),
        400,
    )
    assert "model_metadata.main_agent_model_id" in error_detail(error)


# ----- model metadata on workflows and runs -----------------------------------------------


def test_workflow_and_run_model_metadata(client) -> None:
    main = ok(client.model_configurations.create_sync(configuration()))
    other = ok(client.model_configurations.create_sync(configuration(provider="openai", model="gpt-4o")))
    workflow = ok(
        client.workflows.create_sync(
            WorkflowCreate(main_prompt="Open the chart", model_metadata=WorkflowModelMetadata(main_agent_model_id=main.id))
        ),
        "workflows.create",
    )
    assert workflow.model_metadata.main_agent_model_id == main.id

    updated = ok(
        client.workflows.update_sync(
            str(workflow.id),
            WorkflowUpdate(
                model_metadata=WorkflowModelMetadata(main_agent_model_id=main.id, fallback_model_1_id=other.id)
            ),
        ),
        "workflows.update",
    )
    assert updated.model_metadata.fallback_model_1_id == other.id
    assert updated.old_versions, "the previous version is kept"

    run = ok(client.runs.create_sync(RunCreate(workflow_id=workflow.id)), "runs.create")
    assert run.model_metadata.main_agent_model_id == main.id
    assert val(run.usage_metadata) is None, "usage_metadata is null until a model is used"
    override = ok(client.runs.create_sync(RunCreate(workflow_id=workflow.id, main_agent_model_id=other.id)))
    assert override.model_metadata.main_agent_model_id == other.id
    assert override.model_metadata.fallback_model_1_id == other.id
    fetched = ok(client.runs.get_sync(str(override.id)))
    assert fetched.model_metadata.main_agent_model_id == other.id

    error = expect_status(client.runs.create_sync(RunCreate(workflow_id=workflow.id, main_agent_model_id=uuid.uuid4())), 400)
    assert "main_agent_model_id" in error_detail(error)

    ok(client.model_configurations.update_sync(str(other.id), ModelConfigurationUpdate(is_archived=True)))
    error = expect_status(client.runs.create_sync(RunCreate(workflow_id=workflow.id, main_agent_model_id=other.id)), 400)
    assert "archived" in error_detail(error)


# ----- provider credentials -------------------------------------------------------------------


def test_provider_credentials(fresh_org_client, server) -> None:
    api = fresh_org_client._client
    secret = "sk-org-" + uuid.uuid4().hex
    slots = list_credentials.sync(client=api)
    assert sorted(item.slot.value for item in slots) == ["anthropic", "openai"]
    assert all(item.status.value == "missing" for item in slots)

    stored = put_credential.sync(
        slot=ProviderCredentialSlot.ANTHROPIC, client=api, body=ProviderCredentialUpsert(api_key=secret)
    )
    assert stored.status.value == "active"
    assert stored.display_metadata.key_last4 == secret[-4:]
    assert secret not in str(stored.to_dict())

    # Validation makes one real request; here nothing answers on the configured base URL. The
    # configuration points at a host of its own and has no key, so the organization's key is
    # not sent there, and the credential is not judged by that call.
    fresh_org_client.model_configurations.create_sync(
        ModelConfigurationCreate.from_dict(
            {
                "name": "local",
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "additional_params": {"base_url": "http://127.0.0.1:9"},
                "is_system_default": True,
            }
        )
    )
    checked = validate_credential.sync(slot=ProviderCredentialSlot.ANTHROPIC, client=api)
    assert checked.ok is False
    assert checked.checks and checked.checks[0].error
    assert checked.checks[0].location == "http://127.0.0.1:9"
    assert secret not in str(checked.to_dict())
    assert checked.credential.status.value == "active"

    try:
        put_credential.sync(slot=ProviderCredentialSlot.GOOGLE, client=api, body=ProviderCredentialUpsert(api_key="k"))
        raise AssertionError("an unsupported slot was accepted")
    except UnexpectedStatus as error:
        assert error.status_code == 400 and "anthropic, openai" in error_detail(error)

    removed = delete_credential.sync(slot=ProviderCredentialSlot.ANTHROPIC, client=api)
    assert removed.status.value == "missing"
    assert_not_in_data_dir(server, secret)


# ----- prompt images -------------------------------------------------------------------------


def test_prompt_image_upload_list_link_delete(client, other_client) -> None:
    uploaded = ok(client.workflows.upload_prompt_image_sync(file_content=PNG, filename="chart.png"), "upload")
    assert uploaded.supabase_url.startswith("supabase://workflow-prompt-images/")
    assert "/prompt-assets/" in uploaded.supabase_url and uploaded.supabase_url.endswith(".png")
    assert uploaded.content_type == "image/png" and uploaded.size_bytes == len(PNG)
    assert uploaded.filename == "chart.png"

    # The signed URL works without the API key.
    response = httpx.get(uploaded.signed_url, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert httpx.get(uploaded.signed_url.replace("signature=", "signature=x"), timeout=REQUEST_TIMEOUT).status_code == 403

    listed = ok(client.workflows.list_prompt_images_sync(), "list_prompt_images")
    item = next(image for image in listed if image.supabase_url == uploaded.supabase_url)
    assert item.size_bytes == len(PNG)
    assert item.supabase_url == "supabase://workflow-prompt-images/" + item.path
    assert uploaded.supabase_url not in [image.supabase_url for image in ok(other_client.workflows.list_prompt_images_sync())]

    fresh = ok(client.workflows.get_prompt_image_signed_url_sync(item.path), "get_prompt_image_signed_url")
    assert fresh.supabase_url == uploaded.supabase_url and fresh.expires_in == 3600
    assert httpx.get(fresh.signed_url, timeout=REQUEST_TIMEOUT).content == PNG
    expect_status(other_client.workflows.get_prompt_image_signed_url_sync(item.path), 404)

    # A prompt may show it; another organization's prompt may not.
    workflow = ok(
        client.workflows.create_sync(
            WorkflowCreate(main_prompt=f'Compare with <img src="{uploaded.supabase_url}" alt="chart">')
        )
    )
    assert uploaded.supabase_url in workflow.main_prompt
    error = expect_status(
        other_client.workflows.create_sync(WorkflowCreate(main_prompt=f'<img src="{uploaded.supabase_url}">')), 400
    )
    assert uploaded.supabase_url in error_detail(error)

    assert client.workflows.delete_prompt_image_sync(item.path).error is None
    assert httpx.get(fresh.signed_url, timeout=REQUEST_TIMEOUT).status_code == 404
    assert uploaded.supabase_url not in [image.supabase_url for image in ok(client.workflows.list_prompt_images_sync())]


def test_prompt_image_link_expires(client, base_url, admin_headers) -> None:
    """`expires_in` (10 s to 24 h) is this server's extension of `signed-url`; the SDK uses 1 h."""
    uploaded = ok(client.workflows.upload_prompt_image_sync(file_content=PNG, filename="soon.png"))
    path = uploaded.supabase_url.removeprefix("supabase://workflow-prompt-images/")
    short = httpx.get(
        f"{base_url}/v1/workflows/prompt-image/signed-url",
        params={"path": path, "expires_in": 10},
        headers=admin_headers,
        timeout=REQUEST_TIMEOUT,
    ).json()
    assert short["expires_in"] == 10
    assert httpx.get(short["signed_url"], timeout=REQUEST_TIMEOUT).status_code == 200
    deadline = time.monotonic() + 20
    while httpx.get(short["signed_url"], timeout=REQUEST_TIMEOUT).status_code == 200:
        assert time.monotonic() < deadline, "the 10 s link still works after 20 s"
        time.sleep(0.5)
    assert httpx.get(short["signed_url"], timeout=REQUEST_TIMEOUT).status_code == 403


def test_prompt_image_refusals(client) -> None:
    error = expect_status(
        client.workflows.upload_prompt_image_sync(file_content=b"GIF8 not really", filename="x.gif"), 400
    )
    assert "PNG, JPEG, GIF or WebP" in error_detail(error)
    expect_status(
        client.workflows.upload_prompt_image_sync(file_content=PNG + bytes(10 * 1024 * 1024), filename="big.png"), 413
    )
    expect_status(client.workflows.delete_prompt_image_sync("nobody/prompt-assets/none.png"), 404)
    error = expect_status(
        client.workflows.create_sync(
            WorkflowCreate(main_prompt='<img src="supabase://workflow-prompt-images/x/prompt-assets/missing.png">')
        ),
        400,
    )
    assert "missing.png" in error_detail(error)
    workflow = new_workflow(client)
    assert workflow.id
