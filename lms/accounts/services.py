"""Account rules: creating and inviting users, roles, passwords, sign-in, sessions and API tokens.

Services take an explicit ``actor``, raise domain errors and flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import selectinload

from lms import audit
from lms.accounts.auth import hash_token
from lms.accounts.models import (
    SESSION_LIFETIME,
    ApiToken,
    User,
    UserRole,
    UserSession,
    check_dummy_password,
    new_session_token,
    normalise_email,
)
from lms.accounts.throttle import login_throttle, reset_throttle
from lms.database import contains_text, utcnow
from lms.errors import Conflict, InvalidInput, NotAllowed, NotFound
from lms.extensions import db
from lms.mail import absolute_url, queue_email
from lms.permissions import Role, is_admin

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
INVITATION_MAX_AGE = 14 * 24 * 60 * 60
GENERIC_LOGIN_ERROR = "That email and password do not match an active account."


class SignInRefused(Exception):
    """Sign-in failed; the message is the same whether or not the account exists."""

    def __init__(self, message: str, retry_after: int = 0):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def check_password_rules(password: str, email: str | None = None, field: str = "password") -> None:
    """Refuse passwords that are too short, too long or the email itself.

    :raises InvalidInput: naming ``field``.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.for_field(field, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput.for_field(field, f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if email and password.strip().lower() == normalise_email(email):
        raise InvalidInput.for_field(field, "Your password must not be your email address.")


def get_user(user_id: int) -> User:
    """Load a user or fail.

    :raises NotFound:
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user_by_email(email: str) -> User | None:
    """The user with this email, compared case-insensitively."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def people_by_id(ids) -> dict[int, User]:
    """The people with these ids, by id: one query (none for no ids)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def people_with_roles(roles) -> list[User]:
    """Everyone holding any of ``roles``, by name."""
    holders = select(UserRole.user_id).where(UserRole.role.in_(list(roles)))
    return list(db.session.scalars(select(User).where(User.id.in_(holders)).order_by(User.name, User.id)))


def people_query(text: str = ""):
    """Everyone with an account, by name, with their roles, narrowed by a search text."""
    return search_people(select(User).options(selectinload(User.roles)).order_by(User.name, User.id), text)


def search_people(query, text: str):
    """Narrow a ``select(User)`` to people whose name or email contains ``text``."""
    if not text.strip():
        return query
    return query.where(or_(contains_text(User.email, text), contains_text(User.name, text)))


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    roles: set[Role] | frozenset[Role] = frozenset({Role.TRAINEE}),
    password: str | None = None,
    organisation_id: int | None = None,
    invite: bool = False,
) -> User:
    """Create an account, audited; optionally email an invitation to set a password.

    :raises InvalidInput: the email is taken, or the password breaks the rules.
    """
    email = normalise_email(email)
    if not name.strip():
        raise InvalidInput.for_field("name", "Enter the person's name.")
    if find_user_by_email(email) is not None:
        raise InvalidInput.for_field("email", "An account with this email already exists.")
    user = User(email=email, name=name.strip(), organisation_id=organisation_id)
    if password is not None:
        check_password_rules(password, email)
        user.set_password(password)
    user.roles = [UserRole(role=Role(role)) for role in sorted(roles)]
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user.created",
        user,
        after={
            "email": user.email,
            "name": user.name,
            "roles": sorted(roles),
            "organisation_id": organisation_id,
        },
    )
    if invite:
        send_invitation(user)
    return user


def update_user(actor: User, user: User, *, name: str, organisation_id: int | None) -> None:
    """Change a user's name and organisation, audited."""
    before = {"name": user.name, "organisation_id": user.organisation_id}
    user.name = name.strip()
    user.organisation_id = organisation_id
    after = {"name": user.name, "organisation_id": user.organisation_id}
    if before != after:
        audit.record(actor, "user.updated", user, before=before, after=after)


def set_roles(actor: User, user: User, roles: set[Role]) -> None:
    """Replace a user's roles, audited. An admin cannot remove their own admin role.

    :raises NotAllowed: an admin would lock themselves out.
    """
    roles = {Role(r) for r in roles}
    before = sorted(user.role_names)
    if actor.id == user.id and Role.ADMIN in user.role_names and Role.ADMIN not in roles:
        raise NotAllowed("You cannot remove your own administrator role; ask another administrator.")
    if set(before) == roles:
        return
    keep = [r for r in user.roles if r.role in roles]
    user.roles = keep + [UserRole(role=r) for r in sorted(roles - user.role_names)]
    audit.record(actor, "user.roles_changed", user, before={"roles": before}, after={"roles": sorted(roles)})


def set_active(actor: User, user: User, is_active: bool) -> None:
    """Deactivate or reactivate an account; deactivating ends its sessions and revokes its tokens.

    :raises NotAllowed: an admin would deactivate themselves.
    """
    if actor.id == user.id and not is_active:
        raise NotAllowed("You cannot deactivate your own account.")
    if user.is_active_account == is_active:
        return
    user.is_active_account = is_active
    _end_all_sessions(user)
    if not is_active:
        # Tokens are revoked, not just suspended: reactivating an account must not bring
        # back credentials that may have leaked while it was closed.
        now = utcnow()
        for token in tokens_of(user):
            if token.revoked_at is None:
                token.revoked_at = now
    audit.record(
        actor,
        "user.activated" if is_active else "user.deactivated",
        user,
        before={"is_active": not is_active},
        after={"is_active": is_active},
    )


def authenticate(email: str, password: str, address: str) -> User:
    """Check a sign-in attempt from ``address`` against the throttle and the password.

    Unknown, deactivated and password-less accounts are checked against a dummy hash, so a
    refusal takes as long whether or not the account exists. When failures lock an
    account from an address, its owner is emailed (once per window).

    :raises SignInRefused: with the same message whether the account exists or not.
    """
    throttle = login_throttle()
    wait = throttle.retry_after(email, address)
    if wait:
        minutes = max(1, round(wait / 60))
        raise SignInRefused(
            f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=wait,
        )
    user = find_user_by_email(email)
    can_sign_in = user is not None and user.is_active
    if not (user.check_password(password) if can_sign_in else check_dummy_password(password)):
        if throttle.register_failure(email, address) and can_sign_in and throttle.claim_alert(email):
            _send_attack_alert(user, address, is_account_locked=throttle.is_account_locked(email))
        raise SignInRefused(GENERIC_LOGIN_ERROR)
    throttle.clear_pair(email, address)
    user.last_login_at = utcnow()
    return user


def _send_attack_alert(user: User, address: str, *, is_account_locked: bool) -> None:
    """Tell an account's owner that someone keeps failing to sign in as them."""
    if is_account_locked:
        paused = (
            "Because the attempts come from many places, sign-ins to your account are paused "
            "for everyone for a few minutes, you included."
        )
    else:
        paused = "Sign-ins from that address are paused for a while; you can still sign in as usual."
    queue_email(
        user.email,
        "Failed sign-in attempts on your lms account",
        f"Hello {user.name},\n\nThere have been several failed attempts to sign in to your lms "
        f"account, the latest from the address {address or 'unknown'}. {paused}\n\n"
        "If it was you, there is nothing to do. If it was not, your password kept your account "
        "safe; if you use it anywhere else too, change it:\n\n"
        f"{absolute_url('accounts.change_password')}\n",
    )


def start_session(user: User) -> str:
    """Record a new signed-in session of ``user``; its key goes into the session cookie.

    Also forgets the user's sessions that have outlived :data:`SESSION_LIFETIME`.
    """
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.created_at <= utcnow() - SESSION_LIFETIME
        )
    )
    key = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, key_hash=hash_token(key)))
    db.session.flush()
    user.session_key = key
    return key


def end_session(user: User) -> None:
    """End the session ``user`` was loaded for (signing out of one browser)."""
    if user.session_key is not None:
        db.session.execute(delete(UserSession).where(UserSession.key_hash == hash_token(user.session_key)))
        user.session_key = None


def sign_out_everywhere(user: User) -> None:
    """End every session of ``user``, on every device and remember-me cookie, audited."""
    _end_all_sessions(user)
    audit.record(user, "user.signed_out_everywhere", user)


def _end_all_sessions(user: User) -> None:
    # Rotating the token alone ends them all; deleting the rows keeps the table small.
    user.session_token = new_session_token()
    user.session_key = None
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def change_password(
    user: User, current_password: str, new_password: str, *, revoke_tokens: bool = True
) -> int:
    """Change one's own password; every session ends, and every API token unless told not to.

    The caller starts a new session for the browser that changed it. Returns how many
    tokens were revoked (each audited).

    :raises InvalidInput: the current password is wrong or the new one breaks the rules.
    """
    if not user.check_password(current_password):
        raise InvalidInput.for_field("current_password", "Your current password is not correct.")
    check_password_rules(new_password, user.email, field="new_password")
    _replace_password(user, new_password, action="user.password_changed")
    if not revoke_tokens:
        return 0
    usable = [token for token in tokens_of(user) if token.is_usable]
    for token in usable:
        revoke_api_token(user, token)
    return len(usable)


def _replace_password(user: User, new_password: str, action: str) -> None:
    user.set_password(new_password)
    _end_all_sessions(user)
    audit.record(user, action, user)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lms.password-reset")


def _password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a used token cannot be used again."""
    material = f"{user.password_hash or ''}:{user.session_token}".encode()
    return hashlib.sha256(material).hexdigest()[:16]


def make_password_token(user: User) -> str:
    """A signed, expiring token that sets a new password once."""
    return _reset_serializer().dumps({"u": user.id, "f": _password_fingerprint(user)})


def request_password_reset(email: str, address: str) -> None:
    """Email a reset link if an active account has this email; say nothing either way.

    Requests are throttled per email and per client ``address`` whether or not the account
    exists; a throttled request silently sends nothing.
    """
    if not reset_throttle().allow(email, address):
        return
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    link = absolute_url("accounts.reset_password", token=make_password_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    queue_email(
        user.email,
        "Reset your lms password",
        f"Hello {user.name},\n\nSomeone asked to reset the password of your lms account. "
        f"If it was you, open this link within {minutes} minutes:\n\n{link}\n\n"
        "If it was not you, ignore this email; your password stays as it is.\n",
    )


def send_invitation(user: User) -> None:
    """Email a new user a link to set their password."""
    link = absolute_url("accounts.reset_password", token=make_password_token(user))
    queue_email(
        user.email,
        "You have been invited to lms",
        f"Hello {user.name},\n\nAn account has been created for you on lms, the training and "
        f"accreditation service. Choose your password here (the link works for 14 days):\n\n{link}\n",
    )


def user_for_password_token(token: str) -> User:
    """The user a reset or invitation token is for.

    :raises InvalidInput: the token is malformed, expired or already used.
    """
    serializer = _reset_serializer()
    try:
        # Invitations live longer than resets; the fingerprint keeps both single-use.
        max_age = max(INVITATION_MAX_AGE, current_app.config["PASSWORD_RESET_MAX_AGE"])
        data, timestamp = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as error:
        raise InvalidInput.for_field("token", "This link has expired. Ask for a new one.") from error
    except BadSignature as error:
        raise InvalidInput.for_field("token", "This link is not valid. Ask for a new one.") from error
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.is_active or data.get("f") != _password_fingerprint(user):
        raise InvalidInput.for_field("token", "This link has already been used or is no longer valid.")
    age = (utcnow() - timestamp.replace(tzinfo=dt.UTC)).total_seconds()
    if user.password_hash and age > current_app.config["PASSWORD_RESET_MAX_AGE"]:
        raise InvalidInput.for_field("token", "This link has expired. Ask for a new one.")
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from an emailed link; the link then stops working.

    :raises InvalidInput:
    """
    user = user_for_password_token(token)
    check_password_rules(new_password, user.email)
    _replace_password(user, new_password, action="user.password_reset")
    return user


def create_api_token(user: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Create a personal API token; the plain token is returned once and never stored.

    :raises InvalidInput: the name is empty or already used by one of the user's tokens, or the
        expiry is not in the future.
    """
    name = name.strip()
    if not name:
        raise InvalidInput.for_field("name", "Give the token a name, e.g. where you will use it.")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput.for_field("expires_at", "Must be in the future.")
    exists = db.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if exists:
        raise InvalidInput.for_field("name", "You already have an active token with this name.")
    plain = "lms_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, token_hash=hash_token(plain), prefix=plain[:10], expires_at=expires_at
    )
    db.session.add(token)
    db.session.flush()
    audit.record(user, "api_token.created", token, after={"name": name, "prefix": token.prefix})
    return token, plain


def tokens_of(user: User) -> list[ApiToken]:
    """A user's tokens, newest first."""
    return list(
        db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    )


def get_token_for(actor: User, token_id: int) -> ApiToken:
    """A token the actor may manage: their own, or anyone's for an admin.

    :raises NotFound: it does not exist or belongs to someone else.
    """
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not is_admin(actor)):
        raise NotFound("No such token.")
    return token


def revoke_api_token(actor: User, token: ApiToken) -> None:
    """Revoke a token, audited.

    :raises Conflict: it was already revoked.
    """
    if token.revoked_at is not None:
        raise Conflict("This token was already revoked.")
    token.revoked_at = utcnow()
    audit.record(actor, "api_token.revoked", token, after={"name": token.name, "prefix": token.prefix})
