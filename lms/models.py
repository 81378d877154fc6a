"""Every model, imported in one place so that the metadata (and Alembic) sees all tables."""

from lms.accounts.models import ApiToken, User, UserRole, UserSession
from lms.assessments.models import (
    Assignment,
    Criterion,
    Extension,
    GradeChange,
    Level,
    Mark,
    MarkScore,
    Moderation,
    Participant,
    SchemeVersion,
    Submission,
    SubmissionFile,
)
from lms.audit import AuditEntry
from lms.courses.models import (
    CheckAttempt,
    Cohort,
    Course,
    CreditRule,
    Enrolment,
    KnowledgeCheck,
    Module,
    ModuleProgress,
    ModuleResource,
    Option,
    Question,
)
from lms.jobs.models import JobRequest, JobRun, SchedulerLease
from lms.mail import OutboundEmail
from lms.notifications.models import Notification, NotificationPreference
from lms.organisations.models import Organisation
from lms.storage.models import StoredBlob, StoredFile

__all__ = [
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "CheckAttempt",
    "Cohort",
    "Course",
    "CreditRule",
    "Criterion",
    "Enrolment",
    "Extension",
    "GradeChange",
    "JobRequest",
    "JobRun",
    "KnowledgeCheck",
    "Level",
    "Mark",
    "MarkScore",
    "Moderation",
    "Module",
    "ModuleProgress",
    "ModuleResource",
    "Notification",
    "NotificationPreference",
    "Option",
    "Organisation",
    "OutboundEmail",
    "Participant",
    "Question",
    "SchedulerLease",
    "SchemeVersion",
    "StoredBlob",
    "StoredFile",
    "Submission",
    "SubmissionFile",
    "User",
    "UserRole",
    "UserSession",
]
