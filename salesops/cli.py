"""The ``salesops`` command: run services, mint development tokens, export contracts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salesops.catalog import CATALOG


def _export_contracts(args: argparse.Namespace) -> int:
    from contracts.compatibility import BreakingChange, publish_contracts

    try:
        # Refuses to overwrite a published schema with an incompatible one of the same
        # version, so regenerating can never turn a breaking change into an edit in place.
        written = publish_contracts(Path(args.directory))
    except BreakingChange as exc:
        print(f"salesops contracts export: nothing written:\n{exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _check_contracts(args: argparse.Namespace) -> int:
    from contracts.compatibility import PUBLISHED_DIR, check_published, format_problems

    directory = Path(args.directory) if args.directory else PUBLISHED_DIR
    if not directory.is_dir():
        print(f"salesops contracts check: {directory} is not a directory", file=sys.stderr)
        return 2
    problems = check_published(directory)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return 1
    print(f"{directory}: the code's contracts keep every published promise")
    return 0


def _token(args: argparse.Namespace) -> int:
    from salesops.auth import TokenIssuer
    from salesops.orgdir import UnknownPerson, load_org_directory
    from salesops.policy import parse_duration
    from salesops.settings import (
        DEV_JWT_SECRET,
        CommonSettings,
        ConfigurationError,
        load_settings,
    )

    try:
        settings: CommonSettings = load_settings(CommonSettings)
    except ConfigurationError as exc:  # e.g. production without a real secret: mint nothing
        print(f"salesops token: {exc}", file=sys.stderr)
        return 2
    directory = load_org_directory(args.org_file or settings.org_file)
    try:
        person = directory.person(args.user)
    except UnknownPerson as exc:
        print(f"salesops token: {exc}", file=sys.stderr)
        return 2
    if settings.jwt_secret == DEV_JWT_SECRET:
        print(
            "salesops token: using the development secret (set SALESOPS_JWT_SECRET)",
            file=sys.stderr,
        )
    issuer = TokenIssuer(settings.jwt_secret, settings.jwt_issuer)
    print(issuer.mint(person.id, ttl=parse_duration(args.ttl)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from salesops.chassis import create_service_app
    from salesops.settings import ConfigurationError, ServiceSettings, load_settings
    from salesops.telemetry import configure_logging, configure_tracing

    try:
        settings = load_settings(ServiceSettings)
    except ConfigurationError as exc:
        print(f"salesops serve {args.service}: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.service, settings.log_level)
    configure_tracing(args.service)
    app = create_service_app(CATALOG[args.service].definition(), settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _console(args: argparse.Namespace) -> int:
    import uvicorn

    from salesops.settings import ConfigurationError, load_settings
    from salesops.telemetry import configure_logging
    from services.console.app import create_console_app
    from services.console.settings import ConsoleSettings

    try:
        settings = load_settings(ConsoleSettings)
    except ConfigurationError as exc:
        print(f"salesops console: {exc}", file=sys.stderr)
        return 2
    configure_logging("console", settings.log_level)
    uvicorn.run(
        create_console_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _up(args: argparse.Namespace) -> int:
    from salesops.up import run_stack

    unknown = sorted(set(args.services) - set(CATALOG))
    if unknown:
        print(
            f"salesops up: unknown service(s) {unknown}; known: {sorted(CATALOG)}", file=sys.stderr
        )
        return 2
    services = args.services or list(CATALOG)
    demo = None
    if args.demo:
        from salesops.demo.run import DemoOptions, DemoRun

        if sorted(services) != sorted(CATALOG):
            print("salesops up --demo: the demo needs every service", file=sys.stderr)
            return 2
        # After the services and the console (8101-8105, 8100): the notifications inbox.
        inbox = args.port_base + len(services) + 1 if args.port_base else 8106
        options = DemoOptions(seed=args.seed, speed=args.speed, period=args.quarter, days=args.days)
        demo = DemoRun(options, data_dir=Path(args.data_dir), inbox_port=inbox)
    return run_stack(
        data_dir=Path(args.data_dir),
        services=services,
        port_base=args.port_base,
        demo=demo,
    )


def _metrics_rebuild(args: argparse.Namespace) -> int:
    import asyncio

    from salesops.db import create_pool
    from salesops.settings import ConfigurationError, ServiceSettings, load_settings
    from services.metrics.generations import ReadModel
    from services.metrics.rebuild import RebuildAlreadyRunning, rebuild
    from services.metrics.service import changes_channel

    try:
        settings = load_settings(ServiceSettings)
    except ConfigurationError as exc:
        print(f"salesops metrics rebuild: {exc}", file=sys.stderr)
        return 2
    schema = settings.schema_for("metrics")

    async def run() -> int:
        pool = await create_pool(settings.database_url, schema, min_size=1, max_size=2)
        try:
            report = await rebuild(pool, ReadModel(schema), notify_channel=changes_channel(schema))
        except RebuildAlreadyRunning as exc:
            print(f"salesops metrics rebuild: {exc}", file=sys.stderr)
            return 1
        finally:
            await pool.close()
        print(
            f"generation {report.generation} is live: {report.events:,} events replayed in "
            f"{report.replay_seconds:.2f} s ({report.events_per_second:,.0f} events/s), "
            f"{report.rows:,} rows, {report.caught_up_events:,} caught up in "
            f"{report.catch_up_rounds} round(s); {report.total_seconds:.2f} s in all"
        )
        return 0

    return asyncio.run(run())


def _events_tail(args: argparse.Namespace) -> int:
    import asyncio

    from salesops.tail import SettingsError, load_tail_settings, run_tail

    try:
        settings = load_tail_settings()
    except SettingsError as exc:
        print(f"salesops events tail: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(
        run_tail(settings, args.subject, from_start=args.from_start, as_json=args.json)
    )


def _org_check(args: argparse.Namespace) -> int:
    from salesops.orgdir import OrgDirectoryError, load_org_directory
    from salesops.policy import PolicyError, load_policy

    try:
        directory = load_org_directory(args.org_file)
        load_policy(args.policy_file)
    except (OrgDirectoryError, PolicyError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.org_file}: {len(directory.people)} people, valid; {args.policy_file}: valid")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    contracts = commands.add_parser("contracts", help="the published event contracts")
    contracts_commands = contracts.add_subparsers(dest="contracts_command", required=True)
    export = contracts_commands.add_parser("export", help="write JSON Schemas and AsyncAPI")
    export.add_argument("directory")
    export.set_defaults(run=_export_contracts)
    check_contracts = contracts_commands.add_parser(
        "check",
        help="fail when the code changed a published schema incompatibly without a new version",
    )
    check_contracts.add_argument(
        "directory", nargs="?", help="the published set (default: contracts/published)"
    )
    check_contracts.set_defaults(run=_check_contracts)

    token = commands.add_parser("token", help="mint a development token for a person")
    token.add_argument("--user", required=True, help="person id from the org directory")
    token.add_argument("--ttl", default="12h", help="lifetime, e.g. 12h or 7d")
    token.add_argument("--org-file", default=None)
    token.set_defaults(run=_token)

    serve = commands.add_parser("serve", help="run one service (settings from SALESOPS_*)")
    serve.add_argument("service", choices=sorted(CATALOG))
    serve.set_defaults(run=_serve)

    console = commands.add_parser(
        "console",
        help="run the web console: the app, sign-in and /api/<service>/ forwarding "
        "(SALESOPS_CONSOLE_UPSTREAMS names the services' addresses)",
    )
    console.set_defaults(run=_console)

    up = commands.add_parser("up", help="run every service, with embedded servers if none are set")
    up.add_argument("--data-dir", default=".salesops", help="where embedded servers keep data")
    up.add_argument("--port-base", type=int, default=None, help="first HTTP port (default 8101)")
    up.add_argument("services", nargs="*", help=f"default: all of {sorted(CATALOG)}")
    up.add_argument(
        "--demo",
        action="store_true",
        help="load a generated company (137 people, ~2,500 customers) and play a quarter of its "
        "work through the APIs on an accelerated clock (own database and NATS namespace)",
    )
    up.add_argument("--seed", type=int, default=137, help="the demo company's seed")
    up.add_argument(
        "--speed", type=float, default=1440, help="demo business seconds per real second"
    )
    up.add_argument("--quarter", default="2026-Q2", help="the demo's quarter, e.g. 2026-Q2")
    up.add_argument(
        "--days", type=int, default=None, help="play only the quarter's first N calendar days"
    )
    up.set_defaults(run=_up)

    metrics = commands.add_parser("metrics", help="the metrics service's read models")
    metrics_commands = metrics.add_subparsers(dest="metrics_command", required=True)
    rebuild = metrics_commands.add_parser(
        "rebuild",
        help="rebuild every read model from the event history into fresh tables and switch "
        "over when caught up, while the service keeps answering (settings from SALESOPS_*)",
    )
    rebuild.set_defaults(run=_metrics_rebuild)

    events = commands.add_parser("events", help="the events on NATS")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    tail = events_commands.add_parser(
        "tail",
        help="print events as they are published, one line each, until Ctrl-C "
        "(SALESOPS_NATS_URL, SALESOPS_NATS_NAMESPACE, SALESOPS_NATS_USER/_PASSWORD)",
    )
    tail.add_argument(
        "subject", nargs="?", help="NATS subject, wildcards allowed (default sales.>)"
    )
    tail.add_argument(
        "--from-start", action="store_true", help="replay the streams from their first event"
    )
    tail.add_argument("--json", action="store_true", help="the whole CloudEvents envelope")
    tail.set_defaults(run=_events_tail)

    org = commands.add_parser("org", help="org directory and policy files")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    check = org_commands.add_parser("check", help="validate the org directory and policy")
    check.add_argument("org_file", nargs="?", default="deploy/org.yaml")
    check.add_argument("policy_file", nargs="?", default="deploy/policy.yaml")
    check.set_defaults(run=_org_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
