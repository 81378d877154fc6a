"""The demo: seed documents turned into organisations, people, courses and assignments. Idempotent.

Each area has one seeder here (:mod:`lms.demo.people`, :mod:`lms.demo.courses`,
:mod:`lms.demo.assessments`); the texts they seed live as data under ``lms/demo/content/``.
See docs/generate.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lms.demo import assessments, courses, people
from lms.demo.people import DEMO_PASSWORD, DEMO_USERS
from lms.extensions import db

__all__ = ["AREA_SEEDERS", "DEMO_PASSWORD", "DEMO_USERS", "SeedReport", "seed_demo"]

#: Each area's ``seed(report)``, in dependency order; each is idempotent.
AREA_SEEDERS = (people.seed, courses.seed, assessments.seed)


@dataclass
class SeedReport:
    """What seeding created, and the demo credentials."""

    created: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, count: int = 1) -> None:
        """Count something created."""
        self.created[what] = self.created.get(what, 0) + count

    def render(self) -> str:
        """Text for the terminal."""
        lines = ["Demo data ready."]
        if self.created:
            lines.append("Created: " + ", ".join(f"{n} {what}" for what, n in sorted(self.created.items())))
        else:
            lines.append("Nothing new: the demo data was already there.")
        lines.append(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        width = max(len(email) for email, *_ in DEMO_USERS)
        for email, name, roles, _org in DEMO_USERS:
            lines.append(f"  {', '.join(r.label for r in roles):<24} {email:<{width}} {name}")
        return "\n".join(lines)


def seed_demo() -> SeedReport:
    """Create whatever part of the demo is missing; flushes, the caller commits."""
    report = SeedReport()
    # The courses seeder completes modules before the assessments seeder can add the assignments.
    with assessments.assignments_expected():
        for seeder in AREA_SEEDERS:
            seeder(report)
    db.session.flush()
    return report
