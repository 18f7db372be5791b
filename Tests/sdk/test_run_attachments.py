"""`client.run_attachments`: file inputs become INPUT attachments; list, get, download,
signed download URLs, save_to_file, create, update, delete."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from cyberdesk import AttachmentType, FileInput, RunAttachmentCreate, RunAttachmentUpdate

from sdk_helpers import (
    assert_aware,
    b64,
    expect_rejected,
    expect_status,
    ids,
    new_run,
    ok,
    val,
)

NOTES = "Patient: Łucja Müller-Øberg – ✓ 東京\nline two\n".encode("utf-8")
BINARY = bytes(range(256)) * 4


@pytest.fixture
def run_with_inputs(client, workflow):
    run = new_run(
        client,
        workflow.id,
        file_inputs=[
            FileInput(
                filename="notes.txt",
                content=b64(NOTES),
                target_path="~/CyberdeskTransfers/notes.txt",
                cleanup_imports_after_run=True,
            ),
            FileInput(filename="scan.bin", content=b64(BINARY)),
        ],
    )
    return run


def attachment_named(client, run_id, filename: str):
    page = ok(client.run_attachments.list_sync(run_id=str(run_id)), "run_attachments.list(run_id)")
    matches = [a for a in page.items if a.filename == filename]
    assert len(matches) == 1, f"expected one attachment named {filename}, got {[a.filename for a in page.items]}"
    return matches[0]


def test_file_inputs_become_input_attachments(client, run_with_inputs) -> None:
    run = run_with_inputs
    page = ok(client.run_attachments.list_sync(run_id=str(run.id)), "run_attachments.list(run_id)")
    assert page.total == 2
    assert sorted(a.filename for a in page.items) == ["notes.txt", "scan.bin"]
    assert all(a.attachment_type == AttachmentType.INPUT for a in page.items)
    assert all(str(a.run_id) == str(run.id) for a in page.items)
    assert sorted(str(uuid.UUID(i)) for i in val(run.input_attachment_ids) or []) == sorted(ids(page.items)), (
        "the run lists its input attachments"
    )

    notes = attachment_named(client, run.id, "notes.txt")
    assert notes.size_bytes == len(NOTES)
    assert val(notes.target_path) == "~/CyberdeskTransfers/notes.txt"
    assert notes.cleanup_imports_after_run is True
    assert isinstance(notes.content_type, str) and notes.content_type
    assert isinstance(notes.storage_path, str)
    assert_aware(notes.created_at, "created_at")

    scan = attachment_named(client, run.id, "scan.bin")
    assert scan.size_bytes == len(BINARY)
    assert scan.cleanup_imports_after_run is False


def test_list_filters_by_type(client, run_with_inputs) -> None:
    run = run_with_inputs
    output = ok(
        client.run_attachments.create_sync(
            RunAttachmentCreate(
                run_id=run.id,
                filename="result.csv",
                content=b64(b"a,b\n1,2\n"),
                content_type="text/csv",
                attachment_type=AttachmentType.OUTPUT,
            )
        ),
        "run_attachments.create",
    )
    inputs = ok(client.run_attachments.list_sync(run_id=str(run.id), attachment_type=AttachmentType.INPUT))
    assert sorted(a.filename for a in inputs.items) == ["notes.txt", "scan.bin"]
    outputs = ok(client.run_attachments.list_sync(run_id=str(run.id), attachment_type=AttachmentType.OUTPUT))
    assert ids(outputs.items) == [str(output.id)] and outputs.total == 1


def test_list_pagination(client, run_with_inputs) -> None:
    run = run_with_inputs
    first = ok(client.run_attachments.list_sync(skip=0, limit=1, run_id=str(run.id)))
    second = ok(client.run_attachments.list_sync(skip=1, limit=1, run_id=str(run.id)))
    assert first.total == second.total == 2
    assert first.skip == 0 and second.skip == 1 and first.limit == 1
    assert len(first.items) == len(second.items) == 1
    assert first.items[0].id != second.items[0].id


def test_get(client, run_with_inputs) -> None:
    listed = attachment_named(client, run_with_inputs.id, "notes.txt")
    got = ok(client.run_attachments.get_sync(str(listed.id)), "run_attachments.get")
    assert got.id == listed.id
    assert got.filename == "notes.txt"
    assert got.size_bytes == len(NOTES)
    assert got.attachment_type == AttachmentType.INPUT


def test_download_returns_the_exact_bytes(client, run_with_inputs) -> None:
    for filename, expected in (("notes.txt", NOTES), ("scan.bin", BINARY)):
        attachment = attachment_named(client, run_with_inputs.id, filename)
        data = ok(client.run_attachments.download_sync(str(attachment.id)), f"download {filename}")
        assert data == expected, f"{filename}: downloaded bytes differ"


def test_download_endpoint_forces_a_download(http: httpx.Client, admin_headers, client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    response = http.get(f"/v1/run-attachments/{attachment.id}/download", headers=admin_headers)
    assert response.status_code == 200
    assert response.content == NOTES
    assert response.headers.get("content-disposition", "").lower().startswith("attachment")


def test_save_to_file(client, run_with_inputs, tmp_path: Path) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    into_dir = ok(client.run_attachments.save_to_file_sync(str(attachment.id), tmp_path), "save_to_file(dir)")
    assert Path(into_dir["path"]) == tmp_path / "notes.txt"
    assert into_dir["size"] == len(NOTES)
    assert (tmp_path / "notes.txt").read_bytes() == NOTES

    explicit = tmp_path / "copy-of-notes.txt"
    ok(client.run_attachments.save_to_file_sync(str(attachment.id), explicit), "save_to_file(path)")
    assert explicit.read_bytes() == NOTES


def test_signed_download_url_works_without_the_key(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "scan.bin")
    signed = ok(client.run_attachments.get_download_url_sync(str(attachment.id), expires_in=60), "get_download_url")
    assert signed.expires_in == 60
    parsed = urllib.parse.urlparse(signed.url)
    assert parsed.scheme in ("http", "https") and parsed.netloc, f"not an absolute URL: {signed.url}"

    # A plain GET, no Authorization header: what a browser or curl would do.
    with urllib.request.urlopen(signed.url, timeout=30) as response:
        assert response.status == 200
        assert response.read() == BINARY
        assert (response.headers.get("Content-Disposition") or "").lower().startswith("attachment")

    default = ok(client.run_attachments.get_download_url_sync(str(attachment.id)), "get_download_url()")
    assert default.expires_in == 300


def _flip(text: str) -> str:
    """Changes one character in the middle, keeping it a valid hex/base64 character of another value."""
    i = len(text) // 2
    c = text[i]
    if c.isdigit():
        replacement = str((int(c) + 1) % 10)
    elif c.isalpha():
        replacement = "b" if c.lower() != "b" else "c"
        replacement = replacement.upper() if c.isupper() else replacement
    else:
        replacement = "0"
    return text[:i] + replacement + text[i + 1 :]


def _tampered(url: str) -> str:
    """The URL with its signature changed (the longest query value, else the last path segment)."""
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    if query:
        longest = max(range(len(query)), key=lambda i: len(query[i][1]))
        name, value = query[longest]
        query[longest] = (name, _flip(value))
        return urllib.parse.urlunparse(parsed._replace(query=urllib.parse.urlencode(query)))
    head, _, last = parsed.path.rstrip("/").rpartition("/")
    return urllib.parse.urlunparse(parsed._replace(path=f"{head}/{_flip(last)}"))


def test_tampered_or_unsigned_download_url_is_refused(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    signed = ok(client.run_attachments.get_download_url_sync(str(attachment.id), expires_in=60))
    tampered = _tampered(signed.url)
    assert tampered != signed.url
    response = httpx.get(tampered, timeout=30)
    assert 400 <= response.status_code < 500, f"tampered URL answered {response.status_code}"
    assert NOTES not in response.content

    parsed = urllib.parse.urlparse(signed.url)
    if parsed.query:
        unsigned = urllib.parse.urlunparse(parsed._replace(query=""))
        response = httpx.get(unsigned, timeout=30)
        assert 400 <= response.status_code < 500, f"URL without its query answered {response.status_code}"


def test_download_url_expiry_out_of_range_is_refused(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    for expires_in in (5, 3601):
        response = client.run_attachments.get_download_url_sync(str(attachment.id), expires_in=expires_in)
        expect_rejected(response, 400, what=f"get_download_url(expires_in={expires_in})")


def test_create_output_attachment(client, workflow) -> None:
    run = new_run(client, workflow.id)
    created = ok(
        client.run_attachments.create_sync(
            RunAttachmentCreate(
                run_id=run.id,
                filename="report.pdf",
                content=b64(BINARY),
                content_type="application/pdf",
                attachment_type=AttachmentType.OUTPUT,
            )
        ),
        "run_attachments.create",
    )
    assert str(created.run_id) == str(run.id)
    assert created.filename == "report.pdf"
    assert created.content_type == "application/pdf"
    assert created.attachment_type == AttachmentType.OUTPUT
    assert created.size_bytes == len(BINARY)
    assert ok(client.run_attachments.download_sync(str(created.id))) == BINARY


def test_update_sets_expiry(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    expires = (datetime.now(timezone.utc) + timedelta(days=7)).replace(microsecond=0)
    updated = ok(
        client.run_attachments.update_sync(str(attachment.id), RunAttachmentUpdate(expires_at=expires)),
        "run_attachments.update",
    )
    assert updated.id == attachment.id
    assert isinstance(updated.expires_at, datetime), f"expires_at did not parse: {updated.expires_at!r}"
    assert abs((updated.expires_at - expires).total_seconds()) < 1
    fetched = ok(client.run_attachments.get_sync(str(attachment.id)))
    assert abs((fetched.expires_at - expires).total_seconds()) < 1


def test_delete(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    deleted = client.run_attachments.delete_sync(str(attachment.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}
    expect_status(client.run_attachments.get_sync(str(attachment.id)), 404, what="get after delete")
    expect_status(client.run_attachments.download_sync(str(attachment.id)), 404, what="download after delete")
    remaining = ok(client.run_attachments.list_sync(run_id=str(run_with_inputs.id)))
    assert [a.filename for a in remaining.items] == ["scan.bin"]


def test_deleting_the_run_deletes_its_attachments(client, run_with_inputs) -> None:
    attachment = attachment_named(client, run_with_inputs.id, "notes.txt")
    signed = ok(client.run_attachments.get_download_url_sync(str(attachment.id), expires_in=60))
    ok(client.runs.delete_sync(str(run_with_inputs.id)))
    expect_status(client.run_attachments.get_sync(str(attachment.id)), 404, what="attachment of a deleted run")
    response = httpx.get(signed.url, timeout=30)
    assert 400 <= response.status_code < 500, "a signed URL must stop working once the file is deleted"


def test_attachment_for_unknown_run_is_refused(client) -> None:
    response = client.run_attachments.create_sync(
        RunAttachmentCreate(
            run_id=str(uuid.uuid4()),
            filename="orphan.txt",
            content=b64(b"x"),
            content_type="text/plain",
            attachment_type=AttachmentType.OUTPUT,
        )
    )
    expect_status(response, 404, 400, what="attachment for an unknown run")
