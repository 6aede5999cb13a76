"""`roundhoused`: run the daemon, and manage tokens, keys and routing from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roundhouse.daemon import __version__
from roundhouse.daemon.startup_errors import StartupError

if TYPE_CHECKING:
    from roundhouse.daemon.config import ServerSettings


def _setup_logging(level: str, log_file: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3))
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    # httpx logs full URLs at INFO; keep them out unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def server_options(server: ServerSettings | None = None) -> dict[str, Any]:
    """uvicorn settings of the daemon's HTTP server (the tests serve the daemon with them too)."""
    from roundhouse.daemon.config import ServerSettings

    server = server or ServerSettings()
    try:
        from roundhouse.daemon.api.connection_limits import ConnectionLimits, limited_protocol

        http: Any = limited_protocol(
            ConnectionLimits(
                header_timeout_s=server.header_timeout_s,
                body_timeout_s=server.body_timeout_s,
                max_header_bytes=server.max_header_bytes,
                max_connections=server.max_connections,
                max_connections_per_peer=server.max_connections_per_peer,
            )
        )
    except ImportError:  # uvicorn without httptools: its default protocol, with what it can limit
        http = "auto"
    # No proxy headers: the guard judges the socket's peer, and nothing in front of a local
    # daemon may claim another address through X-Forwarded-For.
    return {
        "http": http,
        "proxy_headers": False,
        "server_header": False,
        "h11_max_incomplete_event_size": server.max_header_bytes,
        # uvicorn's own cap, for its h11 protocol (the protocol above refuses earlier).
        "limit_concurrency": server.max_connections + 1,
    }


def _raise_open_files_limit() -> None:
    """Let the connection caps, not the descriptor limit, decide when connections are refused."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ImportError, ValueError, OSError):  # Windows, or a limit this process may not raise
        pass


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from roundhouse.daemon.api.server import create_app
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.config import load_checked_settings as load_settings

    settings = load_settings()
    if args.host:
        settings.server.host = args.host
    if args.port:
        settings.server.port = args.port
    _setup_logging(settings.log_level, args.log_file)
    _raise_open_files_limit()
    if not settings.loopback_only:
        logging.getLogger("roundhouse").warning(
            "listening on %s: every request needs a token, and control calls an admin token",
            settings.server.host,
        )
    daemon = Daemon(settings)
    if not settings.loopback_only:
        from roundhouse.daemon.config import tray_token_file
        from roundhouse.daemon.tokens import ensure_tray_token

        # Exposed, a control call needs an admin token: the tray on this machine reads this one.
        ensure_tray_token(daemon.tokens, tray_token_file())
    app = create_app(daemon)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        **server_options(settings.server),
    )
    print(f"Roundhouse {__version__} on {settings.base_url}", file=sys.stderr, flush=True)
    server = uvicorn.Server(config)

    def request_shutdown() -> None:
        server.should_exit = True

    daemon.request_shutdown = request_shutdown
    server.run()
    return 0


def _store() -> Any:
    from roundhouse.daemon.config import data_dir
    from roundhouse.daemon.store import Store

    return Store(data_dir() / "roundhouse.db")


def _token(args: argparse.Namespace) -> int:
    from roundhouse.daemon.tokens import Tokens

    store = _store()
    try:
        tokens = Tokens(store)
        if args.token_command == "create":
            try:
                token = tokens.create(args.name, args.scope)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(token)
            print(
                f"{args.scope.title()} token for '{args.name}'. It is shown once; "
                "send it as 'Authorization: Bearer <token>'.",
                file=sys.stderr,
            )
        elif args.token_command == "list":
            for row in tokens.list():
                print(f"{row['name']}\t{row['scope']}\t{row['hint']}")
        elif args.token_command == "revoke":
            if not tokens.revoke(args.name):
                print(f"error: no token for app '{args.name}'", file=sys.stderr)
                return 1
            print(f"revoked the token of '{args.name}'")
    finally:
        store.close()
    return 0


def _keys(args: argparse.Namespace) -> int:
    from roundhouse.daemon.secrets import PROVIDERS, NoSecureStore, Secrets

    secrets = Secrets()
    ok, detail = secrets.available()
    if args.keys_command == "list":
        if not ok:
            print(f"error: {detail}", file=sys.stderr)
            return 1
        stored = set(secrets.names())
        for provider in PROVIDERS:
            print(f"{provider}\t{secrets.hint(provider) if provider in stored else '-'}")
        return 0
    if args.provider not in PROVIDERS:
        print(f"error: unknown provider '{args.provider}'; known: {', '.join(PROVIDERS)}", file=sys.stderr)
        return 2
    try:
        if args.keys_command == "set":
            key = (
                getpass.getpass(f"API key for {args.provider}: ")
                if sys.stdin.isatty()
                else sys.stdin.readline()
            )
            secrets.set(args.provider, key)
            print(f"stored the {args.provider} key in {detail} (ends {secrets.hint(args.provider)})")
        elif args.keys_command == "delete":
            if not secrets.delete(args.provider):
                print(f"error: no key stored for {args.provider}", file=sys.stderr)
                return 1
            print(f"deleted the {args.provider} key")
    except (NoSecureStore, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _validation_message(exc: Any) -> str:
    """One line naming the argument that is wrong, in the words the user typed it."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    message = str(first.get("msg", exc)).removeprefix("Value error, ")
    if field in ("name", "url", ""):
        return message
    return f"--{field.replace('_', '-')}: {message[:1].lower()}{message[1:]}"


def _hosts(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from roundhouse.daemon.config import load_checked_settings
    from roundhouse.daemon.fleet.hosts import HostSettings, key_name
    from roundhouse.daemon.fleet.registry import HostExists, HostRegistry
    from roundhouse.daemon.secrets import NoSecureStore, Secrets

    settings = load_checked_settings()
    configured: list[HostSettings] = list(settings.hosts)
    # An [[openai_compat]] endpoint is a backend by that name too: a host may not take it.
    in_config = {host.name for host in configured} | {e.name for e in settings.openai_compat}
    secrets = Secrets()
    new_host: HostSettings | None = None
    if args.hosts_command == "add":
        try:
            new_host = HostSettings(
                name=args.name,
                url=args.url,
                kind=args.kind,
                local=not args.remote_network,
                memory_gb=args.memory_gb,
                max_loaded=args.max_loaded,
                parallel=args.parallel,
            )
        except ValidationError as exc:
            print(f"error: {_validation_message(exc)}", file=sys.stderr)
            return 2

    def add(registry: HostRegistry, host: HostSettings) -> int:
        if host.name in in_config:
            print(f"error: '{host.name}' is set in config.toml already; choose another name", file=sys.stderr)
            return 1
        if any(h.name == host.name for h in registry.list()):
            print(
                f"error: a host named '{host.name}' exists already; "
                f"to replace it, first run: roundhoused hosts remove {host.name}",
                file=sys.stderr,
            )
            return 1
        api_key = None
        if args.key:
            ok, detail = secrets.available()
            if not ok:
                print(f"error: {detail}; nothing was added", file=sys.stderr)
                return 1
            prompt = f"API key for {host.name}: "
            api_key = (getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()).strip()
            if not api_key:
                print("error: no API key given; nothing was added", file=sys.stderr)
                return 2
        try:
            registry.add(host, api_key, taken=in_config)
        except HostExists as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except NoSecureStore as exc:
            print(f"error: {exc}; nothing was added", file=sys.stderr)
            return 1
        print(f"added host '{host.name}'; the daemon picks it up within a few seconds")
        return 0

    def listing(registry: HostRegistry) -> int:
        stored = set(secrets.names()) if secrets.available()[0] else set()
        rows = [(h, "config") for h in configured] + [(h, "added") for h in registry.list()]
        for host, origin in rows:
            key = "key" if host.has_key or key_name(host.name) in stored else "-"
            print(f"{host.name}\t{host.kind}\t{host.url}\t{origin}\t{key}")
        if not rows:
            print("no hosts yet; add one with: roundhoused hosts add NAME URL", file=sys.stderr)
        return 0

    def remove(registry: HostRegistry, name: str) -> int:
        if name in in_config:
            print(f"error: '{name}' is set in config.toml; remove it there", file=sys.stderr)
            return 1
        if not registry.remove(name):
            print(f"error: no added host named '{name}'", file=sys.stderr)
            return 1
        print(f"removed host '{name}'")
        return 0

    store = _store()
    try:
        registry = HostRegistry(store, secrets)
        if new_host is not None:
            return add(registry, new_host)
        if args.hosts_command == "list":
            return listing(registry)
        return remove(registry, args.name.strip().lower())
    finally:
        store.close()


def _route(args: argparse.Namespace) -> int:
    from roundhouse.daemon.app import Daemon
    from roundhouse.daemon.config import load_checked_settings as load_settings
    from roundhouse.daemon.routing.explain import explain_prompt

    async def run() -> dict[str, Any]:
        daemon = Daemon(load_settings())
        await daemon.start()
        try:
            return await explain_prompt(daemon, args.prompt, args.model, args.app)
        finally:
            await daemon.stop()

    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


def _config(args: argparse.Namespace) -> int:
    from roundhouse.daemon.config import EXAMPLE_CONFIG, config_file, data_dir, log_dir

    if args.config_command == "paths":
        print(f"config\t{config_file()}\ndata\t{data_dir()}\nlogs\t{log_dir()}")
    else:
        print(EXAMPLE_CONFIG, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from roundhouse.daemon.fleet.hosts import KINDS

    parser = argparse.ArgumentParser(prog="roundhoused", description="The Roundhouse daemon.")
    parser.add_argument("--version", action="version", version=f"roundhoused {__version__}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the daemon (the default)")
    serve.add_argument("--host", help="address to bind (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config: 8719)")
    serve.add_argument("--log-file", help="also log to this file, rotated at 2 MB")

    token = sub.add_parser("token", help="app tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token for an app and print it")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        choices=("app", "admin"),
        default="app",
        help="app: inference and its own ledger rows (default); admin: the whole control API",
    )
    token_sub.add_parser("list", help="list apps with tokens: name, scope, last four characters")
    token_sub.add_parser("revoke", help="revoke an app's token").add_argument("name")

    keys = sub.add_parser("keys", help="cloud API keys in the OS keyring")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("set", help="store a key (prompted without echo)").add_argument("provider")
    keys_sub.add_parser("list", help="providers with a stored key (never the key)")
    keys_sub.add_parser("delete", help="delete a stored key").add_argument("provider")

    hosts = sub.add_parser("hosts", help="other machines that serve models (Ollama, llama.cpp, vLLM…)")
    hosts_sub = hosts.add_subparsers(dest="hosts_command", required=True)
    add = hosts_sub.add_parser("add", help="add a host; the running daemon picks it up")
    add.add_argument("name", help="a short name, e.g. gpu-box")
    add.add_argument("url", help="where its engine answers, e.g. http://gpu-box.local:11434")
    add.add_argument("--kind", choices=KINDS, default="ollama", help="the engine it runs (default: ollama)")
    add.add_argument("--memory-gb", type=float, help="memory it may fill, for engines that do not report it")
    add.add_argument("--max-loaded", type=int, help="how many models it keeps loaded at once")
    add.add_argument("--parallel", type=int, default=1, help="requests it serves at once (default: 1)")
    add.add_argument(
        "--remote-network",
        action="store_true",
        help="it is outside your own network: private prompts never go there",
    )
    add.add_argument(
        "--key", action="store_true", help="prompt for its API key (kept in the OS keyring only)"
    )
    hosts_sub.add_parser("list", help="hosts from config.toml and added ones (never a key)")
    hosts_sub.add_parser("remove", help="remove an added host and its key").add_argument("name")

    route = sub.add_parser("route", help="show where a prompt would go, without running it")
    route.add_argument("--explain", dest="prompt", required=True, metavar="PROMPT")
    route.add_argument("--model", default="auto")
    route.add_argument("--app", default="cli")

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("paths", help="where config, data and logs live")
    config_sub.add_parser("example", help="print an example config.toml")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "serve"
    if command == "serve" and args.command is None:
        args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    handlers = {
        "serve": _serve,
        "token": _token,
        "keys": _keys,
        "hosts": _hosts,
        "route": _route,
        "config": _config,
    }
    try:
        return handlers[command](args)
    except StartupError as exc:
        print(f"roundhoused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
