"""Scheduled work: reminders, alerts and email delivery, one small function per job."""
