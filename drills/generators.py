"""Seeded generators of bad input for every way into the app: HTTP bodies, query strings, ids
and headers; Event Grid deliveries in both schemas; raw queue messages.

Everything is drawn from one `random.Random(seed)`, so a seed names a run exactly. Queue message
text keeps to XML-valid characters (DESIGN, "facts that bite": Azurite accepts an XML-invalid
character and then answers 500 to every read of that queue; real Azure refuses it at send) and
leaves `\\r` out (XML parsers turn it into `\\n`, so the app would see another text than sent).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000d1"
RPC_PREFIX = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-drill/providers/Microsoft.Compute"

# Strings an attacker or a broken client would try, and secret-shaped text that must never
# reach a log unmasked (the drill adds the stack's real keys to these at run time).
NASTY = [
    "",
    " ",
    "\t\n",
    "null",
    "undefined",
    "NaN",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "' or PartitionKey ne '",
    "') or true or ('",
    "%00",
    "\\u0000",
    "..%2F..%2Fetc%2Fpasswd",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "🦄🌈",
    "\u202eevil",
    "Ω≈ç√∫",
    "a" * 70000,
    "westus\n",
    " westus",
    "WestUS",
    "west us",
    "eastus",
    "mars",
    "sig=drillSAS0123456789abcdefXYZ%3D",
    "https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sr=b&sig=drillSASsignature%2Fx%3D",
    "Bearer eyJhbGciOiJIUzI1NiJ9.drill.token",
    "AccountKey=drillAccountKey0123456789==",
    "?code=drill-function-key-guess",
]


def xml_safe(text: str) -> str:
    """Only characters an XML 1.0 document may hold (and no CR, see the module docstring)."""
    out = []
    for char in text:
        point = ord(char)
        if (
            char in "\t\n"
            or 0x20 <= point <= 0xD7FF
            or 0xE000 <= point <= 0xFFFD
            or point >= 0x10000
        ):
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


@dataclass
class Gen:
    rng: random.Random
    # Real ids from the drill's world (restore points, collections, jobs) to mutate.
    restore_points: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def choice(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    # -- scalars -------------------------------------------------------------------------------

    def text(self, max_len: int = 40) -> str:
        kind = self.rng.randrange(6)
        if kind == 0:
            return self.choice(NASTY + self.secrets)
        if kind == 1:
            alphabet = string.printable
        elif kind == 2:
            alphabet = "".join(chr(c) for c in range(0x80, 0x3000, 7))
        elif kind == 3:
            alphabet = "abcdef0123456789"
        elif kind == 4:
            return self.mutated_id()
        else:
            alphabet = string.ascii_letters + "/-_."
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randrange(max_len + 1)))

    def number(self) -> Any:
        return self.choice(
            [0, -1, 1, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, True, False, None, 32, 1001]
        )

    def value(self, depth: int = 0) -> Any:
        kind = self.rng.randrange(7 if depth < 3 else 3)
        if kind == 0:
            return self.text()
        if kind == 1:
            return self.number()
        if kind == 2:
            return None
        if kind in (3, 4):
            return [self.value(depth + 1) for _ in range(self.rng.randrange(4))]
        return {self.text(12): self.value(depth + 1) for _ in range(self.rng.randrange(4))}

    def mutated_id(self) -> str:
        base = self.choice(
            self.restore_points or [f"{RPC_PREFIX}/restorePointCollections/c/restorePoints/r"]
        )
        mutations: list[Callable[[str], str]] = [
            lambda s: s.upper(),
            lambda s: s + "/",
            lambda s: s.rsplit("/", 2)[0],
            lambda s: s.replace("/restorePoints/", "/restorepoints//"),
            lambda s: s.replace("subscriptions", "subscription"),
            lambda s: s.replace(SUBSCRIPTION, "not-a-guid"),
            lambda s: s.replace(SUBSCRIPTION, str(uuid.UUID(int=self.rng.getrandbits(128)))),
            lambda s: s + "/diskRestorePoints/x",
            lambda s: s.rsplit("/", 1)[0] + "/" + "r" * 300,
            lambda s: s.rsplit("/", 1)[0] + "/missing-" + str(self.rng.randrange(10**6)),
            lambda s: s.replace("/", "\\"),
            lambda s: "https://management.azure.com" + s,
            lambda s: s + "?api-version=2025-04-01",
            lambda s: s + "%2F..%2F..",
            lambda s: " " + s,
            lambda s: s.replace("rg-drill", "rg drill"),
            lambda s: s.replace("Microsoft.Compute", "Microsoft.Storage"),
            lambda s: s,  # a real, existing restore point
        ]
        return self.choice(mutations)(base)

    # -- HTTP bodies ---------------------------------------------------------------------------

    def copy_body(self) -> tuple[str, bytes, str]:
        """(category, body, content type) for POST /api/copies."""
        kind = self.rng.randrange(12)
        ctype = self.choice(
            ["application/json"] * 6
            + ["text/plain", "", "application/xml", "application/json; charset=latin-1"]
        )
        if kind <= 3:
            body: dict[str, Any] = {
                "sourceRestorePointId": self.mutated_id(),
                "targetRegion": self.choice(["westus", "northeurope", "eastus", self.text(10)]),
            }
            for _ in range(self.rng.randrange(4)):
                name = self.choice(
                    [
                        "targetResourceGroup",
                        "targetCollectionName",
                        "sourceRestorePointId",
                        "targetRegion",
                        self.text(10),
                        "__proto__",
                        "constructor",
                    ]
                )
                body[name] = self.value()
            if self.rng.random() < 0.3:
                body.pop(self.choice(list(body)), None)
            return "wrong types / unknown or missing fields", json.dumps(body).encode(), ctype
        if kind == 4:
            depth = self.choice([33, 64, 1000, 100000])
            opener, closer = self.choice([("[", "]"), ('{"a":', "}")])
            text = opener * depth + "1" + closer * depth
            return "deep nesting", text.encode(), ctype
        if kind == 5:
            size = self.choice([65537, 200_000, 1_100_000])
            filler = json.dumps({"sourceRestorePointId": "x" * size, "targetRegion": "westus"})
            return "huge body", filler.encode(), ctype
        if kind == 6:
            samples = [
                b"\xff\xfe{}",
                b'{"a": "\xc3\x28"}',
                b'{"a": "\xed\xa0\x80"}',
                b"\xc0\xaf",
                b'{"sourceRestorePointId": "\xe2\x82"}',
                bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 64))),
            ]
            return "invalid UTF-8", self.choice(samples), ctype
        if kind == 7:
            key = self.choice(["sourceRestorePointId", "targetRegion", "x"])
            rp = self.mutated_id()
            text = (
                f'{{"{key}": "a", "sourceRestorePointId": "{rp}", '
                f'"targetRegion": "westus", "{key}": 1}}'
            )
            return "duplicate keys", text.encode(), ctype
        if kind == 8:
            return "top-level JSON value", json.dumps(self.value()).encode(), ctype
        if kind == 9:
            samples = [
                "",
                " ",
                "{",
                '{"a":',
                "[1,]",
                "{'a': 1}",
                "NaN",
                "<xml/>",
                "a=b&c=d",
                "\ufeff{}",
                '{"a": 1} {"b": 2}',
                "1" * 5000,
                '{"a": 1e999999}',
                '{"a": ' + "9" * 5000 + "}",
                '"\\ud800"',
                "\x00",
            ]
            return "malformed JSON", self.choice(samples).encode(), ctype
        if kind == 10:
            body = {
                "sourceRestorePointId": self.choice(self.secrets + NASTY),
                "targetRegion": "westus",
            }
            return "secret-shaped values", json.dumps(body).encode(), ctype
        body = {self.text(8): self.value() for _ in range(self.rng.randrange(1, 8))}
        return "random object", json.dumps(body).encode(), ctype

    # -- query strings and ids -------------------------------------------------------------------

    def query(self) -> tuple[str, str]:
        """(category, raw query string) for GET /api/copies."""
        names = ["state", "sourceCollectionId", "targetRegion", "pageSize", "cursor", "code"]
        kind = self.rng.randrange(5)
        parts: list[str] = []
        if kind == 0:
            for _ in range(self.rng.randrange(1, 5)):
                parts.append(f"{self.choice(names)}={_quote(self.text())}")
            return "known parameters, bad values", "&".join(parts)
        if kind == 1:
            for _ in range(self.rng.randrange(1, 4)):
                parts.append(f"{_quote(self.text(10))}={_quote(self.text())}")
            return "unknown parameters", "&".join(parts)
        if kind == 2:
            raw = self.choice(["%ZZ", "%", "%FF%FE", "%C3%28", "%ED%A0%80", "%00", "a%2", "%E2%82"])
            return "broken percent-encoding", f"{self.choice(names)}={raw}"
        if kind == 3:
            value = self.choice(
                [
                    "-1",
                    "0",
                    "1001",
                    "1e3",
                    "١٢",
                    "+5",
                    " 5",
                    "5.0",
                    "0x10",
                    "99999999999999999999999",
                    "²",
                ]
            )
            return "pageSize edge values", f"pageSize={_quote(value)}"
        cursor = self.choice(
            [
                base64.urlsafe_b64encode(json.dumps(self.value()).encode()).decode(),
                base64.b64encode(bytes(self.rng.randrange(256) for _ in range(40))).decode(),
                self.text(200),
                "x" * 10000,
                "' or 1 eq 1",
            ]
        )
        return "cursors never handed out", f"cursor={_quote(cursor)}&state=Succeeded"

    def job_id(self) -> str:
        return self.choice(
            [
                "0" * 32,
                "F" * 32,
                "g" * 32,
                "a" * 31,
                "a" * 33,
                "",
                "%2F..%2F",
                "..",
                uuid.uuid4().hex.upper(),
                uuid.uuid4().hex + "/x",
                "🦄" * 8,
                "a" * 5000,
                "' or ''='",
                uuid.uuid4().hex,
            ]
        )

    # -- headers -----------------------------------------------------------------------------------

    def headers(self) -> tuple[str, dict[str, Any]]:
        kind = self.rng.randrange(6)
        if kind == 0:
            return "content types", {
                "content-type": self.choice(
                    [
                        "application/json; charset=utf-16",
                        "multipart/form-data; boundary=x",
                        "application/x-www-form-urlencoded",
                        "*/*",
                        ";;;",
                        "application/json" + " " * 500,
                    ]
                )
            }
        if kind == 1:
            return "huge header", {"x-drill": "a" * self.choice([1000, 8000, 30000])}
        if kind == 2:
            return "many headers", {f"x-drill-{i}": "v" for i in range(self.choice([50, 150]))}
        if kind == 3:
            return "odd but valid values", {
                "accept": self.choice(["application/xml", "*/*;q=0", "text/html,garbage"]),
                "accept-encoding": self.choice(["gzip", "br", "identity;q=0", "x"]),
                "x-ms-client-request-id": "".join(
                    c for c in self.text(60) if c.isascii() and c.isprintable()
                ).strip()
                or "x",
            }
        if kind == 4:
            return "content-encoding lies", {
                "content-encoding": self.choice(["gzip", "deflate", "br"])
            }
        return "latin-1 header value", {"x-drill": "caf\xe9 \xff".encode("latin-1")}

    # -- Event Grid -----------------------------------------------------------------------------

    def grid_event(self) -> dict[str, Any]:
        subject = self.mutated_id()
        data: Any = {
            "operationName": self.choice(
                [
                    "Microsoft.Compute/restorePointCollections/restorePoints/write",
                    "MICROSOFT.COMPUTE/RESTOREPOINTCOLLECTIONS/RESTOREPOINTS/WRITE",
                    "Microsoft.Compute/restorePointCollections/write",
                    self.text(20),
                    None,
                    5,
                ]
            ),
            "resourceUri": self.choice([subject, self.mutated_id(), None, 7, ""]),
            "status": self.choice(["Succeeded", "Failed", "", None, self.text(8)]),
        }
        if self.rng.random() < 0.2:
            data = self.value()
        event: dict[str, Any] = {
            "id": self.choice([str(uuid.uuid4()), "", None, 42, self.text(20)]),
            "topic": f"/subscriptions/{SUBSCRIPTION}",
            "subject": self.choice([subject, self.text(), None, 3]),
            "eventType": self.choice(
                [
                    "Microsoft.Resources.ResourceWriteSuccess",
                    "microsoft.resources.resourcewritesuccess",
                    "Microsoft.Resources.ResourceDeleteSuccess",
                    "Microsoft.Resources.ResourceWriteFailure",
                    self.text(20),
                    None,
                    1,
                ]
            ),
            "eventTime": self.choice(["2026-01-01T00:00:00Z", "yesterday", None, 0]),
            "data": data,
            "dataVersion": self.choice(["2", "", None]),
            "metadataVersion": "1",
        }
        for _ in range(self.rng.randrange(3)):
            event.pop(self.choice(list(event)), None)
        if self.rng.random() < 0.2:
            event[self.text(10)] = self.value()
        return event

    def cloud_event(self) -> dict[str, Any]:
        grid = self.grid_event()
        event: dict[str, Any] = {
            "specversion": self.choice(["1.0", "0.3", "2.0", "", None, 1]),
            "type": grid.get("eventType"),
            "source": grid.get("topic"),
            "subject": grid.get("subject"),
            "id": grid.get("id"),
            "time": grid.get("eventTime"),
            "data": grid.get("data"),
        }
        if self.rng.random() < 0.2:
            event["data_base64"] = base64.b64encode(json.dumps(grid.get("data")).encode()).decode()
            event.pop("data")
        for _ in range(self.rng.randrange(2)):
            event.pop(self.choice(list(event)), None)
        return event

    def delivery(self) -> tuple[str, bytes, dict[str, str]]:
        """(category, body, headers) for the Event Grid webhook."""
        kind = self.rng.randrange(10)
        notification = {"aeg-event-type": "Notification"}
        if kind <= 2:
            events = [self.grid_event() for _ in range(self.rng.randrange(1, 6))]
            return (
                "Event Grid schema, mutated",
                json.dumps(events).encode(),
                {**notification, "content-type": "application/json"},
            )
        if kind == 3:
            return (
                "CloudEvents, single",
                json.dumps(self.cloud_event()).encode(),
                {**notification, "content-type": "application/cloudevents+json"},
            )
        if kind == 4:
            batch = [self.cloud_event() for _ in range(self.rng.randrange(0, 5))]
            return (
                "CloudEvents, batch",
                json.dumps(batch).encode(),
                {**notification, "content-type": "application/cloudevents-batch+json"},
            )
        if kind == 5:
            header = self.choice(["SubscriptionValidation", "Unsubscribe", "notification", "", "x"])
            body = [
                {
                    "id": "v",
                    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                    "subject": "",
                    "eventTime": "2026-01-01T00:00:00Z",
                    "dataVersion": "1",
                    "data": self.choice([{"validationCode": self.text(20)}, None, "x", {}]),
                }
            ]
            return (
                "handshakes and event types",
                json.dumps(body).encode(),
                {"aeg-event-type": header},
            )
        if kind == 6:
            _, body, _ = self.copy_body()  # deep, huge, invalid UTF-8, malformed ...
            return (
                "malformed body",
                body,
                {
                    **notification,
                    "content-type": self.choice(
                        ["application/json", "application/cloudevents+json"]
                    ),
                },
            )
        if kind == 7:
            return (
                "no aeg-event-type",
                json.dumps([self.grid_event()]).encode(),
                {"content-type": "application/json"},
            )
        if kind == 8:
            events = [self.value() for _ in range(self.rng.randrange(1, 4))]
            return "array of non-events", json.dumps(events).encode(), notification
        # A well-formed event for a restore point that exists (or a copy of one).
        rp = self.choice(self.restore_points) if self.restore_points else self.mutated_id()
        event = {
            "id": str(uuid.uuid4()),
            "topic": f"/subscriptions/{SUBSCRIPTION}",
            "subject": rp,
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "eventTime": "2026-01-01T00:00:00Z",
            "dataVersion": "2",
            "metadataVersion": "1",
            "data": {
                "operationName": "Microsoft.Compute/restorePointCollections/restorePoints/write",
                "resourceUri": rp,
                "status": "Succeeded",
            },
        }
        return "well-formed, real restore point", json.dumps([event]).encode(), notification

    # -- raw queue messages ---------------------------------------------------------------------

    def queue_text(self, template: dict[str, Any]) -> tuple[str, str]:
        """(category, raw message text) for a stage queue. `template` is a real job message
        (camelCase JSON) to mutate."""
        kind = self.rng.randrange(9)
        encode = self.rng.random() < 0.5
        if kind == 0:
            text = xml_safe(self.text(200)) or "x"
            return "not base64, not JSON", text
        if kind == 1:
            raw = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 200)))
            return "base64 of random bytes", base64.b64encode(raw).decode()
        if kind == 2:
            text = xml_safe(self.text(100))
            return "base64 of text that is not JSON", base64.b64encode(text.encode()).decode()
        if kind == 3:
            doc = json.dumps(self.value())
            return "JSON that is not an object", _maybe_b64(xml_safe(doc), encode)
        if kind in (4, 5, 6):
            doc = dict(template)
            doc["jobId"] = self.choice([uuid.uuid4().hex, uuid.uuid4().hex, "x" * 32, 5, None])
            for _ in range(self.rng.randrange(1, 4)):
                field_name = self.choice([*doc, "extraField", "version"])
                action = self.rng.randrange(3)
                if action == 0:
                    doc.pop(field_name, None)
                elif action == 1:
                    doc[field_name] = self.value()
                else:
                    doc[field_name] = self.choice(
                        [
                            -1,
                            2,
                            "ensure-target",
                            "rerun",
                            "bogus",
                            "",
                            self.mutated_id(),
                            "mars",
                            "2026-13-01T00:00:00Z",
                            {"nested": True},
                            [],
                        ]
                    )
            return "job message, mutated", _maybe_b64(xml_safe(json.dumps(doc)), encode)
        if kind == 7:
            doc = dict(template)
            doc["jobId"] = uuid.uuid4().hex
            return "valid job message, unknown job", _maybe_b64(json.dumps(doc), encode)
        big = json.dumps({"jobId": uuid.uuid4().hex, "pad": "x" * self.choice([1000, 30000])})
        return "large", _maybe_b64(big, encode)


def _maybe_b64(text: str, encode: bool) -> str:
    return base64.b64encode(text.encode()).decode() if encode else text


def _quote(text: str) -> str:
    """Percent-encoded, and short enough for a URL (the raw-HTTP inputs send a 100 KB one)."""
    from urllib.parse import quote

    return quote(text[:4000], safe="")
