#!/usr/bin/env python3
"""Minimal third-party MCP server (official Python SDK) over stdio.

Used as the side-by-side anchor in the latency benchmark and as a known-good
peer for the interop client. It answers `ping` (the SDK answers it by default
on handshake-era connections) and exposes exactly one tool,
`list_pipeline_runs`, which returns a small fixed JSON list.

Runs on mcp 2.x (`MCPServer`, venv-mcp2) and falls back to mcp 1.x
(`FastMCP`, venv-mcp1). Nothing but protocol is written to stdout: the SDK
logs to stderr, and we keep its level at WARNING so stderr stays quiet too.

    target/peers/venv-mcp2/bin/python tests/peers/ping_server.py
"""

from __future__ import annotations

from typing import Any

try:  # mcp 2.x: FastMCP was renamed to MCPServer.
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef]

from mcp.types import ToolAnnotations

try:
    from importlib.metadata import version as _dist_version

    _SDK_VERSION = _dist_version("mcp")
except Exception:  # pragma: no cover - metadata missing only in odd installs
    _SDK_VERSION = "unknown"

# Fixed data: the benchmark compares transport/dispatch cost, not work done.
PIPELINE_RUNS: list[dict[str, Any]] = [
    {"id": "run-1001", "pipeline": "build", "status": "succeeded", "duration_s": 84},
    {"id": "run-1002", "pipeline": "test", "status": "failed", "duration_s": 312},
    {"id": "run-1003", "pipeline": "deploy", "status": "running", "duration_s": 17},
]


def _make_server() -> Any:
    kwargs: dict[str, Any] = {"instructions": "Latency anchor: ping + list_pipeline_runs."}
    try:
        server = _Server("opsdeck-ping-anchor", version=_SDK_VERSION, log_level="WARNING", **kwargs)
    except TypeError:  # 1.x FastMCP: no `version=` parameter
        server = _Server("opsdeck-ping-anchor", log_level="WARNING", **kwargs)

    @server.tool(
        name="list_pipeline_runs",
        description="List recent pipeline runs (fixed sample data).",
        annotations=ToolAnnotations.model_validate({"readOnlyHint": True, "idempotentHint": True}),
    )
    def list_pipeline_runs() -> dict[str, Any]:
        # A dict return gives one JSON text block plus structuredContent
        # {"runs": [...]} (and an outputSchema) on both SDK majors.
        return {"runs": [dict(run) for run in PIPELINE_RUNS]}

    return server


def main() -> None:
    _make_server().run("stdio")


if __name__ == "__main__":
    main()
