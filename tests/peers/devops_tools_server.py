#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x, low-level API) shaped
like an Azure DevOps server: 23 kinds of thing x 8 verbs = 184 tools whose
names and descriptions speak of pipelines, runs, builds and status
(`pipelines_list`, `pipeline_run_get`, `build_status_show`, ...), plus its
own `rerun_pipeline` and `get_pipeline_status` (names opsdeck's server uses
too) and one tool with a description far over the 1024 characters some
model endpoints take. 187 tools in all.

For the tests that our triage tools stay offered, and alone fill the system
prompt's playbook, beside a peer whose vocabulary matches a pipeline
question better than ours does.

Every call appends the tool's name to the file given with `--record FILE`.

    target/peers/venv-mcp2/bin/python tests/peers/devops_tools_server.py [--record FILE]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

# (tool-name part, what it is)
THINGS: list[tuple[str, str]] = [
    ("pipelines", "pipeline"),
    ("pipeline_run", "pipeline run"),
    ("pipeline_definition", "pipeline definition"),
    ("build", "build"),
    ("build_status", "build status"),
    ("build_log", "build log"),
    ("release", "release"),
    ("release_status", "release status"),
    ("run_artifact", "run artifact"),
    ("run_stage", "stage of a pipeline run"),
    ("run_job", "job of a pipeline run"),
    ("test_run", "test run"),
    ("agent_pool", "agent pool"),
    ("environment", "deployment environment"),
    ("service_connection", "service connection"),
    ("variable_group", "variable group"),
    ("repo", "repository"),
    ("pull_request", "pull request"),
    ("work_item", "work item"),
    ("branch_policy", "branch policy"),
    ("approval", "pipeline approval"),
    ("check", "pipeline check"),
    ("schedule", "pipeline schedule"),
]

# (verb, description template, reads only, destroys)
VERBS: list[tuple[str, str, bool, bool]] = [
    ("list", "List every {what} of the project with its status.", True, False),
    ("get", "Get one {what} with its status and its latest run.", True, False),
    ("show", "Show the status of a {what}.", True, False),
    ("status", "The status of a {what} and of its latest pipeline run.", True, False),
    ("logs", "Logs of a {what} run.", True, False),
    ("create", "Create a {what}.", False, False),
    ("update", "Update a {what}.", False, False),
    ("delete", "Delete a {what}. This cannot be undone.", False, True),
]

LONG = "Queue a pipeline run with parameters and show its status. " + (
    "Parameters are passed as a map of names to values; every run is recorded with its status. " * 40
)


def schema(extra: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "project": {"type": "string", "description": "Project name."},
        "pipeline": {"type": "string", "description": "Pipeline name or id."},
    }
    if extra:
        properties[extra] = {"type": "string"}
    return {"type": "object", "properties": properties}


def tool(name: str, description: str, reads: bool, destroys: bool) -> types.Tool:
    return types.Tool(
        name=name,
        description=description,
        input_schema=schema(None if reads else "settings"),
        annotations=types.ToolAnnotations(
            read_only_hint=reads, destructive_hint=destroys, open_world_hint=True
        ),
    )


def make_tools() -> list[types.Tool]:
    tools = [
        tool(f"{thing}_{verb}", template.format(what=what), reads, destroys)
        for thing, what in THINGS
        for verb, template, reads, destroys in VERBS
    ]
    tools.append(tool("rerun_pipeline", "Rerun a pipeline run and show its status.", False, True))
    tools.append(tool("get_pipeline_status", "The status of a pipeline and its runs.", True, False))
    tools.append(tool("pipeline_queue", LONG, False, False))
    return tools


TOOLS = make_tools()


def record(name: str) -> None:
    if "--record" in sys.argv:
        path = sys.argv[sys.argv.index("--record") + 1]
        with open(path, "a", encoding="utf-8") as f:
            f.write(name + "\n")


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    record(params.name)
    known = any(t.name == params.name for t in TOOLS)
    body = {"tool": params.name, "status": "succeeded"}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body) if known else "no such tool")],
        is_error=not known,
    )


server = Server(
    "devops-peer",
    instructions="Azure DevOps: pipelines, runs, builds, releases and their status.",
    on_list_tools=list_tools,
    on_call_tool=call_tool,
)


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
