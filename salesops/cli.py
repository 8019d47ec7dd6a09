"""The ``salesops`` command: run services, mint development tokens, export contracts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salesops.catalog import CATALOG


def _export_contracts(args: argparse.Namespace) -> int:
    from contracts.export import export_contracts

    written = export_contracts(Path(args.directory))
    for path in written:
        print(path)
    return 0


def _token(args: argparse.Namespace) -> int:
    from salesops.auth import TokenIssuer
    from salesops.orgdir import UnknownPerson, load_org_directory
    from salesops.policy import parse_duration
    from salesops.settings import DEV_JWT_SECRET, CommonSettings, load_settings

    settings: CommonSettings = load_settings(CommonSettings)
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


def _up(args: argparse.Namespace) -> int:
    from salesops.up import run_stack

    unknown = sorted(set(args.services) - set(CATALOG))
    if unknown:
        print(
            f"salesops up: unknown service(s) {unknown}; known: {sorted(CATALOG)}", file=sys.stderr
        )
        return 2
    return run_stack(
        data_dir=Path(args.data_dir),
        services=args.services or list(CATALOG),
        port_base=args.port_base,
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

    token = commands.add_parser("token", help="mint a development token for a person")
    token.add_argument("--user", required=True, help="person id from the org directory")
    token.add_argument("--ttl", default="12h", help="lifetime, e.g. 12h or 7d")
    token.add_argument("--org-file", default=None)
    token.set_defaults(run=_token)

    serve = commands.add_parser("serve", help="run one service (settings from SALESOPS_*)")
    serve.add_argument("service", choices=sorted(CATALOG))
    serve.set_defaults(run=_serve)

    up = commands.add_parser("up", help="run every service, with embedded servers if none are set")
    up.add_argument("--data-dir", default=".salesops", help="where embedded servers keep data")
    up.add_argument("--port-base", type=int, default=None, help="first HTTP port (default 8101)")
    up.add_argument("services", nargs="*", help=f"default: all of {sorted(CATALOG)}")
    up.set_defaults(run=_up)

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
