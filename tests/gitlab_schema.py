"""What GitLab's secret detection report schema asks of a report, as a test-only JSON Schema (draft 7,
the draft GitLab's schema is written in). Written for keysweep's tests from the facts of the published
`secret-detection-report-format.json` (gitlab-org/security-products/security-report-schemas, version
15.0.7; 15.2.1 asks the same of these fields): its required fields, their types, patterns and enums.
It is not GitLab's file: only the parts a report keysweep writes can reach, so a report that breaks
one of GitLab's rules for them fails here.

GitLab (15.0 and later) refuses a report that fails its schema: nothing of it is ingested."""

from __future__ import annotations

from typing import Any

_NON_EMPTY = {"type": "string", "minLength": 1}
_URL = {"type": "string", "pattern": "^(https?|ftp)://.+"}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"}
_TOOL = {
    "type": "object",
    "required": ["id", "name", "version", "vendor"],
    "properties": {
        "id": _NON_EMPTY, "name": _NON_EMPTY, "version": _NON_EMPTY,
        "vendor": {"type": "object", "required": ["name"], "properties": {"name": _NON_EMPTY}},
    },
}
_IDENTIFIER = {
    "type": "object",
    "required": ["type", "name", "value"],
    "properties": {"type": _NON_EMPTY, "name": _NON_EMPTY, "value": _NON_EMPTY, "url": _URL},
}
# The `details` entries keysweep writes: text and commit (GitLab has more kinds).
_DETAIL = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {"name": _NON_EMPTY},
    "oneOf": [
        {"required": ["value"], "properties": {"type": {"const": "text"}, "value": {"type": "string"}}},
        {"required": ["value"], "properties": {"type": {"const": "commit"}, "value": _NON_EMPTY}},
    ],
}

SECRET_DETECTION_REPORT: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["scan", "version", "vulnerabilities"],
    "properties": {
        "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        "schema": {"type": "string", "pattern": "^https?://.+"},
        "scan": {
            "type": "object",
            "required": ["analyzer", "end_time", "scanner", "start_time", "status", "type"],
            "properties": {
                "analyzer": {**_TOOL, "properties": {**_TOOL["properties"],
                                                     "url": {"type": "string", "pattern": "^https?://.+"}}},
                "scanner": _TOOL,
                "start_time": _TIME,
                "end_time": _TIME,
                "status": {"enum": ["success", "failure"]},
                "type": {"enum": ["secret_detection"]},
                "messages": {"type": "array", "items": {
                    "type": "object", "required": ["level", "value"],
                    "properties": {"level": {"enum": ["info", "warn", "fatal"]}, "value": _NON_EMPTY},
                }},
            },
        },
        "vulnerabilities": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "identifiers", "location"],
            "properties": {
                "id": _NON_EMPTY,
                "name": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 1048576},
                "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                "solution": {"type": "string", "maxLength": 7000},
                "identifiers": {"type": "array", "minItems": 1, "items": _IDENTIFIER},
                "links": {"type": "array", "items": {"type": "object", "required": ["url"],
                                                     "properties": {"name": {"type": "string"}, "url": _URL}}},
                "details": {"type": "object", "additionalProperties": _DETAIL},
                "flags": {"type": "array", "items": {
                    "type": "object", "required": ["type", "origin", "description"],
                    "properties": {"type": {"enum": ["flagged-as-likely-false-positive"]},
                                   "origin": _NON_EMPTY, "description": _NON_EMPTY},
                }},
                "location": {
                    "type": "object",
                    "required": ["commit"],
                    "properties": {
                        "file": {"type": "string"},
                        "start_line": {"type": "number"},
                        "end_line": {"type": "number"},
                        "commit": {"type": "object", "required": ["sha"], "properties": {
                            "sha": _NON_EMPTY, "author": {"type": "string"}, "date": {"type": "string"},
                            "message": {"type": "string"},
                        }},
                    },
                },
            },
        }},
    },
}


def gitlab_report_errors(document: Any) -> list[str]:
    """Each way `document` breaks the schema, as `path: message` (empty: it is a valid report)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(SECRET_DETECTION_REPORT)
    return [f"{list(error.absolute_path)}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))]
