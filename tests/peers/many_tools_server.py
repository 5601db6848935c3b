#!/usr/bin/env python3
"""A third-party MCP server (official Python SDK 2.x, low-level API) with an
Azure-operations-sized catalogue: 24 services x 8 verbs = 192 tools
(`azure_vm_list`, `azure_storage_account_show`, `azure_monitor_alert_delete`,
...), each with a description and an input schema made from its service and
verb, and annotations as such servers give them (reads read-only, deletes
destructive). For the tests of which tools a turn offers a model that takes
at most 128.

Every call appends the tool's name to the file given with `--record FILE`,
and answers a small JSON listing, so a test can prove a call went through.

    target/peers/venv-mcp2/bin/python tests/peers/many_tools_server.py [--record FILE]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

# (tool-name part, what it is, the parameter that names one)
SERVICES: list[tuple[str, str, str]] = [
    ("vm", "virtual machine", "vm_name"),
    ("vmss", "virtual machine scale set", "scale_set"),
    ("disk", "managed disk", "disk_name"),
    ("storage_account", "storage account", "account_name"),
    ("storage_container", "blob container in a storage account", "container"),
    ("aks_cluster", "Kubernetes (AKS) cluster", "cluster"),
    ("sql_server", "Azure SQL logical server", "server"),
    ("sql_database", "Azure SQL database", "database"),
    ("cosmos_account", "Cosmos DB account", "account_name"),
    ("keyvault", "key vault", "vault_name"),
    ("monitor_alert", "Azure Monitor alert rule", "rule"),
    ("monitor_metric", "Azure Monitor metric definition", "metric"),
    ("loganalytics_workspace", "Log Analytics workspace", "workspace"),
    ("network_vnet", "virtual network", "vnet"),
    ("network_nsg", "network security group", "nsg"),
    ("network_publicip", "public IP address", "ip_name"),
    ("appservice_webapp", "App Service web app", "app"),
    ("functionapp", "Function App", "app"),
    ("eventhub_namespace", "Event Hubs namespace", "namespace"),
    ("servicebus_queue", "Service Bus queue", "queue"),
    ("acr_registry", "container registry", "registry"),
    ("redis_cache", "Azure Cache for Redis", "cache"),
    ("resource_group", "resource group", "group"),
    ("role_assignment", "role assignment", "assignment"),
]

# (verb, description template, reads only, destroys)
VERBS: list[tuple[str, str, bool, bool]] = [
    ("list", "List every {what} in a subscription, optionally in one resource group.", True, False),
    ("show", "Show the properties of one {what}.", True, False),
    ("create", "Create a {what}.", False, False),
    ("update", "Update the settings of a {what}.", False, False),
    ("delete", "Delete a {what}. This cannot be undone.", False, True),
    ("tag", "Set or remove tags on a {what}.", False, False),
    ("diagnostics", "Read the diagnostic settings of a {what}.", True, False),
    ("usage", "Usage and quota of a {what} against its limits.", True, False),
]


def schema(verb: str, key: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "subscription": {"type": "string", "description": "Subscription id or name."},
        "resource_group": {"type": "string", "description": "Resource group name."},
    }
    required: list[str] = []
    if verb != "list":
        properties[key] = {"type": "string", "description": f"Name of the {key.replace('_', ' ')}."}
        required.append(key)
    if verb in ("create", "update", "tag"):
        properties["settings"] = {"type": "object", "description": "Settings to apply."}
    return {"type": "object", "properties": properties, "required": required}


def make_tools() -> list[types.Tool]:
    tools = []
    for service, what, key in SERVICES:
        for verb, template, reads, destroys in VERBS:
            tools.append(
                types.Tool(
                    name=f"azure_{service}_{verb}",
                    description=template.format(what=what),
                    input_schema=schema(verb, key),
                    annotations=types.ToolAnnotations(
                        read_only_hint=reads, destructive_hint=destroys, open_world_hint=True
                    ),
                )
            )
    return tools


TOOLS = make_tools()


def record(tool: str) -> None:
    if "--record" in sys.argv:
        path = sys.argv[sys.argv.index("--record") + 1]
        with open(path, "a", encoding="utf-8") as f:
            f.write(tool + "\n")


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    record(params.name)
    known = any(t.name == params.name for t in TOOLS)
    body = {"tool": params.name, "items": [{"name": "stlakeprod01"}, {"name": "stlakedev01"}]}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body) if known else "no such tool")],
        is_error=not known,
    )


server = Server(
    "azure-ops-peer",
    instructions="Azure operations: list, show, create, update and delete Azure resources.",
    on_list_tools=list_tools,
    on_call_tool=call_tool,
)


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
