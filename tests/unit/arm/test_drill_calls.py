"""The drill's body readers and the SAS reader (over httpx.MockTransport: pure checks of what a
read must give; the real HTTP read is in the emulator and integration tests)."""

from __future__ import annotations

import httpx
import pytest

from shared.arm.drill_calls import disk_view, restorable_disks
from shared.arm.sas_read import SasReadFailed, check_sas_url, read_start
from shared.redaction import redact

MIB = 1024 * 1024
SAS = "https://md-abc.z1.blob.storage.azure.net/c/abcd?sv=2018-03-28&sr=b&sig=SECRET&sp=r"


def test_restorable_disks_os_first_then_data_disks() -> None:
    body = {
        "properties": {
            "sourceMetadata": {
                "storageProfile": {
                    "osDisk": {"diskRestorePoint": {"id": "/drp/os"}, "diskSizeGB": 128},
                    "dataDisks": [
                        {"lun": 1, "diskRestorePoint": {"id": "/drp/1"}},
                        {"lun": 0, "diskRestorePoint": {}},  # no id: not restorable
                        "junk",
                    ],
                }
            }
        }
    }
    found = restorable_disks(body)
    assert [(d.disk_restore_point_id, d.lun, d.size_gb) for d in found] == [
        ("/drp/os", None, 128),
        ("/drp/1", 1, None),
    ]
    assert restorable_disks({}) == ()
    assert restorable_disks(None) == ()


def test_disk_view() -> None:
    view = disk_view(
        {
            "id": "/d",
            "location": "West US",
            "tags": {"rpcopy-drill": "x"},
            "properties": {
                "provisioningState": "Succeeded",
                "diskSizeGB": 64,
                "creationData": {"sourceResourceId": "/drp"},
            },
        }
    )
    assert (view.location, view.size_gb, view.source_resource_id) == ("westus", 64, "/drp")
    assert view.tags == {"rpcopy-drill": "x"}
    assert disk_view([]).provisioning_state is None


def transport(status: int, body: bytes, headers: dict[str, str], seen: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handler)


async def test_a_good_read_sends_no_credentials_and_checks_length() -> None:
    seen: list[httpx.Request] = []
    data = bytes(range(256)) * 4096
    mock = transport(206, data, {"content-range": f"bytes 0-{MIB - 1}/{2 * 1024**3 + 512}"}, seen)
    result = await read_start(SAS, MIB, min_blob_bytes=2 * 1024**3, transport=mock)
    assert result.bytes_read == MIB
    assert result.blob_size == 2 * 1024**3 + 512
    assert len(result.sha256) == 64
    assert "authorization" not in seen[0].headers
    assert seen[0].headers["range"] == f"bytes=0-{MIB - 1}"


@pytest.mark.parametrize(
    ("status", "body", "headers", "code"),
    [
        (403, b"<Error/>", {}, "SasReadFailed"),
        (206, b"x" * 10, {"content-range": f"bytes 0-9/{4 * MIB}"}, "SasShortRead"),
        (206, b"x" * MIB, {"content-range": f"bytes 5-{MIB + 4}/{4 * MIB}"}, "SasBadRange"),
        (206, b"x" * MIB, {"content-range": f"bytes 0-{MIB - 1}/{MIB}"}, "SasBlobTooSmall"),
    ],
)
async def test_bad_reads_fail_without_quoting_the_url(
    status: int, body: bytes, headers: dict[str, str], code: str
) -> None:
    mock = transport(status, body, headers, [])
    with pytest.raises(SasReadFailed) as caught:
        await read_start(SAS, MIB, min_blob_bytes=2 * MIB, transport=mock)
    assert caught.value.code == code
    assert "SECRET" not in str(caught.value)
    assert "sig=" not in str(caught.value)


def test_a_small_blob_answered_whole_is_fine() -> None:
    import asyncio

    mock = transport(200, b"y" * 1000, {}, [])
    result = asyncio.run(read_start(SAS, MIB, transport=mock))
    assert (result.bytes_read, result.blob_size) == (1000, 1000)


@pytest.mark.parametrize(
    "url",
    ["http://storage.example.net/x?sig=a", "ftp://x/y", "file:///etc/passwd", "//x/y"],
)
def test_only_https_or_loopback_http(url: str) -> None:
    with pytest.raises(SasReadFailed):
        check_sas_url(url)
    check_sas_url("http://127.0.0.1:8490/_sas/t/abcd?sig=x")


def test_sas_urls_are_redacted_from_logs() -> None:
    line = f'beginGetAccess answered {{"accessSAS": "{SAS}"}}'
    assert "SECRET" not in redact(line)
    assert "SECRET" not in redact(f"GET {SAS} failed")
