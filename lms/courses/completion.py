"""How a course is completed, with hooks for other areas.

Courses know one requirement themselves: every required module complete. Other areas add
requirements (assessments: every required assignment passed) and listen for completions
(credits: record a provisional award) through this registry, so that courses never import
their internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask, current_app

#: ``(enrolments) -> {enrolment_id: [unmet requirement, ...]}``; one call for many enrolments,
#: so that a page listing many enrolments stays at a bounded number of queries.
RequirementCheck = Callable[[list], dict[int, list[str]]]
#: ``(enrolment, actor) -> None``; runs in the transaction that records the completion.
CompletionListener = Callable[[object, object], None]


@dataclass
class CompletionHooks:
    """The requirement checks and completion listeners registered by the areas."""

    requirements: list[RequirementCheck] = field(default_factory=list)
    listeners: list[CompletionListener] = field(default_factory=list)


def hooks(app: Flask | None = None) -> CompletionHooks:
    """The application's completion hooks."""
    app = app or current_app
    return app.extensions.setdefault("lms_completion", CompletionHooks())


def add_requirement(app: Flask, check: RequirementCheck) -> None:
    """Register a further completion requirement (e.g. assignments passed)."""
    hooks(app).requirements.append(check)


def add_completion_listener(app: Flask, listener: CompletionListener) -> None:
    """Register a function to run when an enrolment is completed (e.g. award credits)."""
    hooks(app).listeners.append(listener)


def other_unmet_requirements(enrolments: Iterable) -> dict[int, list[str]]:
    """Unmet requirements from other areas, by enrolment id."""
    enrolments = list(enrolments)
    unmet: dict[int, list[str]] = {e.id: [] for e in enrolments}
    if not enrolments:
        return unmet
    for check in hooks().requirements:
        for enrolment_id, problems in check(enrolments).items():
            unmet.setdefault(enrolment_id, []).extend(problems)
    return unmet
