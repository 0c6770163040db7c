"""Declared tables. Alembic migrations must produce exactly this (tests/store/test_schema.py checks).

Every table that holds customer data starts its key with `workspace_id`, so it can be distributed by
workspace and contact (Citus) and every query can filter by workspace.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from nurture.store.types import JSONDoc, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 26  # ULID text length

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("workspace_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # write | secret
    Column("key_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),  # first characters, to tell keys apart in listings
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("key_hash"),
    Index(None, "workspace_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("email", String(320), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("locale", String(35), nullable=True),
    Column("attributes", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=True),
    # subscriber → lead → MQL → SQL → opportunity → customer (configurable per workspace)
    Column("lifecycle_stage", String(64), nullable=True),
    Column("owner_id", String(ID), nullable=True),  # the sales owner (owners.id)
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "email"),
    Index(None, "workspace_id", "phone"),  # inbound SMS (STOP/START) finds contacts by number
    Index(None, "workspace_id", "lifecycle_stage"),
    Index(None, "workspace_id", "owner_id"),
)

# How a contact is found: user id, anonymous ids, email. One contact per identity value.
contact_identities = Table(
    "contact_identities",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # user_id | anonymous_id | email
    Column("value", String(320), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "value"),
    Index(None, "workspace_id", "contact_id"),
)

# Merges are kept so an old contact id still leads to the profile it became.
contact_merges = Table(
    "contact_merges",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("merged_id", String(ID), nullable=False),
    Column("into_id", String(ID), nullable=False),
    Column("merged_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "merged_id"),
    Index(None, "workspace_id", "into_id"),
)

events = Table(
    "events",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    # track: event name; page/screen: page name; group: group id; alias: previous id
    Column("name", String(255), nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("anonymous_id", String(255), nullable=True),
    Column("properties", JSONDoc, nullable=False),  # track/page/screen properties, identify/group traits
    Column("context", JSONDoc, nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("original_timestamp", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "message_id"),
    Index(None, "workspace_id", "contact_id", "timestamp"),
    Index(None, "workspace_id", "contact_id", "name", "timestamp"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("group_id", String(255), nullable=False),
    Column("name", String(200), nullable=True),
    Column("domain", String(255), nullable=True),
    Column("attributes", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "group_id"),
    Index(None, "workspace_id", "domain"),
)

account_members = Table(
    "account_members",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("account_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "account_id", "contact_id"),
    Index(None, "workspace_id", "contact_id"),
)

# Addresses that must never be messaged again; `value_hash` is SHA-256 of the normalised address, so
# an erased contact leaves no readable personal data behind.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms
    Column("value_hash", String(64), nullable=False),
    Column("reason", String(32), nullable=False),  # erased | hard_bounce | complaint | unsubscribed
    Column("detail", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "channel", "value_hash"),
)


# ---- audiences (segments, lists, tags, subscriptions) ----

segments = Table(
    "segments",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text(), nullable=True),
    Column("condition", JSONDoc, nullable=False),  # the condition tree (docs/conditions.md)
    Column("status", String(16), nullable=False),  # active | archived
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("recomputed_at", UTCDateTime(), nullable=True),  # last full evaluation
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

# Membership history: one row per stay. A current member has exited_at null; "members as of T" is
# entered_at <= T and (exited_at is null or exited_at > T).
segment_memberships = Table(
    "segment_memberships",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("segment_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("exited_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("workspace_id", "segment_id", "contact_id", "entered_at"),
    Index(None, "workspace_id", "segment_id", "exited_at", "contact_id"),
    Index(None, "workspace_id", "contact_id", "exited_at"),
)

# When time alone may next change a contact's answer for a segment (domain/next_change.py): the audience
# worker re-evaluates exactly then. One row per (segment, contact) at most; none when time cannot change it.
segment_timers = Table(
    "segment_timers",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("segment_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "segment_id", "contact_id"),
    Index(None, "due_at"),
    Index(None, "workspace_id", "contact_id"),
)

lists = Table(
    "lists",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

list_members = Table(
    "list_members",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("list_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "list_id", "contact_id"),
    Index(None, "workspace_id", "contact_id"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("tag", String(200), nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "contact_id", "tag"),
    Index(None, "workspace_id", "tag"),
)

# Consent per channel and topic; topic "" is the channel as a whole (the domain's topic None).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # subscribed | unsubscribed | pending
    Column("source", String(64), nullable=True),  # api | import | unsubscribe_link | …
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "contact_id", "channel", "topic"),
)

# What happened to messages sent to contacts; written by the messaging pipeline, read by `message`
# conditions. `message_id` is the outbox send id.
message_events = Table(
    "message_events",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # sent | delivered | opened | clicked | bounced | …
    Column("channel", String(16), nullable=False),
    Column("template_id", String(ID), nullable=True),
    Column("journey_id", String(ID), nullable=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("data", JSONDoc, nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "workspace_id", "contact_id", "occurred_at"),
    Index(None, "workspace_id", "message_id"),
)

# Things nurture itself did to a contact (segment entered/exited, stage changed, owner assigned, score
# crossed a threshold, …): journeys trigger on them and CRM sync reads them, in id order.
activities = Table(
    "activities",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject_id", String(ID), nullable=True),  # the segment, list, model or owner concerned
    Column("data", JSONDoc, nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "workspace_id", "contact_id", "occurred_at"),
    Index(None, "workspace_id", "kind", "id"),
)

# ---- lead scoring and sales routing ----

scoring_models = Table(
    "scoring_models",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("definition", JSONDoc, nullable=False),  # rules, decay, thresholds
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

contact_scores = Table(
    "contact_scores",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("model_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("score", Float(), nullable=False),  # rounded to 2 decimals, as of updated_at
    Column("updated_at", UTCDateTime(), nullable=False),
    # when decay, an expiry or a time-relative condition rule next moves the score (null: never)
    Column("due_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("workspace_id", "model_id", "contact_id"),
    Index(None, "workspace_id", "contact_id"),
    Index(None, "due_at"),
)

# Every change to a score, with the rule that made it: "why is this lead at 62".
score_changes = Table(
    "score_changes",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("model_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # event | condition | manual
    Column("points", Float(), nullable=False),  # as granted; decay is applied when the score is computed
    Column("event_id", String(ID), nullable=True),
    Column("reason", Text(), nullable=True),  # manual points: why
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    # once-rules: `once:RULE`; every-rules: `event:RULE:EVENT_ID` — a retried event never scores twice
    Column("dedupe_key", String(200), nullable=True),
    PrimaryKeyConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "model_id", "contact_id", "dedupe_key"),
    Index(None, "workspace_id", "contact_id", "model_id", "occurred_at"),
)

# The workspace's ordered lifecycle stages; no row means DEFAULT_STAGES.
lifecycle_stages = Table(
    "lifecycle_stages",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("stages", JSONDoc, nullable=False),  # ["subscriber", "lead", …]
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

owners = Table(
    "owners",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("attributes", JSONDoc, nullable=False),  # e.g. territory
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "email"),
)

# Assignment rules, tried in `position` order; the first that yields an owner wins. `definition` is the
# rule (domain/routing.py); `last_owner_id` is the round-robin state, updated under the rule row's lock.
routing_rules = Table(
    "routing_rules",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("definition", JSONDoc, nullable=False),
    Column("last_owner_id", String(ID), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
    Index(None, "workspace_id", "position"),
)

# Per-workspace routing settings: the lifecycle stages at which a contact without an owner is assigned.
routing_settings = Table(
    "routing_settings",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("assign_at_stages", JSONDoc, nullable=False),  # list of stage names
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# Work for the audience worker: a contact whose data changed (an event stored, a profile field, a tag,
# a list, a score, a merge) and what changed, written in the same transaction as the change. The worker
# re-evaluates only the segments and scoring rules that read it, then deletes the row.
pending_changes = Table(
    "pending_changes",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # event | profile | membership | score | merge
    Column("name", String(255), nullable=True),  # the event name, field, list/segment/model id
    Column("event_id", String(ID), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
)

# Changes whenever what the live consumers read changes (segment conditions and status, scoring
# models): writers cache the workspace's reference set per version and queue only changes it reads.
audience_versions = Table(
    "audience_versions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("version", String(ID), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# The data catalog: every contact attribute, account attribute, event and event property a workspace
# has had, one row per JSON type seen (or declared ahead of the data). Conditions are checked against it.
catalog_entries = Table(
    "catalog_entries",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("kind", String(20), nullable=False),  # attribute | account_attribute | event | property
    Column("scope", String(255), nullable=False),  # the event name for a property, else ""
    Column("name", String(255), nullable=False),
    Column("type", String(8), nullable=False),  # string | date | number | boolean | array | object | ""
    Column("declared", Boolean(), nullable=False),  # declared through the API rather than seen
    Column("first_seen_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "kind", "scope", "name", "type"),
)

# ---- messaging: templates, layouts, snippets ----

# A template's identity and current version; its content lives in template_versions, one immutable row
# per saved version, so a message records (template_id, version) and can always be explained.
templates = Table(
    "templates",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # email | sms
    Column("category", String(16), nullable=False),  # marketing | transactional
    Column("version", Integer(), nullable=False),  # the current version
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),  # versions stay for messages that used them
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

template_versions = Table(
    "template_versions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("template_id", String(ID), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("subject", Text(), nullable=True),
    Column("preheader", Text(), nullable=True),
    Column("from_name", Text(), nullable=True),  # null: the workspace's sender settings
    Column("from_email", String(320), nullable=True),
    Column("reply_to", String(320), nullable=True),
    Column("body_format", String(8), nullable=True),  # html | mjml (email)
    Column("body", Text(), nullable=True),
    Column("text", Text(), nullable=True),  # email: null = derived from the HTML; sms: the message
    Column("layout_id", String(ID), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "template_id", "version"),
    Index(None, "workspace_id", "layout_id"),
)

layouts = Table(
    "layouts",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("format", String(8), nullable=False),  # html | mjml
    Column("body", Text(), nullable=False),  # holds one {{ content }}
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

snippets = Table(
    "snippets",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(100), nullable=False),  # {% render 'name' %}
    Column("body", Text(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

# ---- messaging: senders, settings, topics, the outbox ----

# Who mail is sent as, and through what. `smtp_url` null: the server's NURTURE_SMTP_URL, or capture when
# that is unset. `dkim_key` is a PEM private key (stored as the operator gave it; see README, Security).
senders = Table(
    "senders",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("from_name", String(200), nullable=False),
    Column("from_email", String(320), nullable=False),
    Column("reply_to", String(320), nullable=True),
    Column("smtp_url", Text(), nullable=True),
    Column("rate_per_second", Float(), nullable=True),  # token bucket; null: unlimited
    Column("dkim_domain", String(253), nullable=True),
    Column("dkim_selector", String(63), nullable=True),
    Column("dkim_key", Text(), nullable=True),
    Column("is_default", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

# One row per workspace: what every message of the workspace obeys. `data` holds the checked
# `MessagingSettings` document (postal address, frequency cap, quiet hours, fallback time zone, SMS
# provider, …), so new knobs need no migration.
messaging_settings = Table(
    "messaging_settings",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# Subscription topics a contact can opt in or out of, per channel (the `topic` of `subscriptions`).
topics = Table(
    "topics",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("label", String(200), nullable=False),
    Column("description", Text(), nullable=True),
    Column("default_status", String(16), nullable=False),  # subscribed (opt-out) | unsubscribed (opt-in)
    Column("double_opt_in", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "channel", "name"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# The outbox: one row per message, `id` the deterministic send id (domain/outbox.py `send_id`) under
# the primary key, so the same source can never make a second row. The same id is the email
# Message-ID and the provider's idempotency key. Dispatch claims due rows (`status` pending, `due_at`
# passed or a `lease_until` expired) in batches.
messages = Table(
    "messages",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(64), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms
    Column("category", String(16), nullable=False),  # marketing | transactional
    Column("topic", String(200), nullable=True),
    Column("template_id", String(ID), nullable=True),
    Column("template_version", Integer(), nullable=True),
    Column("sender_id", String(ID), nullable=True),
    Column("source", String(16), nullable=False),  # journey | campaign | api | test | system
    Column("source_key", String(255), nullable=False),  # run:node:iteration, campaign:contact, idem key
    Column("journey_id", String(ID), nullable=True),
    Column("node_id", String(100), nullable=True),
    Column("campaign_id", String(ID), nullable=True),
    Column("context", JSONDoc, nullable=False),  # event, run context: what the template renders with
    Column("to_address", String(320), nullable=True),  # filled at dispatch
    Column("subject", Text(), nullable=True),  # as rendered, for the mail log
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed | skipped | unknown
    Column("reason", String(64), nullable=True),  # why skipped, deferred, failed or unknown
    Column("detail", Text(), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("provider_id", String(255), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "status", "due_at"),
    Index(None, "workspace_id", "contact_id", "sent_at"),
    Index(None, "workspace_id", "template_id"),
    Index(None, "workspace_id", "journey_id", "node_id"),
    Index(None, "workspace_id", "campaign_id"),
    # the mailto unsubscribe address names only the send (a local part holds 64 characters): found
    # by id alone, then checked against the workspace with its MAC
    Index(None, "id"),
    Index(None, "workspace_id", "created_at", "id"),  # the API's listing
)

# What the capture transport received (no SMTP configured): the exact bytes that would have gone out.
captured_mail = Table(
    "captured_mail",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("message_id", String(64), nullable=True),  # the outbox row; null for a raw test send
    Column("mail_from", String(320), nullable=False),
    Column("rcpt_to", String(320), nullable=False),
    Column("subject", Text(), nullable=True),
    Column("raw", Text(), nullable=False),
    Column("captured_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "workspace_id", "captured_at"),
)


# ---- journeys ----

# A journey's identity and state; its documents are immutable rows of journey_versions.
journeys = Table(
    "journeys",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # active | paused | archived
    Column("version", Integer(), nullable=False),  # the published version new runs start on
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    UniqueConstraint("workspace_id", "name"),
)

# Schedule triggers: when the cron next fires. A schedule read in one zone (a named one, or the
# workspace's) has one row with zone ""; one read on each contact's wall clock has a row per time zone
# its contacts live in, and that row enrols only the contacts of that zone.
journey_schedules = Table(
    "journey_schedules",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("journey_id", String(ID), nullable=False),
    Column("zone", String(64), nullable=False),
    Column("next_fire_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "journey_id", "zone"),
    ForeignKeyConstraint(
        ["workspace_id", "journey_id"], ["journeys.workspace_id", "journeys.id"], ondelete="CASCADE"
    ),
    Index(None, "next_fire_at"),
)

# Date triggers: when each contact's date attribute next comes round for a journey (birthday at
# 09:00 local, 7 days before renewal_date). Set when the journey is published and when the attribute
# changes; claimed by the journey worker when due.
journey_timers = Table(
    "journey_timers",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("journey_id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "journey_id", "contact_id"),
    Index(None, "due_at"),
)

journey_versions = Table(
    "journey_versions",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("journey_id", String(ID), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("document", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "journey_id", "version"),
)

LIVE_RUN = "status IN ('active', 'waiting', 'calling')"

# One contact's way through one journey version. Workers claim runs that are due (`wake_at` passed,
# or active) under a lease. At most one live run per journey, contact and correlation key ('' when
# the journey has none), by a partial unique index.
journey_runs = Table(
    "journey_runs",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("journey_id", String(ID), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("correlation", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # active | waiting | calling | completed | exited | failed
    Column("node", String(64), nullable=True),
    Column("wake_at", UTCDateTime(), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("steps", Integer(), nullable=False),  # trace lines written so far (run_steps.seq)
    Column("context", JSONDoc, nullable=False),
    Column("sends", JSONDoc, nullable=False),
    Column("visits", JSONDoc, nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("converted_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("reason", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "status", "wake_at"),
    Index(None, "workspace_id", "contact_id"),
    Index(None, "workspace_id", "journey_id", "status"),
    Index(
        "uq_journey_runs_live",
        "workspace_id",
        "journey_id",
        "contact_id",
        "correlation",
        unique=True,
        sqlite_where=text(LIVE_RUN),
        postgresql_where=text(LIVE_RUN),
    ),
)

# The trace of every run: what happened at which node and why. Explanations read it.
run_steps = Table(
    "run_steps",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("run_id", String(ID), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("node", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("data", JSONDoc, nullable=False),
    PrimaryKeyConstraint("workspace_id", "run_id", "seq"),
)

# What the journey worker has to look at: changes to contacts that an active journey's trigger,
# waits, exits or goal read (written by the audience worker in its transaction), and enrolments.
journey_inbox = Table(
    "journey_inbox",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("kind", String(24), nullable=False),  # event | segment_entered | segment_exited | change | enroll
    Column("name", String(255), nullable=True),  # event name, segment id, field, journey id
    Column("event_id", String(ID), nullable=True),
    Column("data", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "created_at"),
)

# ---- outbound webhooks and internal alerts ----

# Where a workspace's events are posted, signed as Standard Webhooks with `secret` (`whsec_` + base64).
# `event_types`: the types subscribed (`contact.segment_entered`, `message.*`, `*`).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("url", Text(), nullable=False),
    Column("description", Text(), nullable=True),
    Column("event_types", JSONDoc, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    Column("disabled_reason", Text(), nullable=True),  # e.g. the endpoint answered 410 Gone
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# The delivery log and retry queue: one row per (endpoint, event), or per Slack alert (`endpoint_id`
# null, `url` set, `format` slack). A worker claims due rows (`status` pending or failed,
# `next_attempt_at` passed) and moves `next_attempt_at` forward by a lease while it posts; retries stop
# at `retry_until` (24 hours), after which the row is dead.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("endpoint_id", String(ID), nullable=True),
    Column("url", Text(), nullable=True),  # a target without an endpoint (a Slack incoming webhook)
    Column("format", String(16), nullable=False),  # standard | slack
    Column("event_id", String(64), nullable=False),  # the `webhook-id` header: the same on every attempt
    Column("event_type", String(100), nullable=False),
    Column("payload", JSONDoc, nullable=False),  # the JSON body
    Column("status", String(16), nullable=False),  # pending | failed (retry due) | delivered | dead
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),  # null once delivered or dead
    Column("retry_until", UTCDateTime(), nullable=False),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("response_code", Integer(), nullable=True),
    Column("response_body", Text(), nullable=True),  # the first KB of the last answer
    Column("error", Text(), nullable=True),  # why the last attempt failed without an answer
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    UniqueConstraint("workspace_id", "endpoint_id", "event_id"),
    Index(None, "next_attempt_at"),
    Index(None, "workspace_id", "endpoint_id", "id"),
    Index(None, "updated_at"),  # pruning finished deliveries past the log's retention
)

# How far the webhook publisher has read a workspace's activities. Activity ids are made before their
# transaction commits, so an activity can appear behind `position`; the publisher reads the span
# (`recheck_from`, `recheck_to`] a second time at `recheck_at` and publishes what it missed.
webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("position", String(ID), nullable=False),
    Column("recheck_from", String(ID), nullable=False),
    Column("recheck_to", String(ID), nullable=False),
    Column("recheck_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# The consent ledger: every consent change a person made through a form, a confirmation, an
# unsubscribe or the preference page, with where it came from and the exact text shown (and its
# SHA-256). Read at /api/v1/contacts/{id}/consents, exported with the contact, erased with it.
consent_records = Table(
    "consent_records",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("contact_id", String(ID), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("topic", String(200), nullable=True),  # null: the channel as a whole
    Column("status", String(16), nullable=False),  # subscribed | unsubscribed | pending
    Column("source", String(64), nullable=False),  # form | double_opt_in | unsubscribe_page | …
    Column("ip", String(45), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("text", Text(), nullable=True),
    Column("text_hash", String(64), nullable=True),
    Column("message_id", String(64), nullable=True),  # the send whose link led to the change
    Column("occurred_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "workspace_id", "contact_id", "id"),
)

# ---- delivery reports (bounces, complaints) ----

# How one workspace receives one provider's delivery-event webhooks: the secret path token (stored as
# SHA-256) finds the workspace; `config` holds what the provider's signature is checked with (SendGrid
# public key, Mailgun signing key, SNS certificates and topics, Postmark Basic password).
delivery_webhooks = Table(
    "delivery_webhooks",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("provider", String(16), nullable=False),  # ses | sendgrid | postmark | mailgun
    Column("token_hash", String(64), nullable=False),
    Column("config", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "provider"),
    UniqueConstraint("token_hash"),
    ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
)

# Soft bounces per hashed address, counted over a window to suppress chronically failing addresses.
soft_bounces = Table(
    "soft_bounces",
    metadata,
    Column("workspace_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("value_hash", String(64), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("workspace_id", "id"),
    Index(None, "workspace_id", "value_hash", "occurred_at"),
)
