"""Trace steps that explain the profile's listing and privacy decisions (DESIGN.md §4.4).

The rules say which alias a meeting gets; these steps say why a meeting is not shown and why
its subject was replaced, naming the profile setting involved. They never quote the subject
that was replaced.
"""

from __future__ import annotations

from otj.model import Profile, ReplaceSubject, TraceStep

LISTING = "listing"
PRIVACY = "privacy"

_WHY_UNLISTED = {
    "cancelled": "the event is cancelled in the calendar",
    "declined by the room": "the room declined the invitation",
    "private meetings are disabled": "a private meeting and enable_private_meetings is off",
    "non-video meetings are disabled": "no alias and enable_non_video_meetings is off",
}


def unlisted_step(reason: str, profile: Profile) -> TraceStep:
    """Why the endpoint does not show the meeting."""
    why = _WHY_UNLISTED.get(reason, reason)
    return TraceStep(
        rule=LISTING,
        meeting_type=LISTING,
        outcome="disabled",
        detail=f"not shown: {why} (profile {profile.name!r})",
    )


def subject_step(*, private: bool, empty: bool, profile: Profile, template_used: bool) -> TraceStep:
    """Why the subject shown is not the calendar's."""
    kind = profile.replace_subject_type
    if kind == ReplaceSubject.ALL:
        cause = "replace_subject_type is ALL"
    elif kind == ReplaceSubject.PRIVATE and private:
        cause = "a private meeting and replace_subject_type is PRIVATE"
    elif empty:
        cause = "the calendar's subject is empty and replace_empty_subject is on"
    else:
        cause = "the profile's privacy settings"
    shown = "replace_subject_template" if template_used else "the organizer's name"
    return TraceStep(
        rule=PRIVACY,
        meeting_type=PRIVACY,
        outcome="matched",
        detail=f"subject replaced by {shown}: {cause} (profile {profile.name!r})",
    )
