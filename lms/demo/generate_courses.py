"""The courses part of ``flask --app lms generate``: courses, modules, knowledge checks, cohorts.

``generate_courses`` makes courses with credit rules, a few prerequisites, modules, links and
knowledge checks; ``generate_cohorts`` makes runs of each course with facilitators. The
enrolments and progress steps follow in :mod:`lms.demo.generate_enrolments` and
:mod:`lms.demo.generate_progress` (see docs/generate.md).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.courses.models import (
    Cohort,
    Course,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    KnowledgeCheck,
    Module,
    ModuleResource,
    Option,
    Question,
    cohort_facilitators,
    course_prerequisites,
)
from lms.demo.generation import GenerationContext

#: Course titles for generated data (numbered once they run out). Every other one carries credits,
#: and every fourth builds on the one two before it (Family Group Conferencing on Restorative Practice).
TOPICS = (
    "Whole-Family Practice", "Restorative Practice", "Safeguarding Children and Adults",
    "Family Group Conferencing", "Group Facilitation Skills", "Adverse Childhood Experiences",
    "Parental Substance Use and Hidden Harm", "Trauma Informed Practice", "Motivational Interviewing",
    "Reflective Supervision", "Domestic Abuse Awareness", "Practice Leadership", "Mental Health Awareness",
    "Volunteer Induction", "Evaluation and Outcome Measurement", "Peer Mentoring",
    "Supporting Children of Prisoners", "Relationship-Based Practice", "Working with Fathers in Custody",
    "Building Family Resilience", "Recovery-Oriented Practice", "Information Governance",
    "Suicide Prevention", "Case Recording and Report Writing", "Resettlement Planning",
    "Solution-Focused Practice", "Kinship Care", "Solution-Focused Supervision", "Neurodiversity Awareness",
    "Working with Interpreters",
)  # fmt: skip
MODULE_TITLES = (
    "Introduction", "Key ideas", "Working with children and families", "Safeguarding and boundaries",
    "Case study", "Putting it into practice", "Working with other services", "Recording and evaluation",
    "Reflective practice", "Review and next steps",
)  # fmt: skip
POINTS = (
    "Start from the family's own account of what is happening.",
    "Children's experiences come first: ask, listen and record their views.",
    "Agree clear boundaries at the start and return to them.",
    "Small, specific goals are easier to keep than large ones.",
    "Share information with consent, unless a child or adult is at risk.",
    "Notice strengths as well as needs.",
    "Work with other services rather than alongside them.",
    "Record what was said and agreed on the same day.",
    "Use supervision to reflect on what went well and what did not.",
    "Plan endings from the beginning.",
)
CITIES = (
    "Birmingham", "Bristol", "Cardiff", "Glasgow", "Leeds", "Liverpool", "London", "Manchester",
    "Newcastle", "Norwich", "Nottingham", "Sheffield",
)  # fmt: skip
#: Knowledge-check questions for generated modules: prompt, correct answer, wrong answers, explanation.
QUESTION_BANK = (
    (
        "What is the first step when you start work with a family?",
        "Listen to the family's own account of what is happening",
        ("Give them a plan written beforehand", "Contact every other service first"),
        "Families engage when they are heard first.",
    ),
    (
        "A child discloses harm. What do you do?",
        "Listen, do not promise secrecy, record it and report it the same day",
        ("Promise to keep it secret", "Wait for the next supervision session", "Ask the parent about it"),
        "Follow your safeguarding procedure; never promise secrecy.",
    ),
    (
        "When may you share information about a family?",
        "With their consent, or without it when someone is at risk",
        ("Whenever another service asks", "Never, under any circumstances"),
        "Consent first; safety overrides it.",
    ),
    (
        "What makes a goal easier to keep?",
        "Being small and specific",
        ("Being ambitious and general", "Being set by the practitioner alone"),
        "Small, specific, agreed goals are kept more often.",
    ),
    (
        "Where do you reflect on a difficult session?",
        "In supervision",
        ("Nowhere: move on to the next one", "In a public team chat"),
        "Supervision is the place to reflect and get support.",
    ),
    (
        "When should you plan the end of your work with a family?",
        "From the beginning",
        ("In the last session", "Only if the family asks"),
        "Planning endings early helps families, and children especially, prepare.",
    ),
)


def nine_am(day: dt.date) -> dt.datetime:
    """Nine in the morning (UTC) on ``day``."""
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def _course_code(title: str, number: int) -> str:
    initials = "".join(word[0] for word in title.replace("-", " ").split() if word[0].isalpha()).upper()
    return f"{initials[:6]}-{number:03d}"


def generate_courses(ctx: GenerationContext) -> None:
    """Courses with modules, credit rules, a few prerequisites, knowledge checks and links.

    Every other course carries credits from a generated awarding body and is enrolled by
    managers; every fourth requires an earlier course (so prerequisites never form a circle).
    """
    size, rng = ctx.size, ctx.rng
    orgs = ctx.ids
    providers = orgs.get("organisations.provider", []) or orgs.get("organisations.training_partner", [])
    partners = orgs.get("organisations.training_partner", []) or providers
    bodies = orgs.get("organisations.awarding_body", [])
    course_ids = ctx.allocate_ids(Course.__table__, size.courses)
    created = ctx.datetimes(size.courses, days=3 * 365, before=ctx.now - dt.timedelta(days=600))
    courses, rules, prerequisites = [], [], []
    for i, (course_id, created_at) in enumerate(zip(course_ids, created, strict=True)):
        is_credited = i % 2 == 0 and bool(bodies)
        title = TOPICS[i % len(TOPICS)] + (f" {i // len(TOPICS) + 1}" if i >= len(TOPICS) else "")
        credits = rng.choice((6, 10, 15, 20))
        fmt = (
            rng.choice((DeliveryFormat.BLENDED, DeliveryFormat.BLENDED, DeliveryFormat.FACE_TO_FACE))
            if is_credited
            else rng.choice((DeliveryFormat.ONLINE, DeliveryFormat.ONLINE, DeliveryFormat.BLENDED))
        )
        courses.append(
            {
                "id": course_id,
                "code": _course_code(title, i + 1),
                "title": title,
                "summary": f"{title}: an {'accredited ' if is_credited else ''}course for practitioners "
                "working with families affected by substance use, offending or imprisonment.",
                "provider_id": (providers if is_credited else partners)[
                    (i // 2) % len(providers or partners)
                ],
                "delivery_format": fmt,
                "notional_hours": credits * 10 if is_credited else rng.choice((2, 3, 4, 6, 8, 12)),
                "audience": "Practitioners employed by licensed organisations"
                if is_credited
                else "Staff and volunteers",
                "status": CourseStatus.PUBLISHED,
                "is_self_enrol": not is_credited,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
        if is_credited:
            ctx.ids.setdefault("courses.credited", []).append(course_id)
            rules.append(
                {
                    "course_id": course_id,
                    "awarding_body_id": bodies[(i // 2) % len(bodies)],
                    "credits": credits,
                    "level": f"FHEQ level {rng.choice((4, 5, 6, 6, 7))}",
                }
            )
        if i % 4 == 3:
            # Always an earlier course, so prerequisites can never form a circle.
            prerequisites.append({"course_id": course_id, "required_course_id": course_ids[i - 2]})
    ctx.ids["courses.course"] = list(course_ids)
    ctx.insert(Course.__table__, courses, total=len(courses))
    for rule, rule_id in zip(rules, ctx.allocate_ids(CreditRule.__table__, len(rules)), strict=True):
        rule["id"] = rule_id
    ctx.insert(CreditRule.__table__, rules, total=len(rules))
    ctx.insert(course_prerequisites, prerequisites, total=len(prerequisites))
    _generate_modules(ctx, courses)


def _generate_modules(ctx: GenerationContext, courses: list[dict]) -> None:
    """Modules of each course (the last one optional in every third course), checks and links."""
    size, rng = ctx.size, ctx.rng
    per_course = size.modules_per_course
    module_ids = iter(ctx.allocate_ids(Module.__table__, len(courses) * per_course))
    modules, checks, resources = [], [], []
    for i, course in enumerate(courses):
        has_optional = i % 3 == 2 and per_course >= 3
        for position in range(1, per_course + 1):
            module_id = next(module_ids)
            is_required = not (has_optional and position == per_course)
            title = (
                "Further reading"
                if not is_required
                else (MODULE_TITLES[position - 1] if position <= len(MODULE_TITLES) else f"Part {position}")
            )
            if position == 1:
                title = f"Introduction to {course['title'].lower()}"
            points = "\n".join(f"- {p}" for p in rng.sample(POINTS, 3))
            link = f"https://example.org/reading/{course['code'].lower()}"
            modules.append(
                {
                    "id": module_id,
                    "course_id": course["id"],
                    "position": position,
                    "title": title,
                    "content": f"This module of *{course['title']}* asks you to read, reflect "
                    f"and try one thing in your practice.\n\n## Key points\n\n{points}\n\n## In practice\n\n"
                    "1. Read the case study.\n2. Discuss it in supervision.\n3. Note one change you will "
                    f"make.\n\n[Reading list for this course]({link})\n",
                    "estimated_minutes": rng.choice((15, 20, 30, 45, 60)),
                    "is_required": is_required,
                    "is_retired": False,
                    "created_at": course["created_at"],
                    "updated_at": course["created_at"],
                }
            )
            ctx.ids.setdefault("courses.module", []).append(module_id)
            if position == 1:
                resources.append(
                    {
                        "module_id": module_id,
                        "position": 1,
                        "title": "Reading list",
                        "url": link,
                        "stored_file_id": None,
                    }
                )
            if is_required and position % 3 == 0:
                checks.append(
                    (module_id, rng.choice((75, 80)), rng.sample(QUESTION_BANK, rng.choice((3, 4))))
                )
    ctx.insert(Module.__table__, modules, total=len(modules))
    for resource, resource_id in zip(
        resources, ctx.allocate_ids(ModuleResource.__table__, len(resources)), strict=True
    ):
        resource["id"] = resource_id
    ctx.insert(ModuleResource.__table__, resources, total=len(resources))
    _generate_checks(ctx, checks)


def _generate_checks(ctx: GenerationContext, checks: list[tuple[int, int, list[tuple]]]) -> None:
    """Knowledge checks, their questions and options (one correct option each, in a random place)."""
    rng = ctx.rng
    check_ids = ctx.allocate_ids(KnowledgeCheck.__table__, len(checks))
    question_ids = iter(ctx.allocate_ids(Question.__table__, sum(len(q) for _m, _p, q in checks)))
    check_rows, question_rows, planned_options = [], [], []
    for check_id, (module_id, pass_mark, questions) in zip(check_ids, checks, strict=True):
        check_rows.append({"id": check_id, "module_id": module_id, "pass_mark": pass_mark})
        ctx.ids.setdefault("courses.knowledge_check", []).append(check_id)
        for position, (prompt, right, wrong, explanation) in enumerate(questions, start=1):
            question_id = next(question_ids)
            question_rows.append(
                {
                    "id": question_id,
                    "check_id": check_id,
                    "position": position,
                    "prompt": prompt,
                    "explanation": explanation,
                }
            )
            options = [(right, True)] + [(text, False) for text in wrong]
            rng.shuffle(options)
            planned_options += [(question_id, n, text, ok) for n, (text, ok) in enumerate(options)]
    option_ids = ctx.allocate_ids(Option.__table__, len(planned_options))
    option_rows = [
        {"id": option_id, "question_id": question_id, "position": n, "text": text, "is_correct": ok}
        for option_id, (question_id, n, text, ok) in zip(option_ids, planned_options, strict=True)
    ]
    ctx.insert(KnowledgeCheck.__table__, check_rows, total=len(check_rows))
    ctx.insert(Question.__table__, question_rows, total=len(question_rows))
    ctx.insert(Option.__table__, option_rows, total=len(option_rows))


def generate_cohorts(ctx: GenerationContext) -> None:
    """Runs of each course spread over the last 18 months (the latest under way), with facilitators."""
    size, rng = ctx.size, ctx.rng
    course_ids = ctx.ids.get("courses.course", [])
    formats = dict(
        ctx.session.execute(select(Course.id, Course.delivery_format).where(Course.id.in_(course_ids))).all()
    )
    assessors = ctx.ids.get("users.assessor", [])
    per_course = size.cohorts_per_course
    cohort_ids = iter(ctx.allocate_ids(Cohort.__table__, len(course_ids) * per_course))
    cohorts, facilitators = [], []
    for course_id in course_ids:
        fmt = formats[course_id]
        for k in range(per_course):
            days_ago = 45 + round((per_course - 1 - k) * 480 / (per_course - 1)) if per_course > 1 else 120
            starts_on = (ctx.now - dt.timedelta(days=days_ago + rng.randint(-10, 10))).date()
            ends_on = starts_on + dt.timedelta(
                days=180 if per_course == 1 else rng.choice((90, 120, 150, 180))
            )
            city = rng.choice(CITIES)
            opens_on = starts_on - dt.timedelta(days=42)
            cohort_id = next(cohort_ids)
            cohorts.append(
                {
                    "id": cohort_id,
                    "course_id": course_id,
                    "name": f"{starts_on:%B %Y}, " + ("online" if fmt == DeliveryFormat.ONLINE else city),
                    "starts_on": starts_on,
                    "ends_on": ends_on,
                    "delivery_format": fmt,
                    "location": ""
                    if fmt == DeliveryFormat.ONLINE
                    else f"{city} (venue details are sent with the joining instructions)",
                    # Places are counted by the enrolments step, which then sets the capacity.
                    "capacity": None,
                    "seats_taken": 0,
                    "has_waiting_list": rng.random() < 0.8,
                    "enrolment_opens_on": opens_on,
                    "enrolment_closes_on": None,
                    "created_at": nine_am(opens_on) - dt.timedelta(days=rng.randint(1, 30)),
                }
            )
            ctx.ids.setdefault("cohorts.cohort", []).append(cohort_id)
            chosen = rng.sample(assessors, min(len(assessors), rng.choice((1, 1, 2))))
            facilitators += [{"cohort_id": cohort_id, "user_id": user_id} for user_id in chosen]
    ctx.insert(Cohort.__table__, cohorts, total=len(cohorts))
    ctx.insert(cohort_facilitators, facilitators, total=len(facilitators))
