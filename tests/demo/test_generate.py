"""The benchmark data generator: sizes, refusal of a non-empty database, determinism, plug-in steps."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from lms.accounts.models import User, UserRole
from lms.cli import generate_command
from lms.demo import generate as generator
from lms.demo.generate import GENERATED_PASSWORD, SIZES, Step, generate
from lms.organisations.models import Organisation, OrganisationKind
from lms.permissions import Role
from tests.conftest import rolled_back

XS = SIZES["xs"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "generate.md"


def fingerprint(db) -> dict[str, list[tuple]]:
    """Every generated row (ids and timestamps included) except the salted password hash."""
    rows = {}
    for table in (Organisation.__table__, User.__table__, UserRole.__table__):
        columns = [c for c in table.columns if c.name != "password_hash"]
        query = sa.select(*columns).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(row) for row in db.session.execute(query)]
    return rows


def count(db, query) -> int:
    return db.session.scalar(query)


def test_generate_xs_makes_the_counts_of_the_size_table(runner, db):
    result = runner.invoke(args=["generate", "--size", "xs", "--seed", "3"])

    assert result.exit_code == 0, result.output
    assert GENERATED_PASSWORD in result.output
    kind_counts = sa.select(Organisation.kind, sa.func.count()).group_by(Organisation.kind)
    kinds = dict(db.session.execute(kind_counts).all())
    assert kinds == {
        OrganisationKind.AWARDING_BODY: XS.awarding_bodies,
        OrganisationKind.PROVIDER: XS.providers,
        OrganisationKind.TRAINING_PARTNER: XS.training_partners,
        OrganisationKind.LICENCE_HOLDER: XS.licence_holders,
    }
    assert count(db, sa.select(sa.func.count()).select_from(User)) == XS.users
    roles = dict(db.session.execute(sa.select(UserRole.role, sa.func.count()).group_by(UserRole.role)).all())
    assert roles == {
        Role.TRAINEE: XS.trainees,
        Role.ASSESSOR: XS.assessors + (XS.admins + 1) // 2,
        Role.LIAISON: XS.liaisons,
        Role.ORG_MANAGER: XS.org_managers,
        Role.ADMIN: XS.admins,
    }
    trainees_per_org = dict(
        db.session.execute(
            sa.select(Organisation.kind, sa.func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(UserRole.role == Role.TRAINEE)
            .group_by(Organisation.kind)
        ).all()
    )
    assert trainees_per_org == {OrganisationKind.LICENCE_HOLDER: XS.trainees}


def test_generated_accounts_sign_in_with_the_printed_password(runner, db):
    runner.invoke(args=["generate", "--size", "xs"])

    admin = db.session.scalar(sa.select(User).where(User.email == "admin1@gen.example.org"))
    assert admin.has_role(Role.ADMIN)
    assert admin.check_password(GENERATED_PASSWORD)
    assert admin.created_at.tzinfo is not None


def test_running_twice_is_refused(runner, db):
    assert runner.invoke(args=["generate", "--size", "xs"]).exit_code == 0

    result = runner.invoke(args=["generate", "--size", "xs"])

    assert result.exit_code == 1
    assert "not empty" in result.output
    assert count(db, sa.select(sa.func.count()).select_from(User)) == XS.users


def test_a_database_with_any_row_is_refused(runner, make_organisation, db):
    make_organisation("Already here")
    db.session.commit()

    result = runner.invoke(args=["generate", "--size", "xs"])

    assert result.exit_code == 1
    assert "organisations" in result.output
    assert count(db, sa.select(sa.func.count()).select_from(User)) == 0


def test_same_seed_gives_the_same_data_and_another_seed_does_not(db):
    runs = []
    for seed in (7, 7, 8):
        with rolled_back(db):
            generate("xs", seed=seed)
            runs.append(fingerprint(db))

    assert runs[0] == runs[1]
    assert runs[0]["organisations"] != runs[2]["organisations"]
    assert runs[0]["users"][0][0] == 1


def test_the_application_can_insert_after_generating(db, make_user):
    generate("xs")

    user = make_user(Role.TRAINEE)

    assert user.id > XS.users


def test_an_area_plugs_in_one_step(db, monkeypatch):
    seen = {}

    def generate_extra(ctx):
        seen["trainees"] = len(ctx.ids["users.trainee"])
        seen["draw"] = ctx.rng.random()
        table = Organisation.__table__
        ids = ctx.allocate_ids(table, 2)
        extra = {"kind": OrganisationKind.OTHER, "site_type": None, "created_at": ctx.now}
        rows = [{"id": i, "name": f"Extra {i}", **extra} for i in ids]
        ctx.insert(table, rows, total=len(rows))

    core_steps = generator.steps()
    monkeypatch.setattr(generator, "steps", lambda: (*core_steps, Step("extra", generate_extra)))

    report = generate("xs", seed=5)

    assert seen["trainees"] == XS.trainees
    assert seen["draw"] == random.Random("5:extra").random()
    assert report.counts["organisations"] == XS.organisations + 2
    assert set(report.step_seconds) == {step.name for step in core_steps} | {"extra"}
    extra_ids = db.session.scalars(sa.select(Organisation.id).where(Organisation.name.like("Extra %")))
    assert sorted(extra_ids) == [XS.organisations + 1, XS.organisations + 2]


def test_sizes_are_consistent_and_large_reaches_the_benchmark_targets():
    large = SIZES["l"]
    assert large.trainees >= 20_000
    assert large.organisations >= 200
    assert large.courses >= 30 and large.modules_per_course >= 10
    assert large.module_progress >= 400_000
    assert large.submissions >= 40_000
    assert large.credit_awards >= 15_000
    with pytest.raises(ValueError, match="credit awards"):
        dataclasses.replace(XS, credit_awards=XS.enrolments + 1)


def test_cli_offers_every_size_and_docs_show_the_current_table():
    size_option = next(p for p in generate_command.params if p.name == "size")
    assert list(size_option.type.choices) == list(SIZES)
    assert generator.sizes_markdown() in DOCS.read_text()
