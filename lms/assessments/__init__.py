"""Assessments: assignments, submissions, rubrics, marks and moderation."""
