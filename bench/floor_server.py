"""The floor: a minimal MCPServer with one trivial tool, spawned exactly like `python -m server`.

`python -m bench.floor_server` serves stdio; `--transport streamable-http --port P` serves `/mcp` through uvicorn
at the same log level the real server uses (so neither pays for an access log).
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("floor")


@mcp.tool()
async def ping() -> str:
    """Answer at once."""
    return "pong"


def main(argv: list[str]) -> None:
    if "--transport" not in argv:
        mcp.run()
        return
    import anyio
    import uvicorn

    port = int(argv[argv.index("--port") + 1])
    app = mcp.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)


if __name__ == "__main__":
    main(sys.argv[1:])
