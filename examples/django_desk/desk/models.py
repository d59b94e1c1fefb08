"""The host's tables: servflow's cases and events, and a work order of the host's own.

The case's JSON is the source of truth; the other columns are copies for queries, as in
servflow's own SQL store.
"""

from django.db import models


class StoredCase(models.Model):
    id = models.CharField(max_length=255, primary_key=True)
    procedure = models.CharField(max_length=200)
    procedure_version = models.IntegerField()
    state = models.CharField(max_length=200)
    version = models.IntegerField()
    escalation_level = models.IntegerField(default=0)
    opened_at = models.DateTimeField()
    next_due = models.DateTimeField(null=True, db_index=True)
    deadline = models.DateTimeField(null=True, db_index=True)
    claimed_until = models.DateTimeField(null=True)
    data = models.JSONField()

    class Meta:
        indexes = (models.Index(fields=["procedure", "state", "opened_at", "id"]),)


class StoredEvent(models.Model):
    case = models.ForeignKey(StoredCase, on_delete=models.CASCADE, related_name="events")
    seq = models.IntegerField()
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    body = models.JSONField()

    class Meta:
        constraints = (models.UniqueConstraint(fields=["case", "seq"], name="one_event_per_seq"),)
        ordering = ("seq",)


class ScheduleCursor(models.Model):
    """How far a procedure's scheduled cases were opened (servflow's schedule cursor)."""

    procedure = models.CharField(max_length=200, primary_key=True)
    until = models.DateTimeField()


class WorkOrder(models.Model):
    """The host's own row, written in the same transaction as the case it belongs to."""

    number = models.CharField(max_length=40, unique=True)
    case = models.ForeignKey(StoredCase, on_delete=models.PROTECT)
    technician = models.CharField(max_length=200)
