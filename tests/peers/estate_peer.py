#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x) whose estate is careless
with secrets and whose tools keep a record of every call, for the tests of
what opsdeck shows, records and re-runs:

- `list_pipeline_runs` and `get_run_details` answer runs whose parameters,
  messages and activity errors carry a connection string with a password, a
  storage account key and a SAS signature (after a space, not only after `?`);
- `append_note` writes (readOnlyHint false, destructiveHint false): a tool
  that changes something without destroying anything;
- `read_notes` is annotated read-only.

Every call appends the tool's name to the file given with `--record FILE`, so
a test can prove which tools were (and were not) called.

    python estate_peer.py --record /tmp/calls.txt
"""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

PASSWORD = "Sup3r$ecretPw!"
ACCOUNT_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cQ=="
SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1zYXM%3D"

server = MCPServer("estate-peer", log_level="WARNING")


def record(tool: str) -> None:
    if "--record" in sys.argv:
        path = sys.argv[sys.argv.index("--record") + 1]
        with open(path, "a", encoding="utf-8") as f:
            f.write(tool + "\n")


def run(run_id: str, status: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "pipeline": "copy_sales",
        "backend": "adf",
        "environment": "prod",
        "status": status,
        "run_start": "2026-11-23T03:30:00Z",
        "run_end": "2026-11-23T03:31:00Z",
        "duration_ms": 60000,
        "invoked_by": {"name": "nightly", "kind": "ScheduleTrigger"},
        "message": (
            f"Copy failed: DefaultEndpointsProtocol=https;AccountName=stlake;AccountKey={ACCOUNT_KEY};"
            f" password={PASSWORD}\nsecond line"
        ),
        "parameters": {
            "source": f"Server=tcp:sql-prod,1433;User ID=etl;Password={PASSWORD};Encrypt=True",
            "storage_key": ACCOUNT_KEY,
            "sas": f"sv=2022-11-02&sr=c sig={SIGNATURE}",
            "rows": 100,
        },
    }


@server.tool(
    description="Pipeline runs of the careless estate.",
    annotations=ToolAnnotations(readOnlyHint=True),
)
def list_pipeline_runs(since: str = "24h", limit: int = 500) -> dict[str, Any]:
    record("list_pipeline_runs")
    return {"runs": [run("run-1", "Failed"), run("run-2", "Succeeded")]}


@server.tool(
    description="One run with its activities.",
    annotations=ToolAnnotations(readOnlyHint=True),
)
def get_run_details(run_id: str) -> dict[str, Any]:
    record("get_run_details")
    return {
        "run": run(run_id, "Failed"),
        "activities": [
            {
                "activity_run_id": "a1",
                "activity_name": "CopyToLake",
                "activity_type": "Copy",
                "status": "Failed",
                "attempt": 1,
                "start": None,
                "end": None,
                "duration_ms": None,
                "error": {
                    "code": "2200",
                    "message": f"PUT https://stlake.blob.core.windows.net/raw/f.csv failed; token sv=2022 sig={SIGNATURE}",
                },
                "output": {"connection": f"AccountName=stlake;AccountKey={ACCOUNT_KEY}"},
            }
        ],
        "failed_activities": ["CopyToLake"],
    }


@server.tool(
    description="Append a note (changes state, destroys nothing).",
    annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False),
)
def append_note(text: str) -> str:
    record("append_note")
    return "noted"


@server.tool(
    description="Read the notes.",
    annotations=ToolAnnotations(readOnlyHint=True),
)
def read_notes() -> str:
    record("read_notes")
    return "no notes"


if __name__ == "__main__":
    server.run()
