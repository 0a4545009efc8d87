"""Archiving: S3 lifecycle rules for the clips and the exports. ``serverless.yml`` declares the
same rules for AWS (a test keeps the two in step); locally they are applied to moto's
buckets, which stores them but never acts on them.

Processed clips go to Glacier Instant Retrieval, not Flexible Retrieval: an old voice message
must still play when someone scrolls back to it, and Instant Retrieval serves in
milliseconds at a fraction of Standard's storage price. Exports go to Deep Archive after a
year; Redshift has loaded them by then (COPY and Spectrum cannot read archived objects).
"""

from __future__ import annotations

from typing import Any

from analytics.layout import EVENTS_PREFIX

PROCESSED_CLIPS_PREFIX = "clips/processed/"
CLIPS_STORAGE_CLASS = "GLACIER_IR"
EXPORTS_STORAGE_CLASS = "DEEP_ARCHIVE"
EXPORTS_ARCHIVE_DAYS = 365


def clips_rule(archive_after_days: int) -> dict[str, Any]:
    return {
        "ID": "clips-archive",
        "Filter": {"Prefix": PROCESSED_CLIPS_PREFIX},
        "Status": "Enabled",
        "Transitions": [{"Days": archive_after_days, "StorageClass": CLIPS_STORAGE_CLASS}],
    }


def exports_rules() -> list[dict[str, Any]]:
    return [
        {
            "ID": "exports-archive",
            "Filter": {"Prefix": EVENTS_PREFIX},
            "Status": "Enabled",
            "Transitions": [{"Days": EXPORTS_ARCHIVE_DAYS, "StorageClass": EXPORTS_STORAGE_CLASS}],
        },
        {
            # Manifests only matter for the load that reads them.
            "ID": "manifests-expire",
            "Filter": {"Prefix": "manifests/"},
            "Status": "Enabled",
            "Expiration": {"Days": 30},
        },
    ]
