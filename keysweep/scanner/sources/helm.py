"""Helm 3 release Secrets and ConfigMaps, unpacked (pure functions over the object's JSON).

Helm 3 keeps each revision of a release as a Secret of type `helm.sh/release.v1`, named
`sh.helm.release.v1.<release>.v<revision>`, whose one data key `release` holds, under the API's
own base64, the base64 of the gzip of the release's JSON (Helm's storage driver writes it so, and
reads plain JSON when the gzip magic is absent). With `HELM_DRIVER=configmap` the same revision is
a ConfigMap of the same name, labelled `owner: helm` (with `name`, `status`, `version`), whose
`release` value is that base64 text itself (ConfigMap data is not base64'd by the API).

That JSON holds what a chart was given and what it made of it — often keys: `config` (the values
the user supplied: `--set`, `-f values.yaml`), `chart.values` (the chart's defaults), `manifest`
(every rendered object, Secrets included), `hooks[].manifest`, `info.notes` (the rendered
NOTES.txt) and `chart.files` (files shipped in the chart, base64 in the JSON).

Entries, each `(key, text)` as the scan matches them and a re-read finds them again:
`values:<path>` (`<path>=value`, one per string in the supplied values, `a.b[0].c`; `values`, the
whole tree as JSON, for one too large or deep to take string by string),
`chart-values:<path>`, `manifest`, `hook:<path>`, `notes`, `file:<name>`.

Helm 2 kept its releases through Tiller, as ConfigMaps (its default; `--storage=secret`: Secrets)
labelled `OWNER: TILLER` (with `NAME`, `STATUS`, `VERSION`), named `<release>.v<revision>`, usually
in `kube-system`, whose `release` value is the base64 of the gzip of the release as protobuf
(`hapi.release.Release`, helm/helm release-2.16 `_proto/hapi`), not JSON. decode_tiller_release
reads the few fields that matter with a bounded wire-format reader into the same shape, so the same
entries come out: its values are YAML text (`config.raw`, `chart.values.raw`), matched whole as
`values` and `chart-values` (each key still beside its value on its line; YAML is not parsed).

Bounded: the Secret itself is at most 1 MiB, but gzip expands without limit, so at most
MAX_RELEASE bytes are inflated; a release that does not decode, inflate or parse within that is a
`ReleaseError` (one line, nothing of the value in it), and the caller reads the object as the
plain Secret or ConfigMap it is (every key, the packed value as data): a release label hides nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any, Iterator

from keysweep.sanitize import stored_text
from keysweep.scanner.sources import looks_binary

RELEASE_TYPE = "helm.sh/release.v1"
RELEASE_KEY = "release"
MAX_RELEASE = 32 * 1024 * 1024   # inflated JSON: far above a real release, far below a gzip bomb
MAX_VALUES = 20_000              # strings of one values tree matched one by one, path beside each
MAX_DEPTH = 64                   # nesting within which they are
GZIP_MAGIC = b"\x1f\x8b\x08"
# Labels Helm sets on its own storage objects: not owner hints (`owner: helm` names the tool).
STORAGE_LABELS = frozenset({"name", "owner", "status", "version", "modifiedAt", "createdAt"})


RELEASE_PREFIX = "sh.helm.release.v1."
HELM_OWNER = "helm"


def is_release_configmap(obj: dict[str, Any]) -> bool:
    """A ConfigMap Helm 3's ConfigMap driver wrote: labelled `owner: helm` (the label Helm lists its
    releases by), named `sh.helm.release.v1.<release>.v<revision>`, with a `release` value. Another
    ConfigMap, even labelled so, is read as a ConfigMap."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    return labels.get("owner") == HELM_OWNER and str(meta.get("name") or "").startswith(RELEASE_PREFIX) \
        and RELEASE_KEY in data


class ReleaseError(ValueError):
    """A release Secret that cannot be unpacked: the message is one line, free of its content."""


TILLER_LABELS = frozenset({"NAME", "OWNER", "STATUS", "VERSION", "CREATED_AT", "MODIFIED_AT"})
STORAGE_LABELS = STORAGE_LABELS | TILLER_LABELS
TILLER_OWNER = "TILLER"
# hapi.release.Status.Code, by number.
TILLER_STATUS = ("unknown", "deployed", "deleted", "superseded", "failed", "deleting", "pending-install",
                 "pending-upgrade", "pending-rollback")


def is_tiller_release(obj: dict[str, Any]) -> bool:
    """A ConfigMap or Secret Tiller (Helm 2) wrote: labelled `OWNER: TILLER`, named
    `<NAME>.v<VERSION>` after its labels, with a `release` value. Another object, even labelled
    so, is read as what it is."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    return labels.get("OWNER") == TILLER_OWNER and RELEASE_KEY in data and bool(labels.get("NAME")) \
        and str(labels.get("VERSION") or "").isdigit() and meta.get("name") == f"{labels['NAME']}.v{labels['VERSION']}"


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ReleaseError("the release is not base64") from None


def _inflate(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing only
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise ReleaseError("the release is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ReleaseError(f"the release inflates to more than {limit // (1024 * 1024)} MiB")
    if not inflater.eof:
        raise ReleaseError("the release's gzip stream is truncated")
    return out


def _unpack(inner: bytes, limit: int | None) -> bytes:
    """Helm's base64 undone, and its gzip inflated within `limit` (plain bytes when not gzip'd)."""
    limit = MAX_RELEASE if limit is None else limit
    try:
        text = inner.decode("ascii")
    except UnicodeDecodeError:
        raise ReleaseError("the release is not base64") from None
    raw = _unbase64(text)
    if raw[:3] == GZIP_MAGIC:
        return _inflate(raw, limit)
    if len(raw) > limit:
        raise ReleaseError(f"the release is more than {limit // (1024 * 1024)} MiB")
    return raw


def decode_release(inner: bytes, limit: int | None = None) -> dict[str, Any]:
    """The release JSON from the Secret's `release` value once the API's base64 is undone."""
    raw = _unpack(inner, limit)
    try:
        release = json.loads(raw)
    except UnicodeDecodeError:
        # A byte that is not UTF-8 in one string (Helm itself writes none) must not hide the rest.
        release = _loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        raise ReleaseError("the release is not JSON") from None
    if not isinstance(release, dict):
        raise ReleaseError("the release is not a JSON object")
    return release


class _Wire:
    """The fields of one protobuf message (wire format): number -> values in order (ints for varint
    and fixed fields, bytes for length-delimited ones). Malformed input is a ReleaseError."""

    def __init__(self, buf: bytes) -> None:
        self.fields: dict[int, list[Any]] = {}
        pos, end = 0, len(buf)
        while pos < end:
            key, pos = _varint(buf, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _varint(buf, pos)
            elif wire == 2:
                size, pos = _varint(buf, pos)
                if size > end - pos:
                    raise ReleaseError("the release is not a Helm 2 release")
                value, pos = buf[pos:pos + size], pos + size
            elif wire in (1, 5):
                width = 8 if wire == 1 else 4
                if width > end - pos:
                    raise ReleaseError("the release is not a Helm 2 release")
                value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
            else:  # groups (3, 4) are not in hapi's messages; 6 and 7 do not exist
                raise ReleaseError("the release is not a Helm 2 release")
            if number == 0:
                raise ReleaseError("the release is not a Helm 2 release")
            self.fields.setdefault(number, []).append(value)

    def text(self, number: int) -> str | None:
        values = [v for v in self.fields.get(number, []) if isinstance(v, bytes)]
        return values[-1].decode("utf-8", "replace") if values else None

    def number(self, number: int) -> int | None:
        values = [v for v in self.fields.get(number, []) if isinstance(v, int)]
        return values[-1] if values else None

    def messages(self, number: int) -> list["_Wire"]:
        return [_Wire(v) for v in self.fields.get(number, []) if isinstance(v, bytes)]

    def message(self, number: int) -> "_Wire":
        found = self.messages(number)
        return found[-1] if found else _Wire(b"")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ReleaseError("the release is not a Helm 2 release")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def decode_tiller_release(inner: bytes, limit: int | None = None) -> dict[str, Any]:
    """A Helm 2 release (`hapi.release.Release` protobuf) from the object's `release` value once the
    API's base64 is undone, in the shape of a Helm 3 release's JSON (values as their YAML text)."""
    release = _Wire(_unpack(inner, limit))
    name, version = release.text(1), release.number(7)
    if not name or version is None:
        raise ReleaseError("the release is not a Helm 2 release")
    chart, info = release.message(3), release.message(2)
    status = info.message(1)
    metadata = chart.message(1)
    code = status.number(1) or 0
    files = [{"name": item.text(1) or "?", "data": base64.b64encode(item.fields.get(2, [b""])[-1]).decode()}
             for item in chart.messages(5) if isinstance(item.fields.get(2, [b""])[-1], bytes)]
    return {
        "name": name, "version": version, "namespace": release.text(8),
        "config": release.message(4).text(1) or "", "manifest": release.text(5) or "",
        "hooks": [{"name": hook.text(1), "path": hook.text(3), "manifest": hook.text(4) or ""}
                  for hook in release.messages(6)],
        "info": {"status": TILLER_STATUS[code] if code < len(TILLER_STATUS) else None, "notes": status.text(4) or ""},
        "chart": {"metadata": {"name": metadata.text(1), "version": metadata.text(4)},
                  "values": chart.message(4).text(1) or "", "files": files},
    }


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ReleaseError("the release is not JSON") from None


class _Unwieldy(Exception):
    """A values tree too large or too deep to be taken string by string."""


def _strings(node: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        raise _Unwieldy
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key in sorted(node, key=str):
            yield from _strings(node[key], f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, f"{path}[{index}]", depth + 1)


def value_entries(prefix: str, values: Any) -> list[tuple[str, str]]:
    """`(<prefix>:<path>, <path>=value)` for each string of a values tree (keywords are kept
    next to the value: `aws.secretAccessKey=…` meets rules that need one). A tree of more than
    MAX_VALUES strings, or nested deeper than MAX_DEPTH, is one entry `(<prefix>, its JSON)`
    instead: matched whole, each key still beside its value, so nothing in it goes unread. A Helm 2
    release's values are YAML text: one entry `(<prefix>, the text)`."""
    if isinstance(values, str):
        return [(prefix, values)] if values.strip() else []
    entries = []
    try:
        for path, value in _strings(values, ""):
            if value and path:
                entries.append((f"{prefix}:{path}", f"{path}={value}"))
                if len(entries) > MAX_VALUES:
                    raise _Unwieldy
    except (_Unwieldy, RecursionError):
        return [(prefix, json.dumps(values, sort_keys=True, ensure_ascii=False))]
    return entries


def _file_text(data: Any) -> str | None:
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return None if looks_binary(raw) else raw.decode("utf-8", "replace")


def release_entries(release: dict[str, Any]) -> list[tuple[str, str]]:
    """What a release holds that may be a key, as `(key, text)` (see the module's docstring)."""
    chart = release.get("chart") if isinstance(release.get("chart"), dict) else {}
    entries = value_entries("values", release.get("config"))
    entries += value_entries("chart-values", chart.get("values"))
    if isinstance(release.get("manifest"), str) and release["manifest"].strip():
        entries.append(("manifest", release["manifest"]))
    for hook in release.get("hooks") or []:
        if isinstance(hook, dict) and isinstance(hook.get("manifest"), str) and hook["manifest"].strip():
            entries.append((f"hook:{hook.get('path') or hook.get('name') or '?'}", hook["manifest"]))
    info = release.get("info") if isinstance(release.get("info"), dict) else {}
    if isinstance(info.get("notes"), str) and info["notes"].strip():
        entries.append(("notes", info["notes"]))
    for item in chart.get("files") or []:
        text = _file_text(item.get("data")) if isinstance(item, dict) else None
        if text and text.strip():
            entries.append((f"file:{item.get('name') or '?'}", text))
    # A values key or file name may hold a lone surrogate (JSON's `\\ud800`), which no store holds.
    return [(stored_text(key), text) for key, text in entries]


def identity(release: dict[str, Any], labels: dict[str, Any]) -> tuple[str, str]:
    """The release's name and revision: from its JSON, else from the Secret's labels."""
    name = release.get("name") if isinstance(release.get("name"), str) else labels.get("name")
    revision = release.get("version")
    if not isinstance(revision, int) or isinstance(revision, bool):
        revision = labels.get("version")
    return stored_text(str(name or "?")), stored_text(str(revision if revision is not None else "?"))


def facts(release: dict[str, Any]) -> dict[str, Any]:
    """Non-secret facts of a release: its chart (name-version), status and last deployment."""
    chart = release.get("chart") if isinstance(release.get("chart"), dict) else {}
    meta = chart.get("metadata") if isinstance(chart.get("metadata"), dict) else {}
    info = release.get("info") if isinstance(release.get("info"), dict) else {}
    name, version = meta.get("name"), meta.get("version")
    found = {
        "helm_chart": f"{name}-{version}" if isinstance(name, str) and isinstance(version, str) else None,
        "helm_status": info.get("status") if isinstance(info.get("status"), str) else None,
        "helm_last_deployed": info.get("last_deployed") if isinstance(info.get("last_deployed"), str) else None,
    }
    return {k: v for k, v in found.items() if v}
