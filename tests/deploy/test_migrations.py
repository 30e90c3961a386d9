"""The Alembic revisions build exactly bot.db's schema; migrate is an explicit command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.__main__ import main
from bot.db import create_schema, make_engine, metadata
from bot.migrate import (
    MigrationError,
    alembic_config,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)

VERSIONS = Path(__file__).resolve().parents[2] / "deploy" / "migrations" / "versions"


def test_revisions_form_one_line_ending_at_the_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_heads() == [head_revision()]
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert len(revisions) == len(list(VERSIONS.glob("*.py")))


def test_head_matches_the_metadata(database_url: str) -> None:
    """Fails when a table or column is added to bot/db.py without a migration."""
    reached = upgrade(database_url)

    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert current_revision(connection) == reached == head_revision()
        differences = schema_differences(connection)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert differences == [], "bot/db.py differs from deploy/migrations: add a revision"
    assert tables == {*metadata.tables, "alembic_version"}
    # A second run finds nothing to do.
    assert upgrade(database_url) == reached


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        connection.commit()
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()

    assert upgrade(database_url) == head_revision()


def test_a_schema_made_from_metadata_is_adopted(database_url: str) -> None:
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO findings (key, status, category, severity, state, mute, project, "
                "resource_name, resource_label, script_sha256, occurrences, content_hash, "
                "snapshot, created_at, updated_at, deleted) VALUES ('k1', 'posted', '', '', '', "
                "'', '', '', '', '', 1, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"
            )
        )

    assert upgrade(database_url) == head_revision()

    with engine.connect() as connection:
        assert connection.execute(text("SELECT key FROM findings")).scalars().all() == ["k1"]
    engine.dispose()


def test_an_unversioned_schema_that_differs_is_left_to_the_operator(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE findings (key VARCHAR(512) PRIMARY KEY)"))
    engine.dispose()

    with pytest.raises(MigrationError, match="no migration history"):
        upgrade(database_url)


def test_migrate_command_reads_database_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_CHANNEL", "C0SECURITY")
    monkeypatch.setenv("LOG_FORMAT", "text")

    assert main(["migrate"]) == 0

    engine = make_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_revision_files_carry_their_id_in_the_name() -> None:
    for path in VERSIONS.glob("*.py"):
        declared = re.search(r"^revision: str = ['\"](\w+)['\"]", path.read_text(), re.M)
        assert declared is not None, path.name
        assert path.name.startswith(declared.group(1) + "_")
