"""Courses in the demo (from the seed documents) and in the benchmark data set (``generate``).

``seed(report)`` creates the accredited M-PACT practitioner programme and Interface's three
partner courses for Pact, with cohorts, enrolments and progress, through the course services
so that their rules and audit hold. It matches courses by code and people by email and
only creates what is missing, so it never overwrites an admin's edits.

``generate_courses``, ``generate_cohorts``, ``generate_enrolments`` and ``generate_progress``
are the steps of ``flask --app lms generate`` for this area (see docs/generate.md).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import select

from lms.accounts.models import User, UserRole
from lms.courses import services
from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Course,
    CourseStatus,
    CreditRule,
    DeliveryFormat,
    Enrolment,
    EnrolmentStatus,
    KnowledgeCheck,
    Module,
    ModuleProgress,
    ModuleResource,
    Option,
    Question,
    cohort_facilitators,
    course_prerequisites,
)
from lms.courses.services import QuestionInput
from lms.errors import DomainError
from lms.extensions import db
from lms.organisations.models import Organisation
from lms.permissions import Role

# =========================================================================================
# seed-demo: the courses of the seed documents
# =========================================================================================


@dataclass(frozen=True)
class DemoModule:
    """A module of a demo course, with its knowledge check and links, if any."""

    title: str
    minutes: int
    content: str
    questions: tuple[QuestionInput, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    is_required: bool = True


@dataclass(frozen=True)
class DemoCourse:
    """A demo course as the seed documents describe it."""

    code: str
    title: str
    summary: str
    provider: str
    delivery_format: DeliveryFormat
    notional_hours: int
    audience: str
    is_self_enrol: bool
    modules: tuple[DemoModule, ...]
    prerequisites: tuple[str, ...] = ()
    #: ``(awarding body name, credits, level)``.
    credits: tuple[str, int, str] | None = None


def _q(prompt: str, options: list[str], correct: int, explanation: str) -> QuestionInput:
    return QuestionInput(prompt=prompt, options=options, correct=correct, explanation=explanation)


# --- the accredited practitioner programme (seed 000) -----------------------------------------

MPACT_CODE = "MPACT-PT"

MPACT = DemoCourse(
    code=MPACT_CODE,
    title="M-PACT practitioner training",
    summary=(
        "The accredited training for practitioners who will facilitate M-PACT, a whole-family, "
        "multi-family, structured brief intervention which puts children first. Delivered by experts "
        "from Action on Addiction and accredited by the University of Bath, which awards six credits "
        "to practitioners who complete the training and pass the assignment."
    ),
    provider="Action on Addiction",
    delivery_format=DeliveryFormat.BLENDED,
    notional_hours=60,
    audience="Practitioners employed by organisations licensed to run M-PACT",
    is_self_enrol=False,
    credits=("University of Bath", 6, "FHEQ level 6"),
    modules=(
        DemoModule(
            "M-PACT: a whole-family approach",
            40,
            """\
## What M-PACT is

M-PACT is a **whole-family, multi-family, structured brief intervention which puts children
first**. A small number of families work together over **10 sessions**, with trained
facilitators, to understand and change the effect that substance use has on everyone in
the family.

## Where it comes from

- The first M-PACT programme was delivered in **2006**.
- By the end of 2018, **446 practitioners** had been trained.
- Programmes have reached **over 2,500 participants from 700 families** in around
  **50 locations** across the UK: community, prison and school-based sites.
- M-PACT is delivered **under licence**. Facilitators are trained by experts from Action on
  Addiction, and the training is accredited by the University of Bath.

## Why a whole-family approach

Substance use rarely affects one person only. Working with parents and children together,
and with several families at once, lets family members hear each other, see that other
families face the same things, and practise new ways of talking about what happens at home.

James Mawhinney, Social Work Team Leader and Safeguarding Lead at CGL (change, grow, live),
describes what this has meant for his service:

> *"M-PACT has enabled us to develop a bridge between children and adult services by
> providing direct evidence based interventions with each member of the family."*

## In this course

You will learn how the programme is structured, how to work with children and adults in the
same room, how to keep everyone safe, and what licence holders do to take part in the
programme's independent evaluation.
""",
            questions=(
                _q(
                    "Over how many sessions do families work together on an M-PACT programme?",
                    ["6", "10", "12", "20"],
                    1,
                    "A small number of families work together over 10 structured sessions.",
                ),
                _q(
                    "Who does M-PACT put first?",
                    [
                        "The parent who uses substances",
                        "The children in the family",
                        "The facilitators",
                        "The referring agency",
                    ],
                    1,
                    "M-PACT is a whole-family intervention which puts children first.",
                ),
                _q(
                    "What does an organisation need before it can run M-PACT?",
                    [
                        "A licence from Action on Addiction",
                        "Membership of the University of Bath",
                        "Nothing: any organisation may run it",
                    ],
                    0,
                    "M-PACT is delivered under licence: organisations purchase one from Action on Addiction.",
                ),
                _q(
                    "Where has M-PACT been delivered?",
                    [
                        "In community sites only",
                        "In community, prison and school-based sites",
                        "In hospitals only",
                    ],
                    1,
                    "Around 50 locations across the UK, including community, prison and school-based sites.",
                ),
            ),
        ),
        DemoModule(
            "Substance use and families",
            45,
            """\
## Living with substance use for many years

Many of the families who have taken part in M-PACT had been living with substance use
problems for many years. As well as the effects of addiction, many had also experienced
other difficulties:

- offending;
- violence and abuse;
- mental health difficulties.

Families with **multiple and complex needs** are not the exception on this programme: they
are who it is for. Evaluation shows that this relatively brief intervention can produce
significantly positive changes for many families, even those with multiple and complex needs.

## Harm to children from someone else's drinking

In Ireland, one in six carers (**16%**) have reported that children for whom they have
parental responsibility have experienced harm because of someone else's drinking. The
Alcohol Forum became the first provider of M-PACT in Ireland in 2015.

Children are affected even when nobody talks about it. They may take on caring roles, keep
secrets, blame themselves, or come to see what happens at home as normal.

## What this means for your practice

1. Think of the whole family, not only the person who uses substances.
2. Expect more than one difficulty, and ask about each of them.
3. Notice what children are carrying, and make space for them to say it.

### Reflection

Think of a family you have worked with. Who in that family was most affected by substance
use, and who was most visible to services? Were they the same person?
""",
            questions=(
                _q(
                    "Besides substance use, what have many families on M-PACT also experienced?",
                    [
                        "Nothing else: the programme takes families with a single need only",
                        "Offending, violence, abuse and/or mental health difficulties",
                        "Financial difficulties only",
                    ],
                    1,
                    "Many families had also lived with offending, violence, abuse and/or mental health "
                    "difficulties; the programme is for families with multiple and complex needs.",
                ),
                _q(
                    "In Ireland, how many carers reported that children in their care had been harmed "
                    "by someone else's drinking?",
                    ["1 in 50 (2%)", "1 in 6 (16%)", "1 in 2 (50%)"],
                    1,
                    "One in six carers (16%), as The Alcohol Forum reports.",
                ),
                _q(
                    "A child tells you that everything at home is fine. What is the best first response?",
                    [
                        "Accept it and move on to the next activity",
                        "Tell the parent what the child said",
                        "Acknowledge them and keep the door open, so that talking later is easy",
                        "Tell them you know they are hiding something",
                    ],
                    2,
                    "Children often keep secrets or see what happens at home as normal: steady, safe "
                    "openings help more than pressure.",
                ),
            ),
        ),
        DemoModule(
            "Working with children and young people",
            40,
            """\
## Children first

M-PACT puts children first. In practice, that means that children's voices are heard in the
sessions, that activities are pitched so that children can take part, and that adults are
helped to see the family through their children's eyes.

## Direct work with each member of the family

The programme offers direct, evidence-based work with **each member of the family**. That is
what lets it act as a bridge between children's services and adult services, which so often
work with the same family separately.

## Practical points for facilitators

- **Age and stage**: plan activities that work for the youngest child in the group as well
  as the oldest.
- **Language**: use plain words for substance use and its effects; avoid jargon and blame.
- **Choice**: children can pass on an activity; say so at the start.
- **Time apart and time together**: some conversations are easier in a children's group or
  an adults' group before the whole family meets.
- **Endings**: prepare children for the end of the programme from the first session.

## Further reading

- [NSPCC Learning](https://learning.nspcc.org.uk/): guidance on children affected by
  parental substance use.
""",
            links=(("NSPCC Learning", "https://learning.nspcc.org.uk/"),),
        ),
        DemoModule(
            "Facilitating the 10 sessions",
            60,
            """\
## How the programme runs

A small number of families meet together for **10 structured sessions**. Every session
follows the plan in the facilitator's manual, so that families at every licensed site receive
the same, evaluated programme. Licence holders find the manual and the session materials on
the online hub.

## Before the first session

- Meet each family beforehand: explain what will happen, agree how they will get there, and
  check for anything that would make joining difficult.
- Agree with your co-facilitator who leads each part, and how you will signal to each other
  during a session.
- Check the room: space for adults and children to work separately and together, and a
  quiet corner.

## During the sessions

- **Keep to the structure**: the sessions build on each other.
- **Hold the group**: agree ground rules together in the first session and come back to them.
- **Watch the children**: notice who is quiet, who is carrying the group, who is worried.
- **Share the room**: families learn as much from each other as from you.

## After each session

1. Debrief with your co-facilitator.
2. Record attendance and anything of concern, the same day.
3. Follow up families who missed the session.

## Completion

The completion rate for M-PACT is **80%**. Much of it comes from the work done before the
first session, and from following up quickly when a family misses one.
""",
            questions=(
                _q(
                    "Why does every licensed site follow the same session plan?",
                    [
                        "So that every family receives the same, evaluated programme",
                        "So that sessions can be skipped when time is short",
                        "Because families may not speak during sessions",
                    ],
                    0,
                    "The manual keeps the programme the same at every site, which is what the evaluation "
                    "measures.",
                ),
                _q(
                    "What is the completion rate for M-PACT?",
                    ["25%", "50%", "80%", "100%"],
                    2,
                    "The completion rate for M-PACT is 80%.",
                ),
                _q(
                    "A family misses a session. What should happen?",
                    [
                        "Remove them from the programme",
                        "Wait and see whether they come to the next one",
                        "Follow them up promptly and help them back into the group",
                    ],
                    2,
                    "Quick follow-up is one reason why so many families complete the programme.",
                ),
                _q(
                    "What do facilitators do after each session?",
                    [
                        "Nothing until the programme ends",
                        "Debrief together, and record attendance and any concerns the same day",
                        "Send every family the notes of everyone's discussion",
                    ],
                    1,
                    "Debrief with your co-facilitator and record attendance and concerns on the day.",
                ),
            ),
        ),
        DemoModule(
            "Safeguarding in multi-family work",
            45,
            """\
## Your responsibility

Safeguarding children and adults is part of every session, not something that happens
afterwards. Facilitators follow their own organisation's safeguarding policy and the local
multi-agency procedures; M-PACT does not replace them.

## Before the programme

- Know your organisation's designated safeguarding lead, and how to reach them during a
  session.
- Explain to families at the first meeting what you keep confidential, what you must pass on,
  and why.

## When a child or an adult discloses something

1. **Listen** calmly, and let them say it in their own words.
2. **Do not promise to keep a secret**; explain what you will do next.
3. **Record** what was said, in their words, with the date and time, as soon as you can.
4. **Report** it to your designated safeguarding lead the same day, or straight away if
   someone is at immediate risk (call 999 in an emergency).

## In a group

A disclosure in a group affects everyone in the room. Pause the activity, make sure that the
person who spoke is safe and supported, and give the other families something clear to do
while one facilitator follows up.

## In prisons

Programmes in prisons also follow the establishment's own security and safeguarding rules.
Agree with the prison's family team, before the programme starts, how concerns raised in a
session are passed on.
""",
            questions=(
                _q(
                    "A child tells you something worrying and asks you not to tell anyone. What do you say?",
                    [
                        "That you promise to keep it a secret",
                        "That you cannot promise to keep it secret, and what you will do next",
                        "Nothing, and you carry on with the activity",
                    ],
                    1,
                    "Never promise secrecy: explain honestly what happens next.",
                ),
                _q(
                    "When do you report a safeguarding concern?",
                    [
                        "At the end of the programme",
                        "Only if the parent agrees",
                        "The same day, or straight away if someone is at immediate risk",
                    ],
                    2,
                    "Report to your designated safeguarding lead the same day; immediately when someone "
                    "is at risk.",
                ),
                _q(
                    "Whose safeguarding procedures apply during M-PACT sessions?",
                    [
                        "Only the M-PACT manual's",
                        "Your organisation's policy and local multi-agency procedures, and the prison's "
                        "rules in a prison",
                        "None: what is said in sessions is confidential",
                    ],
                    1,
                    "M-PACT does not replace your organisation's or the local safeguarding procedures.",
                ),
                _q(
                    "How do you record a disclosure?",
                    [
                        "In the person's own words, with the date and time, as soon as possible",
                        "As a summary in your own words at the end of the week",
                        "Not at all, to protect confidentiality",
                    ],
                    0,
                    "Accurate, prompt records in the person's own words protect them and you.",
                ),
            ),
        ),
        DemoModule(
            "Evaluation and the licence",
            30,
            """\
## Why evaluation matters

M-PACT stays an evidence-based programme because every licensed site takes part in its
**ongoing independent evaluation**. Evaluation shows that this relatively brief intervention
is able to produce significantly positive changes for many families, even those with multiple
and complex needs. Family members attending M-PACT programmes reported multiple improvements
in diverse areas of family functioning.

It also shows value for money: **for every £1 spent, M-PACT can save up to £6.53**.

## What licence holders do

- Collect the evaluation measures with each family at the points the evaluation requires.
- Keep the data secure, and send it in the agreed format and timescale.
- Share anonymised case studies, with the family's consent, so that other sites can learn
  from them.

## The licence and the hub

Organisations wishing to run an M-PACT programme must purchase a licence from Action on
Addiction. To become a licence holder, an organisation must ensure that **at least two
members of staff** have successfully completed the M-PACT practitioner training.

Licence holders receive ongoing support through an **online hub**, which provides:

- resources and materials for programme delivery;
- information about the ongoing independent evaluation requirements;
- testimonials and anonymised example case studies.
""",
            questions=(
                _q(
                    "How many members of staff must have completed the practitioner training before an "
                    "organisation can hold an M-PACT licence?",
                    ["One", "Two", "Five", "Ten"],
                    1,
                    "At least two members of staff must have successfully completed the training.",
                ),
                _q(
                    "For every £1 spent, how much can M-PACT save?",
                    ["Up to £1.20", "Up to £6.53", "Up to £65"],
                    1,
                    "Evaluation found that M-PACT can save up to £6.53 for every £1 spent.",
                ),
                _q(
                    "Where do licence holders find delivery materials and the evaluation requirements?",
                    ["On the online hub for licence holders", "Only in this course", "From each family"],
                    0,
                    "The hub provides delivery resources, evaluation requirements, testimonials and "
                    "anonymised case studies.",
                ),
                _q(
                    "Which of these can be shared as a case study?",
                    [
                        "An anonymised account, shared with the family's consent",
                        "Names and addresses, so that other sites can follow up",
                        "Any family's story: consent is not needed once the programme has ended",
                    ],
                    0,
                    "Case studies are anonymised and shared with consent.",
                ),
            ),
        ),
        DemoModule(
            "The assignment and your credits",
            20,
            """\
## Accreditation

The practitioner training is accredited by the **University of Bath**, which awards **six
credits** to practitioners who have successfully completed the training **and** an
assignment. By UK convention, one credit stands for ten notional hours of learning: the six
credits reflect about 60 hours of taught sessions, online modules, reading and the assignment.

## The assignment

You will find the brief, the due date and the marking criteria on the course page. Before
you hand in your work:

- read the brief and the marking criteria side by side;
- link what you write to your own practice, and keep families anonymous;
- keep to the word count, and reference what you have read.

An assessor marks your work against the criteria, and a second assessor moderates a sample
of the marks before results are released to you.

## After you pass

Your completion is recorded once you have finished every module and passed the assignment.
The University of Bath then confirms your credits, and you can download a certificate with a
verification code that anyone can check.
""",
        ),
    ),
)

# --- Interface's courses for Pact (seed 003) -------------------------------------------------

PARTNER_PROVIDER = "Interface Enterprises"
PARTNER_AUDIENCE = "Pact staff and volunteers, through Pact Academy"

TIP = DemoCourse(
    code="IE-TIP",
    title="Trauma Informed Practice",
    summary=(
        "Working in a way that acknowledges the complete picture of a person's life and experiences, "
        "to deliver effective support: recognising signs of past trauma, understanding their current "
        "impact, and working sensitively to avoid triggering past traumas. Developed by Interface "
        "Enterprises with Pact."
    ),
    provider=PARTNER_PROVIDER,
    delivery_format=DeliveryFormat.ONLINE,
    notional_hours=3,
    audience=PARTNER_AUDIENCE,
    is_self_enrol=True,
    modules=(
        DemoModule(
            "Why trauma-informed practice?",
            20,
            """\
## The complete picture

Trauma-informed practice means working in a way that **acknowledges the complete picture of a
person's life and experiences**, so that the support we give is effective. Instead of asking
"what is wrong with you?", it asks "what has happened to you, and what do you need now?".

## Trauma and the criminal justice system

Many of the people Pact works with (prisoners, and their children, partners and parents)
have lived through trauma before they meet us, and the criminal justice system can add to it.
The Centre for Social Justice report *The Golden Thread* calls for good relationships to be at
the heart of every stage of the criminal justice system, and names moments that matter:

- the **trauma of arrest**, often witnessed by children;
- the **impact of sentencing** on the family;
- **maintaining connection during custody**;
- **preparing prisoners and their families for life after prison**.

## What this course covers

1. Recognising signs of past trauma.
2. Understanding their current impact.
3. Working sensitively to avoid triggering past traumas.
""",
            questions=(
                _q(
                    "Which question best reflects a trauma-informed approach?",
                    [
                        "What is wrong with you?",
                        "What has happened to you, and what do you need now?",
                        "Why can't you just follow the rules?",
                    ],
                    1,
                    "Trauma-informed practice starts from a person's experiences, not from a deficit.",
                ),
                _q(
                    "What does The Golden Thread call for?",
                    [
                        "Good relationships at the heart of every stage of the criminal justice system",
                        "Shorter family visits in prisons",
                        "Fewer services for prisoners' families",
                    ],
                    0,
                    "The report calls for significant cultural change to put good relationships at the "
                    "heart of every stage of the system.",
                ),
                _q(
                    "Do you need to know the details of someone's trauma to work in a trauma-informed way?",
                    [
                        "Yes: always ask them to describe what happened",
                        "No: notice, stay curious and kind, and let them share what they choose",
                    ],
                    1,
                    "Asking people to retell traumatic events can itself re-traumatise them.",
                ),
            ),
        ),
        DemoModule(
            "Recognising signs of past trauma",
            25,
            """\
## Trauma shows in behaviour

Past trauma often shows in how people react now, especially under stress. You may notice:

- **Fight**: anger, arguing, seeming hostile or defensive.
- **Flight**: leaving, missing appointments, avoiding certain subjects or places.
- **Freeze**: going quiet, seeming switched off, finding it hard to answer.
- **Fawn**: agreeing with everything, trying hard to please.

These are survival responses, not bad behaviour or a lack of motivation.

## In a prison visits hall

A child may be clingy, withdrawn or unusually loud before and after a visit. A partner may
be short-tempered at the gate. A prisoner may seem indifferent. Searches, noise, waiting and
uniforms can all bring back earlier experiences.

## You do not need the story

Recognising signs of trauma does not mean asking people what happened. Notice, stay curious
and kind, and let people share what they choose, when they choose.
""",
        ),
        DemoModule(
            "Understanding the impact today",
            25,
            """\
## How trauma affects people now

Trauma can affect:

- **trust**: in staff, in services, in "the system";
- **relationships**: with partners, children and parents;
- **health and wellbeing**: sleep, concentration, mental health, substance use;
- **everyday tasks**: keeping appointments, filling in forms, waiting in queues.

## Relationships protect

Good, steady relationships help people recover from trauma. That is why keeping family ties
during a sentence matters so much: to prisoners, to their children, and to their chances of
turning their lives around.

## Reflection

Think of a time when someone you supported seemed "difficult". Looking again with what you
now know about trauma, what else might have been going on for them?
""",
        ),
        DemoModule(
            "Working sensitively: avoiding re-traumatisation",
            30,
            """\
## Six principles

The working definition of trauma-informed practice for England names six principles:

| Principle | What it looks like in practice |
|---|---|
| Safety | people know what will happen next, and spaces feel physically and emotionally safe |
| Trustworthiness | we explain what we do and why, and we do what we said we would |
| Choice | people have real options and a say in their support |
| Collaboration | we work with people, not on them |
| Empowerment | we build on strengths and share power |
| Cultural consideration | we recognise how culture, identity and history shape experience |

Read the [working definition of trauma-informed practice](https://www.gov.uk/government/publications/working-definition-of-trauma-informed-practice)
on GOV.UK.

## Avoiding triggers

- Explain processes such as searches and waiting times before they happen.
- Ask before touching, moving someone's belongings or closing a door.
- Offer choices, even small ones: where to sit, which room to meet in.
- Avoid asking people to repeat their story to several members of staff.

## Look after yourself

Hearing about trauma affects staff and volunteers too. Use supervision, talk to your manager,
and know where to find support.
""",
            questions=(
                _q(
                    "Which of these is not one of the six principles of trauma-informed practice?",
                    ["Safety", "Choice", "Compliance", "Collaboration"],
                    2,
                    "The six are safety, trustworthiness, choice, collaboration, empowerment and cultural "
                    "consideration.",
                ),
                _q(
                    "A visitor who is about to be searched looks anxious. What is the trauma-informed "
                    "response?",
                    [
                        "Carry on quickly without talking, to get it over with",
                        "Explain calmly what will happen and why, before it happens",
                        "Ask them why they are nervous",
                    ],
                    1,
                    "Knowing what will happen next is part of feeling safe.",
                ),
                _q(
                    "Why avoid asking someone to repeat their story to several members of staff?",
                    [
                        "Retelling it can trigger past trauma",
                        "It takes too much time",
                        "Their story might change",
                    ],
                    0,
                    "Each retelling can bring the trauma back; share information (with consent) instead.",
                ),
                _q(
                    "What helps staff and volunteers who hear about trauma?",
                    [
                        "Keeping it to themselves",
                        "Supervision, and support from their manager",
                        "Avoiding people who have experienced trauma",
                    ],
                    1,
                    "Vicarious trauma is real: supervision and support are part of the approach.",
                ),
            ),
            links=(
                (
                    "Working definition of trauma-informed practice (GOV.UK)",
                    "https://www.gov.uk/government/publications/working-definition-of-trauma-informed-practice",
                ),
            ),
        ),
        DemoModule(
            "Further reading",
            15,
            """\
## To go further

- [The Centre for Social Justice](https://www.centreforsocialjustice.org.uk/): the report
  *The Golden Thread* on relationships in the criminal justice system.
- [Pact](https://www.prisonadvice.org.uk/): support for prisoners, people with convictions
  and their families.

This module is optional: it does not count towards completing the course.
""",
            is_required=False,
        ),
    ),
)

RP = DemoCourse(
    code="IE-RP",
    title="Restorative Practice",
    summary=(
        "The power of interactions that promote healing and growth in response to conflict: the "
        "processes, values and principles of restorative practice, in relation to restorative justice, "
        "and ways to work with service users to build relationships and prevent conflict."
    ),
    provider=PARTNER_PROVIDER,
    delivery_format=DeliveryFormat.ONLINE,
    notional_hours=3,
    audience=PARTNER_AUDIENCE,
    is_self_enrol=True,
    modules=(
        DemoModule(
            "What restorative practice is",
            20,
            """\
## Healing and growth in response to conflict

Restorative practice is about the **power of interactions that promote healing and growth in
response to conflict**. When harm has been done, a restorative response asks who has been
affected and what is needed to put things right, rather than only who is to blame and what
they deserve. When something goes wrong, it asks:

- What happened?
- Who has been affected, and how?
- What is needed to put things right, and who can help?

## Restorative justice

Restorative justice brings those harmed by crime and those responsible for the harm into
communication, so that everyone affected can play a part in repairing the harm and finding a
way forward. Restorative practice takes the same values into everyday work with prisoners,
families, colleagues and volunteers.

## Proactive, not only reactive

Restorative practice is not only for after a conflict. Most of it is **proactive**: building
relationships so that conflict is less likely, and easier to repair when it happens.

Find out more from the [Restorative Justice Council](https://restorativejustice.org.uk/).
""",
            questions=(
                _q(
                    "What does a restorative response to harm ask first?",
                    [
                        "Who is to blame, and what punishment do they deserve?",
                        "Who has been affected, and what is needed to put things right?",
                        "How can we avoid talking about it?",
                    ],
                    1,
                    "Restorative practice focuses on the harm and on repairing it.",
                ),
                _q(
                    "When is restorative practice used?",
                    [
                        "Only after a crime",
                        "Only by trained mediators in court",
                        "Both to build relationships before conflict and to respond when it happens",
                    ],
                    2,
                    "Most restorative practice is proactive: building relationships to prevent conflict.",
                ),
                _q(
                    "Whom does restorative justice bring into communication?",
                    [
                        "Those harmed by crime and those responsible for the harm",
                        "Lawyers and judges",
                        "Only the families of victims",
                    ],
                    0,
                    "Everyone affected can play a part in repairing the harm.",
                ),
            ),
            links=(("Restorative Justice Council", "https://restorativejustice.org.uk/"),),
        ),
        DemoModule(
            "Values, principles and processes",
            30,
            """\
## Values

Restorative practice rests on a small set of values:

- **Respect** for everyone involved.
- **Voluntary participation**: nobody is made to take part.
- **Impartiality**: the facilitator does not take sides.
- **Safety**: physical and emotional, for everyone in the room.
- **Accountability**: taking responsibility for harm and its effects.
- **Repair**: putting things right as far as possible, and moving on.

## Processes

From the most informal to the most formal:

1. **Affective statements**: saying how someone's behaviour affected you ("I felt worried
   when...").
2. **Restorative conversations**: a short, structured talk using the restorative questions.
3. **Circles**: a group sits together and each person speaks in turn, to build relationships
   or to respond to an issue.
4. **Restorative meetings and conferences**: a prepared, facilitated meeting of the people
   harmed, the people responsible and their supporters.

## The restorative questions

To the person who caused harm:

- What happened?
- What were you thinking about at the time?
- Who has been affected by what you did, and in what way?
- What do you think needs to happen to make things right?

To the person harmed:

- What did you think when you realised what had happened?
- What impact has it had on you and on others?
- What has been the hardest thing for you?
- What do you think needs to happen to make things right?
""",
            questions=(
                _q(
                    "Which of these is a restorative value?",
                    [
                        "Compulsory attendance",
                        "Voluntary participation",
                        "Taking the side of the person harmed",
                    ],
                    1,
                    "Nobody is made to take part in a restorative process.",
                ),
                _q(
                    "Which is the most informal restorative process?",
                    ["An affective statement", "A circle", "A restorative conference"],
                    0,
                    "An affective statement is a single sentence about how behaviour affected you.",
                ),
                _q(
                    "Which question belongs in a restorative conversation?",
                    [
                        "Why are you always like this?",
                        "Do you know what the punishment is?",
                        "Who has been affected by what you did, and in what way?",
                    ],
                    2,
                    "The restorative questions explore what happened, its effects and how to put it right.",
                ),
                _q(
                    "What does the facilitator of a restorative meeting do?",
                    [
                        "Stays impartial and keeps everyone safe",
                        "Decides who was right",
                        "Sets the punishment",
                    ],
                    0,
                    "The facilitator holds the process; the participants find the way forward.",
                ),
            ),
        ),
        DemoModule(
            "Restorative practice in our work",
            25,
            """\
## With service users

- Start visits and groups with a short **check-in**.
- Use **affective statements** as well as rules: "When the queue got loud, I noticed the
  children got upset."
- When something goes wrong in a visits hall or a group, have a **restorative conversation**
  with those involved before reaching for sanctions.

## With families

Imprisonment harms relationships: between partners, between parents and children, between
the person in prison and the wider family. Restorative conversations give family members a
safe way to say how they have been affected and what they need, and give the person in
prison a way to listen and take responsibility.

## With colleagues

Use circles for team meetings, and restorative conversations after conflict between
colleagues. The same values apply to how we treat each other.

## Know your limits

Formal restorative justice meetings between victims and offenders need specially trained
facilitators and careful preparation. If someone asks about one, refer them on rather than
arranging it yourself.
""",
        ),
        DemoModule(
            "Practice scenarios",
            20,
            """\
## Scenario 1: the late visit

A mother arrives with two children, twenty minutes late for a visit because her bus was
delayed, and is told that the visit will be cut short. She shouts at the officer at the gate.

Think about:

- who has been affected, and how;
- what an affective statement to her might sound like;
- what could be put right, today and next time.

## Scenario 2: a disagreement between volunteers

Two volunteers in the visitors' centre disagree about how to run the play area, and one of
them has stopped coming to shifts.

Think about:

- how a restorative conversation with each of them could start;
- whether a short meeting of both, with a facilitator, would help;
- how a regular team check-in might have prevented it.
""",
            questions=(
                _q(
                    "In scenario 1, which response is restorative?",
                    [
                        '"Shouting won\'t get you anywhere. Next, please."',
                        "\"I can see how upsetting this is. Let's talk about what happened and what we "
                        'can sort out."',
                        "Ignore her until she calms down",
                    ],
                    1,
                    "Acknowledging the effect and looking for what can be put right opens a way forward.",
                ),
                _q(
                    "In scenario 2, what is a good first step?",
                    [
                        "Take both volunteers off the rota",
                        "Decide who is right and tell the other",
                        "Talk with each volunteer separately, using the restorative questions",
                    ],
                    2,
                    "Preparing each person separately comes before any joint meeting.",
                ),
                _q(
                    "What prevents many conflicts in a team?",
                    [
                        "Regular check-ins and circles that build relationships",
                        "Strict rules and sanctions",
                        "Avoiding team meetings",
                    ],
                    0,
                    "Proactive relationship-building is most of restorative practice.",
                ),
            ),
        ),
    ),
)

FGC = DemoCourse(
    code="IE-FGC",
    title="Family Group Conferencing",
    summary=(
        "Builds on Restorative Practice, offering theory and structure to complement practical skills "
        "training: preparing staff and volunteers to hold family meetings, and to help families address "
        "current issues and challenges so that they can move forward together."
    ),
    provider=PARTNER_PROVIDER,
    delivery_format=DeliveryFormat.ONLINE,
    notional_hours=4,
    audience=PARTNER_AUDIENCE,
    is_self_enrol=True,
    prerequisites=("IE-RP",),
    modules=(
        DemoModule(
            "Building on restorative practice",
            20,
            """\
## From restorative practice to family group conferencing

Family Group Conferencing builds on *Restorative Practice*. Where that course gave you the
values and everyday skills, this one offers the **theory and structure** of a family meeting,
to complement practical skills training.

## What a family group conference is

A family group conference (FGC) is a meeting in which a family and its wider network
(relatives, friends and others who matter to them) come together to **make a plan** about a
current issue or challenge. It starts from the belief that families know themselves best and,
with the right information and support, can find their own solutions.

## Why it fits our work

Imprisonment puts families under strain:

- who looks after the children, and how they keep in touch with their parent;
- housing and money, often with one income gone;
- visits, calls and letters;
- later, resettlement, when the family member comes home.

A family group conference helps families **address current issues and challenges so that
they can move forward together**, and it can include the family member in prison.

Read more about family group conferences from [Family Rights Group](https://frg.org.uk/).
""",
            questions=(
                _q(
                    "Who makes the plan in a family group conference?",
                    ["The coordinator", "The family and its network", "The professionals"],
                    1,
                    "The family and the people who matter to them make the plan.",
                ),
                _q(
                    "Which course does Family Group Conferencing build on?",
                    ["Trauma Informed Practice", "Restorative Practice", "M-PACT practitioner training"],
                    1,
                    "It builds on Restorative Practice, which you complete first.",
                ),
                _q(
                    "A family group conference starts from the belief that...",
                    [
                        "families know themselves best and, with information and support, can find their "
                        "own solutions",
                        "professionals know best what a family needs",
                        "families in difficulty cannot make plans",
                    ],
                    0,
                    "Families lead; professionals inform and support.",
                ),
            ),
            links=(("Family Rights Group", "https://frg.org.uk/"),),
        ),
        DemoModule(
            "Preparing for a family meeting",
            30,
            """\
## The coordinator

An independent coordinator organises the meeting. Independence matters: the coordinator does
not make decisions about the family and is not their case worker.

## Preparation is most of the work

- **Agree the purpose**: the question the family will be asked to plan for, in plain words.
- **Who comes**: ask the family who their network is, widely: grandparents, aunts and uncles,
  friends, neighbours, faith or community contacts.
- **Meet everyone beforehand**: explain what will happen, hear worries, and agree how to keep
  the meeting safe.
- **Children and young people**: help them take part in a way that suits them: in person,
  with a supporter or advocate, or through a letter or a drawing.
- **The family member in prison**: find out with the prison how they can take part, and plan
  around visiting and call times.
- **Practicalities**: a neutral venue, a date and time that suit the family, food, travel and
  childcare.
""",
        ),
        DemoModule(
            "The meeting: three stages",
            30,
            """\
## 1. Information sharing

Professionals share what the family needs to know to make a plan: what they are worried
about, what support is available, and any bottom lines (for example, what must be in place to
keep a child safe). Family members ask questions.

## 2. Private family time

The professionals, and usually the coordinator, leave the room. The family and its network
talk on their own and write their plan. This is what makes a family group conference
different from a professionals' meeting.

## 3. Agreeing the plan

The coordinator and the professionals come back. The family presents its plan, which is
agreed unless it would leave someone unsafe. Everyone knows who will do what, by when, and
how the plan will be reviewed.

| Stage | Who is in the room | What comes out |
|---|---|---|
| Information sharing | family, network, professionals, coordinator | a shared picture of the issue |
| Private family time | the family and its network | the family's plan |
| Agreeing the plan | everyone | an agreed plan, with support in place |
""",
            questions=(
                _q(
                    "What happens in private family time?",
                    [
                        "The professionals decide the plan",
                        "The family and its network talk on their own and write their plan",
                        "The coordinator interviews each family member",
                    ],
                    1,
                    "Private family time is the heart of the model.",
                ),
                _q(
                    "When can a family's plan be refused?",
                    [
                        "When the professionals would have done it differently",
                        "Never",
                        "When it would leave someone unsafe",
                    ],
                    2,
                    "A plan is agreed unless it would leave someone unsafe.",
                ),
                _q(
                    "What do professionals share in the first stage?",
                    [
                        "Their worries, the support available and any bottom lines",
                        "Their own plan for the family",
                        "Nothing: they only listen",
                    ],
                    0,
                    "The family needs this information to make a workable plan.",
                ),
                _q(
                    "What is the coordinator's role?",
                    [
                        "To decide what is best for the family",
                        "To organise and prepare the meeting independently, without deciding for the family",
                        "To act as the family's case worker",
                    ],
                    1,
                    "The coordinator's independence is what lets families trust the process.",
                ),
            ),
        ),
        DemoModule(
            "Moving forward together",
            20,
            """\
## After the meeting

- Send everyone a copy of the plan, in plain words.
- Make sure that the support the professionals promised arrives when it should.
- Keep in touch with the family member in prison, and with the prison, about their part of
  the plan.

## Reviewing the plan

Agree a review meeting at the first conference. At the review, the family looks at what has
worked, what has not and what needs to change; it may make a new plan.

## Reflection

What would you change in how you work now to make room for families to make their own plans?
""",
        ),
    ),
)

DEMO_COURSES = (MPACT, RP, TIP, FGC)

#: Staff of the demo org manager's organisation on the practitioner programme:
#: ``(email, name, modules completed on M-PACT, completed Trauma Informed Practice)``.
#: Nobody completes M-PACT here: its completion also needs the assignment (assessments area).
DEMO_STAFF = (
    ("aoife.brennan@example.org", "Aoife Brennan", 6, True),
    ("declan.murray@example.org", "Declan Murray", 4, True),
    ("niamh.kelly@example.org", "Niamh Kelly", 2, False),
    ("ciaran.doyle@example.org", "Ciarán Doyle", 0, False),
)
DEMO_TRAINEE = "trainee@example.org"
DEMO_MANAGER = "manager@example.org"
DEMO_ASSESSOR = "assessor@example.org"
DEMO_ADMIN = "admin@example.org"


def seed(report) -> None:
    """Create the demo courses, cohorts, staff, enrolments and progress that are missing."""
    people = {u.email: u for u in db.session.scalars(select(User).where(User.email.like("%@example.org")))}
    admin = people.get(DEMO_ADMIN)
    organisations = {o.name: o for o in db.session.scalars(select(Organisation))}
    courses: dict[str, Course | None] = {}
    for spec in DEMO_COURSES:
        course = services.get_course_by_code(spec.code)
        if course is None:
            # Cohorts come with a new course only: an existing one is the admins' to change.
            course = _create_course(report, admin, spec, organisations)
            if course is not None and spec is MPACT:
                _create_cohorts(report, admin, course, people.get(DEMO_ASSESSOR))
        courses[spec.code] = course
    db.session.flush()
    _seed_learning(report, admin, people, courses)


def _create_course(report, admin, spec: DemoCourse, organisations: dict[str, Organisation]) -> Course | None:
    """A demo course with its modules, knowledge checks and links; ``None`` if its provider is gone."""
    provider = organisations.get(spec.provider)
    if provider is None:
        return None
    data = {
        "code": spec.code,
        "title": spec.title,
        "summary": spec.summary,
        "provider_id": provider.id,
        "delivery_format": spec.delivery_format,
        "notional_hours": spec.notional_hours,
        "audience": spec.audience,
        "status": CourseStatus.PUBLISHED,
        "is_self_enrol": spec.is_self_enrol,
    }
    required = [services.get_course_by_code(code) for code in spec.prerequisites]
    if required and all(required):
        data["prerequisite_ids"] = [c.id for c in required]
    if spec.credits and spec.credits[0] in organisations:
        body, credits, level = spec.credits
        data["credits"] = {"awarding_body_id": organisations[body].id, "credits": credits, "level": level}
    course = services.save_course(admin, None, data)
    report.add("courses")
    for module_spec in spec.modules:
        module = services.save_module(
            admin,
            course,
            None,
            {
                "title": module_spec.title,
                "content": module_spec.content,
                "estimated_minutes": module_spec.minutes,
                "is_required": module_spec.is_required,
            },
        )
        report.add("modules")
        for title, url in module_spec.links:
            services.save_resource(module, title=title, url=url)
        if module_spec.questions:
            services.save_knowledge_check(admin, module, 75, list(module_spec.questions))
            report.add("knowledge checks")
    return course


def _create_cohorts(report, admin, course: Course, assessor: User | None) -> None:
    """Two runs of the practitioner programme: one under way at a venue, one online later on."""
    today = services.today()
    started = today - dt.timedelta(days=28)
    later = today + dt.timedelta(days=35)
    facilitators = [assessor.id] if assessor else []
    runs = (
        {
            "name": f"{started:%B %Y}, Birmingham (blended)",
            "starts_on": started,
            "ends_on": started + dt.timedelta(days=84),
            "delivery_format": DeliveryFormat.BLENDED,
            "location": "Birmingham city centre (venue details are sent with the joining instructions)",
            "capacity": 16,
            "has_waiting_list": True,
            "enrolment_opens_on": started - dt.timedelta(days=70),
            "enrolment_closes_on": started + dt.timedelta(days=7),
        },
        {
            "name": f"{later:%B %Y}, online",
            "starts_on": later,
            "ends_on": later + dt.timedelta(days=70),
            "delivery_format": DeliveryFormat.ONLINE,
            "location": "",
            "capacity": 20,
            "has_waiting_list": True,
            "enrolment_opens_on": today - dt.timedelta(days=7),
            "enrolment_closes_on": later - dt.timedelta(days=7),
        },
    )
    for data in runs:
        services.save_cohort(admin, course, None, data, facilitator_ids=facilitators)
        report.add("cohorts")


def _seed_learning(report, admin, people: dict[str, User], courses: dict[str, Course | None]) -> None:
    """The demo trainee's and the org manager's staff's enrolments and progress."""
    trainee = people.get(DEMO_TRAINEE)
    rp, tip, mpact = courses.get("IE-RP"), courses.get("IE-TIP"), courses.get(MPACT_CODE)
    if trainee is not None:
        # Restorative Practice completed, so that Family Group Conferencing is open to the trainee.
        _study_course(report, trainee, trainee, rp, completed=None)
        _study_course(report, trainee, trainee, tip, completed=1, open_next=True)

    manager = people.get(DEMO_MANAGER)
    if manager is None or manager.organisation_id is None:
        return
    cohort = None
    if mpact is not None:
        cohort = db.session.scalar(
            select(Cohort).where(Cohort.course_id == mpact.id).order_by(Cohort.starts_on, Cohort.id).limit(1)
        )
    for email, name, done, finished_tip in DEMO_STAFF:
        person = people.get(email) or _create_staff(report, admin, email, name, manager.organisation_id)
        _study_course(report, manager, person, mpact, cohort=cohort, completed=done, open_next=done > 0)
        if finished_tip:
            _study_course(report, person, person, tip, completed=None)


def _create_staff(report, admin, email: str, name: str, organisation_id: int) -> User:
    from lms.accounts import services as accounts
    from lms.demo.seed import DEMO_PASSWORD

    person = accounts.create_user(
        admin,
        email=email,
        name=name,
        roles={Role.TRAINEE},
        password=DEMO_PASSWORD,
        organisation_id=organisation_id,
    )
    report.add("users")
    return person


def _study_course(
    report,
    actor,
    trainee: User,
    course: Course | None,
    *,
    cohort: Cohort | None = None,
    completed: int | None,
    open_next: bool = False,
) -> None:
    """Enrol ``trainee`` (unless enrolled already) and work through modules as they would.

    ``completed`` modules are opened and completed in order (``None``: every required one),
    knowledge checks by answering them correctly; ``open_next`` then opens the next module.
    Anything the services refuse (an admin unpublished the course, say) is skipped.
    """
    if course is None or services.own_enrolment(trainee, course) is not None:
        return
    done = 0
    try:
        with db.session.begin_nested():
            enrolment = services.enrol(actor, trainee, course, cohort)
            modules = services.active_modules([course.id])[course.id]
            todo = [m for m in modules if m.is_required] if completed is None else modules[:completed]
            checks = services.knowledge_checks_for([m.id for m in modules])
            for module in todo:
                services.open_module(trainee, enrolment, module)
                check = checks.get(module.id)
                if check is None:
                    services.complete_module(trainee, enrolment, module)
                else:
                    answers = {q.id: next(o.id for o in q.options if o.is_correct) for q in check.questions}
                    services.submit_knowledge_check(trainee, enrolment, module, answers)
                done += 1
            following = [m for m in modules if m not in todo]
            if open_next and following:
                services.open_module(trainee, enrolment, following[0])
    except DomainError:
        return
    report.add("enrolments")
    if done:
        report.add("modules completed", done)
    if enrolment.status == EnrolmentStatus.COMPLETED:
        report.add("courses completed")


# =========================================================================================
# generate: the courses part of the benchmark data set
# =========================================================================================

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
DAY = dt.timedelta(days=1)


def _at(day: dt.date) -> dt.datetime:
    """Nine in the morning (UTC) on ``day``."""
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def _course_code(title: str, number: int) -> str:
    initials = "".join(word[0] for word in title.replace("-", " ").split() if word[0].isalpha()).upper()
    return f"{initials[:6]}-{number:03d}"


def generate_courses(ctx) -> None:
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


def _generate_modules(ctx, courses: list[dict]) -> None:
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


def _generate_checks(ctx, checks: list[tuple[int, int, list[tuple]]]) -> None:
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


def generate_cohorts(ctx) -> None:
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
                    "created_at": _at(opens_on) - dt.timedelta(days=rng.randint(1, 30)),
                }
            )
            ctx.ids.setdefault("cohorts.cohort", []).append(cohort_id)
            chosen = rng.sample(assessors, min(len(assessors), rng.choice((1, 1, 2))))
            facilitators += [{"cohort_id": cohort_id, "user_id": user_id} for user_id in chosen]
    ctx.insert(Cohort.__table__, cohorts, total=len(cohorts))
    ctx.insert(cohort_facilitators, facilitators, total=len(facilitators))


@dataclass(slots=True)
class _Plan:
    """One generated enrolment before it becomes rows."""

    user_id: int
    course_id: int
    cohort_id: int
    enrolled_at: dt.datetime
    #: When the trainee could start: the later of enrolment and the cohort's start.
    starts_at: dt.datetime
    #: The end of the cohort's completion window.
    closes_at: dt.datetime
    status: EnrolmentStatus = EnrolmentStatus.ACTIVE
    completed_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None
    id: int = 0
    #: Progress rows: for the first ``rows`` modules of the course, in order.
    rows: int = 0
    last_at: dt.datetime | None = None


@dataclass
class _Catalogue:
    """What the enrolments step reads back from the earlier steps' tables."""

    modules: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)
    #: Per course: ``(cohort id, starts at, ends at, enrolment opens at)``, as datetimes.
    cohorts: dict[int, list[tuple[int, dt.datetime, dt.datetime, dt.datetime]]] = field(default_factory=dict)
    prerequisites: dict[int, list[int]] = field(default_factory=dict)
    self_enrol: dict[int, bool] = field(default_factory=dict)
    #: Per knowledge check id: passing ``(answers, score)`` pairs and one failing pair.
    checks: dict[int, tuple] = field(default_factory=dict)
    check_of_module: dict[int, int] = field(default_factory=dict)


def _read_catalogue(ctx, course_ids: list[int], *, with_checks: bool = False) -> _Catalogue:
    """Modules, cohorts, prerequisites and (``with_checks``) knowledge checks of the courses."""
    session = ctx.session
    cat = _Catalogue(
        modules={cid: [] for cid in course_ids},
        cohorts={cid: [] for cid in course_ids},
    )
    for course_id, is_self_enrol in session.execute(
        select(Course.id, Course.is_self_enrol).where(Course.id.in_(course_ids))
    ):
        cat.self_enrol[course_id] = is_self_enrol
    for module_id, course_id, is_required in session.execute(
        select(Module.id, Module.course_id, Module.is_required)
        .where(Module.course_id.in_(course_ids), Module.is_retired.is_(False))
        .order_by(Module.course_id, Module.position, Module.id)
    ):
        cat.modules[course_id].append((module_id, is_required))
    for row in session.execute(
        select(Cohort.id, Cohort.course_id, Cohort.starts_on, Cohort.ends_on, Cohort.enrolment_opens_on)
        .where(Cohort.course_id.in_(course_ids))
        .order_by(Cohort.id)
    ):
        opens_on = row.enrolment_opens_on or row.starts_on - dt.timedelta(days=42)
        cat.cohorts[row.course_id].append((row.id, _at(row.starts_on), _at(row.ends_on), _at(opens_on)))
    for course_id, required_id in session.execute(select(course_prerequisites)):
        cat.prerequisites.setdefault(course_id, []).append(required_id)
    if with_checks:
        _read_checks(session, cat)
    return cat


def _read_checks(session, cat: _Catalogue) -> None:
    """Answer sets for each knowledge check, to make attempts from."""
    options: dict[int, list[tuple[int, bool]]] = {}
    for option_id, question_id, is_correct in session.execute(
        select(Option.id, Option.question_id, Option.is_correct).order_by(Option.question_id, Option.position)
    ):
        options.setdefault(question_id, []).append((option_id, is_correct))
    questions: dict[int, list[int]] = {}
    for question_id, check_id in session.execute(
        select(Question.id, Question.check_id).order_by(Question.check_id, Question.position)
    ):
        questions.setdefault(check_id, []).append(question_id)
    for check_id, module_id, pass_mark in session.execute(
        select(KnowledgeCheck.id, KnowledgeCheck.module_id, KnowledgeCheck.pass_mark)
    ):
        asked = questions.get(check_id, [])
        n = len(asked)
        if not n:
            continue
        right = {q: next(o for o, ok in options[q] if ok) for q in asked}
        wrong = {q: next(o for o, ok in options[q] if not ok) for q in asked}
        # Passing attempts: all right, or the first wrong when that still passes.
        passing = [({str(q): right[q] for q in asked}, 100)]
        one_wrong = round(100 * (n - 1) / n)
        if one_wrong >= pass_mark:
            passing.append(
                ({str(q): (wrong if i == 0 else right)[q] for i, q in enumerate(asked)}, one_wrong)
            )
        # A failing attempt: as many right as possible while staying under the pass mark.
        n_right = max(c for c in range(n + 1) if round(100 * c / n) < pass_mark)
        failing = (
            {str(q): (right if i < n_right else wrong)[q] for i, q in enumerate(asked)},
            round(100 * n_right / n),
        )
        cat.checks[check_id] = (passing, failing)
        cat.check_of_module[module_id] = check_id


#: Completion grows with the time a trainee has had, up to this share (see ``_plan_one``).
COMPLETION_CAP = 0.6
#: Days after which the share of completions reaches ``COMPLETION_CAP``.
COMPLETION_DAYS = 600
WITHDRAWN_SHARE = 0.1


def generate_enrolments(ctx) -> None:
    """Enrolments, and each cohort's places taken and capacity.

    Enrolments are mostly active, some completed, some withdrawn; completions on credit-bearing
    courses number at least ``size.credit_awards``, for the credits step. How far each trainee
    got is decided here too (``last_module_id``): the progress step fills in the rows.
    """
    course_ids = ctx.ids.get("courses.course", [])
    trainees = ctx.ids.get("users.trainee", [])
    if not course_ids or not trainees:
        return
    cat = _read_catalogue(ctx, course_ids)
    plans = _plan_enrolments(ctx, cat, course_ids, trainees)
    _ensure_credited_completions(ctx, plans)
    plans.sort(key=lambda p: (p.enrolled_at, p.user_id, p.course_id))
    for plan, enrolment_id in zip(plans, ctx.allocate_ids(Enrolment.__table__, len(plans)), strict=True):
        plan.id = enrolment_id
    _plan_progress(ctx, cat, plans)
    ctx.insert(Enrolment.__table__, _enrolment_rows(ctx, cat, plans), total=len(plans))
    _count_places(ctx, cat, plans)

    credited = set(ctx.ids.get("courses.credited", []))
    for plan in plans:
        ctx.ids.setdefault("enrolments.enrolment", []).append(plan.id)
        ctx.ids.setdefault(f"enrolments.{plan.status.value}", []).append(plan.id)
        if plan.course_id in credited:
            ctx.ids.setdefault("enrolments.credited", []).append(plan.id)
            if plan.status == EnrolmentStatus.COMPLETED:
                ctx.ids.setdefault("enrolments.completed.credited", []).append(plan.id)


def generate_progress(ctx) -> None:
    """Module progress up to each enrolment's last module, and knowledge-check attempts.

    Reads the enrolments back: an enrolment's rows are its course's modules up to
    ``last_module_id``, so the enrolments step's plan is all in the ``enrolments`` table.
    """
    course_ids = ctx.ids.get("courses.course", [])
    if not course_ids:
        return
    cat = _read_catalogue(ctx, course_ids, with_checks=True)
    position = {m: i for modules in cat.modules.values() for i, (m, _required) in enumerate(modules)}
    plans = []
    for row in ctx.session.execute(
        select(
            Enrolment.id,
            Enrolment.user_id,
            Enrolment.course_id,
            Enrolment.cohort_id,
            Enrolment.status,
            Enrolment.enrolled_at,
            Enrolment.completed_at,
            Enrolment.withdrawn_at,
            Enrolment.last_module_id,
            Enrolment.last_activity_at,
            Cohort.starts_on,
        )
        .join(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(Enrolment.last_module_id.is_not(None))
        .order_by(Enrolment.id)
    ):
        plan = _Plan(
            row.user_id,
            row.course_id,
            row.cohort_id,
            row.enrolled_at,
            max(row.enrolled_at, _at(row.starts_on)),
            ctx.now,
            status=row.status,
            completed_at=row.completed_at,
            withdrawn_at=row.withdrawn_at,
            id=row.id,
            rows=position[row.last_module_id] + 1,
            last_at=row.last_activity_at,
        )
        plans.append(plan)
    total = sum(plan.rows for plan in plans)
    attempts: list[dict] = []
    ctx.insert(ModuleProgress.__table__, _progress_rows(ctx, cat, plans, attempts, total), total=total)
    for attempt, attempt_id in zip(
        attempts, ctx.allocate_ids(CheckAttempt.__table__, len(attempts)), strict=True
    ):
        attempt["id"] = attempt_id
    ctx.insert(CheckAttempt.__table__, attempts, total=len(attempts))


def _prerequisites_first(course_ids: list[int], prerequisites: dict[int, list[int]]) -> list[int]:
    """Courses ordered so that each comes after the courses it requires."""
    ordered: list[int] = []
    placed: set[int] = set()
    pending = list(course_ids)
    while pending:
        ready = [
            c for c in pending if all(r in placed or r not in course_ids for r in prerequisites.get(c, []))
        ]
        if not ready:
            raise ValueError("the generated prerequisites form a circle")
        ordered += ready
        placed.update(ready)
        pending = [c for c in pending if c not in placed]
    return ordered


def _plan_enrolments(ctx, cat: _Catalogue, course_ids: list[int], trainees: list[int]) -> list[_Plan]:
    """``size.enrolments`` distinct (trainee, course) pairs.

    A course with prerequisites only takes trainees who completed them, after they did.
    """
    size, rng = ctx.size, ctx.rng
    credited = set(ctx.ids.get("courses.credited", []))
    weight = {c: 1 if cat.prerequisites.get(c) else (3 if c in credited else 2) for c in course_ids}
    total_weight = sum(weight.values())
    plans: list[_Plan] = []
    taken: dict[int, set[int]] = {c: set() for c in course_ids}
    completions: dict[int, dict[int, dt.datetime]] = {c: {} for c in course_ids}
    for course_id in _prerequisites_first(course_ids, cat.prerequisites):
        target = min(len(trainees), size.enrolments * weight[course_id] // total_weight)
        required = cat.prerequisites.get(course_id, [])
        if required:
            candidates = sorted(set.intersection(*(set(completions[r]) for r in required)))
            rng.shuffle(candidates)
        else:
            candidates = rng.sample(trainees, target)
        for user_id in candidates:
            if len(taken[course_id]) == target:
                break
            not_before = max((completions[r][user_id] for r in required), default=None)
            plan = _plan_one(ctx, cat, course_id, user_id, not_before)
            if plan is not None:
                plans.append(plan)
                taken[course_id].add(user_id)
                if plan.status == EnrolmentStatus.COMPLETED:
                    completions[course_id][user_id] = plan.completed_at
    shortfall = size.enrolments - len(plans)
    if shortfall > 0:
        # Courses with prerequisites took fewer than their share: the others take the rest.
        open_courses = [c for c in course_ids if not cat.prerequisites.get(c) and cat.cohorts[c]]
        pool = [(c, u) for c in open_courses for u in trainees if u not in taken[c]]
        if len(pool) < shortfall:
            raise ValueError(
                f"size {size.name}: not enough trainee-course pairs for {size.enrolments} enrolments"
            )
        plans += [_plan_one(ctx, cat, c, u, None) for c, u in rng.sample(pool, shortfall)]
    return plans


def _plan_one(
    ctx, cat: _Catalogue, course_id: int, user_id: int, not_before: dt.datetime | None
) -> _Plan | None:
    """One enrolment in a cohort of the course; ``None`` if no cohort is open after ``not_before``."""
    rng, now = ctx.rng, ctx.now
    cohorts = cat.cohorts[course_id]
    if not_before is not None:
        cohorts = [c for c in cohorts if c[2] > not_before + DAY]
    if not cohorts:
        return None
    cohort_id, cohort_starts, cohort_ends, low = rng.choice(cohorts)
    closes = min(cohort_ends, now)
    if not_before is not None:
        low = max(low, not_before + DAY)
    if low >= closes:
        return None
    enrolled_at = low + (closes - low) * rng.random()
    starts_at = max(enrolled_at, cohort_starts)
    plan = _Plan(user_id, course_id, cohort_id, enrolled_at, starts_at, min(now, cohort_ends + 60 * DAY))
    draw = rng.random()
    share = min(COMPLETION_CAP, max(0, (now - starts_at).days) / COMPLETION_DAYS)
    if draw < share:
        _complete(rng, plan)
    elif draw < share + WITHDRAWN_SHARE:
        plan.status = EnrolmentStatus.WITHDRAWN
        plan.withdrawn_at = enrolled_at + (now - enrolled_at) * rng.random()
    return plan


def _complete(rng, plan: _Plan) -> bool:
    """Make ``plan`` completed at a time in its completion window, if it has one."""
    earliest = plan.starts_at + DAY
    if earliest >= plan.closes_at:
        return False
    plan.status = EnrolmentStatus.COMPLETED
    plan.completed_at = earliest + (plan.closes_at - earliest) * rng.random()
    return True


def _ensure_credited_completions(ctx, plans: list[_Plan]) -> None:
    """At least ``size.credit_awards`` completions on credit-bearing courses, for the credits step."""
    credited = set(ctx.ids.get("courses.credited", []))
    need = ctx.size.credit_awards - sum(
        1 for p in plans if p.course_id in credited and p.status == EnrolmentStatus.COMPLETED
    )
    if need <= 0 or not credited:
        return
    candidates = [
        p
        for p in plans
        if p.course_id in credited and p.status == EnrolmentStatus.ACTIVE and p.starts_at + DAY < p.closes_at
    ]
    if len(candidates) < need:
        raise ValueError(f"size {ctx.size.name}: too few enrolments on credit-bearing courses to complete")
    for plan in ctx.rng.sample(candidates, need):
        _complete(ctx.rng, plan)


def _window(plan: _Plan, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """When the trainee studied: from the start until completion, withdrawal or now."""
    end = plan.completed_at or plan.withdrawn_at or now
    return (plan.starts_at if plan.starts_at < end else plan.enrolled_at), end


def _last_required(modules: list[tuple[int, bool]]) -> int:
    """Index of the last required module (``-1`` if none)."""
    return max((i for i, (_m, is_required) in enumerate(modules) if is_required), default=-1)


def _plan_progress(ctx, cat: _Catalogue, plans: list[_Plan]) -> None:
    """How many progress rows each enrolment gets, ``size.module_progress`` in all.

    Completed enrolments get every required module; the rest are spread at random, at most
    one row per module, and a trainee works through the modules in order.
    """
    rng, now, total = ctx.rng, ctx.now, ctx.size.module_progress
    floors, room = [], []
    for plan in plans:
        modules = cat.modules[plan.course_id]
        start, end = _window(plan, now)
        floor = _last_required(modules) + 1 if plan.status == EnrolmentStatus.COMPLETED else 0
        floors.append(floor)
        room.append(len(modules) - floor if start < end or floor else 0)
    need = total - sum(floors)
    if need < 0 or need > sum(room):
        raise ValueError(
            f"size {ctx.size.name}: {total:,} progress rows do not fit "
            f"({sum(floors):,} to {sum(floors) + sum(room):,} possible)"
        )
    weights = [rng.random() * r for r in room]
    scale = need / sum(weights) if need else 0
    extra = [min(r, math.floor(w * scale)) for w, r in zip(weights, room, strict=True)]
    left = need - sum(extra)
    if left:
        spare = [r - e for r, e in zip(room, extra, strict=True)]
        ends, running = [], 0
        for s in spare:
            running += s
            ends.append(running)
        for slot in rng.sample(range(running), left):
            extra[bisect.bisect_right(ends, slot)] += 1
    for plan, floor, more in zip(plans, floors, extra, strict=True):
        plan.rows = floor + more
        if plan.rows:
            start, end = _window(plan, now)
            plan.last_at = plan.completed_at or start + (end - start) * math.sqrt(rng.random())


def _enrolment_rows(ctx, cat: _Catalogue, plans: list[_Plan]):
    """``enrolments`` rows; others are enrolled by their org manager (or an admin) unless self-enrol."""
    session = ctx.session
    managers: dict[int, int] = {}
    for user_id, organisation_id in session.execute(
        select(User.id, User.organisation_id)
        .join(UserRole)
        .where(UserRole.role == Role.ORG_MANAGER)
        .order_by(User.id)
    ):
        managers.setdefault(organisation_id, user_id)
    organisation_of = dict(
        session.execute(
            select(User.id, User.organisation_id).join(UserRole).where(UserRole.role == Role.TRAINEE)
        ).all()
    )
    admins = ctx.ids.get("users.admin", [])
    fallback = admins[0] if admins else None
    for plan in plans:
        modules = cat.modules[plan.course_id]
        if cat.self_enrol.get(plan.course_id):
            enrolled_by = plan.user_id
        else:
            enrolled_by = managers.get(organisation_of.get(plan.user_id), fallback)
        yield {
            "id": plan.id,
            "user_id": plan.user_id,
            "course_id": plan.course_id,
            "cohort_id": plan.cohort_id,
            "status": plan.status,
            "enrolled_at": plan.enrolled_at,
            "enrolled_by_id": enrolled_by,
            "completed_at": plan.completed_at,
            "withdrawn_at": plan.withdrawn_at,
            "last_module_id": modules[plan.rows - 1][0] if plan.rows else None,
            "last_activity_at": plan.last_at,
        }


def _progress_rows(ctx, cat: _Catalogue, plans: list[_Plan], attempts: list[dict], total: int):
    """``module_progress`` rows, in order of modules; collects knowledge-check attempts on the way.

    A completed enrolment has every required module complete, the last one at the moment of
    completion. Any other has at least one required module unfinished (otherwise it would be
    completed); its last row is the module the trainee is on.
    """
    rng, now = ctx.rng, ctx.now
    ids = iter(ctx.allocate_ids(ModuleProgress.__table__, total))
    for plan in plans:
        k = plan.rows
        if not k:
            continue
        modules = cat.modules[plan.course_id]
        start, _end = _window(plan, now)
        last = plan.last_at
        is_completed = plan.status == EnrolmentStatus.COMPLETED
        draws = k if is_completed else k - 1
        times = sorted(start + (last - start) * rng.random() for _ in range(draws))
        if not is_completed:
            times.append(last)
        last_required = _last_required(modules)
        blocked = last_required if not is_completed and k > last_required else None
        for j in range(k):
            module_id, is_required = modules[j]
            opened = times[j]
            following = times[j + 1] if j + 1 < k else last
            if is_completed and j == last_required:
                done_at = plan.completed_at
            elif (is_completed or (j < k - 1 and j != blocked)) and (is_required or rng.random() < 0.5):
                done_at = opened + (following - opened) * rng.random()
            else:
                done_at = None
            yield {
                "id": next(ids),
                "enrolment_id": plan.id,
                "module_id": module_id,
                "opened_at": opened,
                "completed_at": done_at,
            }
            check_id = cat.check_of_module.get(module_id)
            if check_id is not None:
                _add_attempts(rng, cat, attempts, check_id, plan.id, opened, following, done_at)


def _add_attempts(rng, cat, attempts, check_id, enrolment_id, opened, following, done_at) -> None:
    """Attempts at a check: a pass when the module is complete (maybe after a fail), else maybe a fail."""
    passing, failing = cat.checks[check_id]

    def attempt(answers_score, at, is_passed):
        answers, score = answers_score
        attempts.append(
            {
                "check_id": check_id,
                "enrolment_id": enrolment_id,
                "answers": answers,
                "score": score,
                "is_passed": is_passed,
                "created_at": at,
            }
        )

    if done_at is not None:
        if rng.random() < 0.2:
            attempt(failing, opened + (done_at - opened) / 2, False)
        attempt(rng.choice(passing), done_at, True)
    elif rng.random() < 0.3:
        attempt(failing, opened + (following - opened) * rng.random(), False)


def _count_places(ctx, cat: _Catalogue, plans: list[_Plan]) -> None:
    """Set each cohort's ``seats_taken`` (active and completed enrolments) and a capacity that fits."""
    rng = ctx.rng
    seats: dict[int, int] = {}
    for plan in plans:
        if plan.status in (EnrolmentStatus.ACTIVE, EnrolmentStatus.COMPLETED):
            seats[plan.cohort_id] = seats.get(plan.cohort_id, 0) + 1
    rows = []
    for cohorts in cat.cohorts.values():
        for cohort_id, *_dates in cohorts:
            taken = seats.get(cohort_id, 0)
            capacity = None if rng.random() < 0.3 else max(1, taken + rng.choice((0, 0, 1, 2, 4, 8, 12)))
            rows.append({"b_id": cohort_id, "b_seats": taken, "b_capacity": capacity})
    table = Cohort.__table__
    if rows:
        ctx.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(seats_taken=sa.bindparam("b_seats"), capacity=sa.bindparam("b_capacity")),
            rows,
        )
