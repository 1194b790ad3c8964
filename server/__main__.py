"""Command line: serve (default), models, generate, task, doctor. The same Service the tools use."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mediagen-mcp",
        description="MCP server for AI image and video generation (VicSee, NanoGPT, Mountsea Hub, UniAll, and an "
        "offline sandbox). With no command it serves MCP on stdio.",
    )
    p.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP transports: bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="HTTP transports: port (default 8000)")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="HTTP transports: extra Host header values to accept (DNS-rebinding protection)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="serve MCP (the default)")
    m = sub.add_parser("models", help="list models")
    m.add_argument("--provider")
    m.add_argument("--media-type", choices=["image", "video"])
    m.add_argument("--mode")
    m.add_argument("--query")
    m.add_argument("--json", action="store_true", help="print JSON")
    g = sub.add_parser("generate", help="start a generation (and wait for it with --wait)")
    g.add_argument("model", help="e.g. sandbox/video")
    g.add_argument("prompt")
    g.add_argument("--image", action="append", default=[], help="image_urls entry (path, https URL or data URI)")
    g.add_argument("--reference-image", action="append", default=[])
    g.add_argument("--reference-video", action="append", default=[])
    g.add_argument("--video-url")
    g.add_argument("--duration", type=float)
    g.add_argument("--aspect-ratio")
    g.add_argument("--resolution")
    g.add_argument("--output-format")
    g.add_argument("--audio", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--seed", type=int)
    g.add_argument("--negative-prompt")
    g.add_argument("--extra", action="append", default=[], metavar="KEY=JSON", help="model-specific option")
    g.add_argument("--wait", action="store_true", help="wait for the result and print where it was saved")
    g.add_argument("--json", action="store_true", help="print the task as JSON")
    t = sub.add_parser("task", help="show a task")
    t.add_argument("task_id")
    t.add_argument("--wait", action="store_true")
    t.add_argument("--json", action="store_true")
    sub.add_parser("doctor", help="check configuration and that each configured provider answers")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    from .config import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        sys.exit(f"mediagen-mcp: {exc}")
    from .logs import install_redaction

    install_redaction(settings.secrets)
    if args.command in (None, "serve"):
        serve(args, settings)
        return
    from . import cli

    code = cli.run(args, settings)
    sys.exit(code)


def serve(args: Any, settings: Any) -> None:
    from .app import build_server

    server = build_server(settings)
    if args.transport == "stdio":
        server.run()
        return
    if args.host not in LOOPBACK and not settings.http_token:
        sys.exit(
            "mediagen-mcp: binding beyond loopback requires MEDIAGEN_HTTP_TOKEN (clients send it as a bearer token)"
        )
    import anyio
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    from .http_auth import guarded

    hosts = [f"127.0.0.1:{args.port}", f"localhost:{args.port}", f"[::1]:{args.port}"]
    if args.host not in LOOPBACK:
        hosts.append(f"{args.host}:{args.port}")
    hosts += [h if ":" in h else f"{h}:{args.port}" for h in args.allowed_host]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )
    if args.transport == "sse":
        app = server.sse_app(transport_security=security, host=args.host)
    else:
        app = server.streamable_http_app(transport_security=security, host=args.host)
    # Keep-alive longer than clients' pool expiry (httpx: 5 s), so a reused connection is never closed mid-request.
    config = uvicorn.Config(
        guarded(app, settings.http_token), host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75
    )
    logging.getLogger("mediagen").info("serving %s on http://%s:%d", args.transport, args.host, args.port)
    anyio.run(uvicorn.Server(config).serve)


if __name__ == "__main__":
    main()
