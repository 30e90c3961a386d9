"""Command line: ``python -m bot [serve|demo|render FILE|migrate]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

# google-api-core warns on every import that Python 3.11 support ends in 2027; App Engine
# runs 3.12, and the warning says nothing an operator can act on at run time.
warnings.filterwarnings("ignore", message="You are using a Python version", category=FutureWarning)

logger = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot (the default)")
    demo = commands.add_parser("demo", help="run the whole flow offline on bundled samples")
    demo.add_argument("--out", default="demo-output", help="folder for the Block Kit JSON")
    render = commands.add_parser("render", help="print the Block Kit JSON of a notification")
    render.add_argument("file", type=Path)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    args = parser.parse_args(argv)

    if args.command == "render":
        return _render(args.file)
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo(Path(args.out))
    from bot.config import ConfigError, load_settings
    from bot.logs import configure_logging

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "migrate":
        from bot.migrate import upgrade

        upgrade(settings.database_url)
        return 0
    from bot.server import serve

    return serve(settings)


def _render(path: Path) -> int:
    from blocks.finding import build_finding_message
    from bot.finding import NotificationParseError, parse_notification

    try:
        record = parse_notification(path.read_bytes())
    except (OSError, NotificationParseError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    message = build_finding_message(record)
    print(
        json.dumps({"text": message.text, "blocks": message.blocks}, indent=2, ensure_ascii=False)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
