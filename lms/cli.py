"""The ``flask --app lms`` commands: init, create-user, create-token, seed-demo, generate."""

from __future__ import annotations

import click
from flask import Flask
from flask_migrate import upgrade

from lms.extensions import db
from lms.permissions import Role

ROLE_CHOICE = click.Choice([r.value for r in Role])


def _create_user(email: str, name: str, password: str | None, roles: tuple[str, ...]):
    from lms.accounts import services
    from lms.errors import InvalidInput

    try:
        user = services.create_user(
            None, email=email, name=name, password=password, roles={Role(r) for r in roles} or {Role.TRAINEE}
        )
    except InvalidInput as error:
        db.session.rollback()
        raise click.ClickException(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in error.fields.items())
        ) from error
    db.session.commit()
    return user


@click.command("init")
@click.option("--admin-email", help="Create this first administrator if there is none.")
@click.option("--admin-name", default="Administrator", show_default=True)
@click.password_option("--admin-password", prompt=False, help="Leave out to be prompted.")
def init_command(admin_email: str | None, admin_name: str, admin_password: str | None) -> None:
    """Create or upgrade the database, then create the first administrator."""
    from sqlalchemy import select

    from lms.accounts.models import UserRole

    upgrade()
    click.echo("Database is up to date.")
    has_admin = db.session.scalar(select(UserRole).where(UserRole.role == Role.ADMIN).limit(1))
    if has_admin:
        click.echo("An administrator exists already.")
        return
    if not admin_email:
        admin_email = click.prompt("Email of the first administrator")
    if not admin_password:
        admin_password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    admin = _create_user(admin_email, admin_name, admin_password, (Role.ADMIN.value,))
    click.echo(f"Administrator {admin.email} created.")


@click.command("create-user")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, help="Repeat for several roles.")
@click.option("--password", help="Leave out to be prompted.")
def create_user_command(email: str, name: str, roles: tuple[str, ...], password: str | None) -> None:
    """Create a user with roles."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _create_user(email, name, password, roles)
    click.echo(f"Created user {user.id}: {user.email} ({', '.join(sorted(user.role_names))}).")


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
def create_token_command(email: str, name: str) -> None:
    """Create a personal API token for a user and print it once."""
    from lms.accounts import services
    from lms.errors import InvalidInput

    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email}.")
    try:
        _token, plain = services.create_api_token(user, name)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(plain)


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo data built from the seed documents (running it twice changes nothing)."""
    from lms.demo.seed import seed_demo

    report = seed_demo()
    db.session.commit()
    click.echo(report.render())


@click.command("generate")
@click.option("--size", type=click.Choice(["xs", "s", "m", "l"]), default="s", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
def generate_command(size: str, seed: int) -> None:
    """Build a deterministic synthetic data set for benchmarks (into an empty database)."""
    from lms.demo.generate import GenerationRefused, generate

    try:
        generate(size, seed=seed, echo=click.echo)
    except GenerationRefused as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error


def init_app(app: Flask) -> None:
    """Register the commands."""
    from lms.jobs.commands import COMMANDS as JOB_COMMANDS

    for command in (
        *JOB_COMMANDS,
        init_command,
        create_user_command,
        create_token_command,
        seed_demo_command,
        generate_command,
    ):
        app.cli.add_command(command)
