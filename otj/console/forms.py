"""HTML forms for configuration objects, derived from the frozen values of ``otj.model``.

``form_fields`` lists a section's fields with the input each needs; ``object_from_form`` turns a
posted form back into the object's YAML-shaped mapping. Conversion is lenient on purpose: a
number that is not one is passed on as text, so the validator of ``otj config apply`` reports it
with its own message. Secrets are shown as ``otj config export`` writes them (a reference or
``stored:inline``, which keeps the stored value); a blank secret means none. An integration's
type-specific settings are edited as YAML (they differ per calendar source).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import UnionType
from typing import Any, Literal, get_args, get_origin

from otj.model import (
    CallRoutingRule,
    Endpoint,
    EndpointGroup,
    MeetingRule,
    Profile,
    SipCredential,
    SipProxy,
    VirtualReception,
)
from otj.secret import Secret

Kind = Literal["text", "textarea", "int", "bool", "optbool", "choice", "secret", "yaml", "list"]
MODELS: dict[str, type[Any]] = {
    "profiles": Profile,
    "endpoint_groups": EndpointGroup,
    "endpoints": Endpoint,
    "meeting_processing_rules": MeetingRule,
    "call_routing_rules": CallRoutingRule,
    "sip_proxies": SipProxy,
    "sip_credentials": SipCredential,
    "virtual_receptions": VirtualReception,
}
TITLES = {
    "profiles": "Profiles",
    "integrations": "Calendar integrations",
    "endpoint_groups": "Endpoint groups",
    "endpoints": "Endpoints (rooms)",
    "meeting_processing_rules": "Meeting processing rules",
    "call_routing_rules": "Call routing rules",
    "sip_proxies": "SIP proxies",
    "sip_credentials": "SIP credentials (trusted calls)",
    "virtual_receptions": "Virtual Receptions",
}
LONG_TEXT = {
    "match_string",
    "replace_string",
    "custom_template",
    "transform_rule",
    "replace_subject_template",
    "description",
}
INTEGRATION_TYPES = ("google", "graph", "exchange", "caldav", "ics")


@dataclass(frozen=True, kw_only=True, slots=True)
class Field:
    """One input of a form."""

    name: str
    kind: Kind
    choices: tuple[str, ...] = ()
    default: Any = None

    @property
    def label(self) -> str:
        """``start_buffer`` → ``Start buffer``."""
        return self.name.replace("_", " ").capitalize()


def _field(name: str, hint: Any, default: Any) -> Field:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, UnionType):
        inner = next(a for a in args if a is not type(None))
        if inner is bool:
            return Field(name=name, kind="optbool", default=default)
        return _field(name, inner, default)
    if hint is Secret:
        return Field(name=name, kind="secret")
    if origin is tuple:  # a list in the configuration file (match_source, aliases, id_rules)
        return Field(name=name, kind="list", default=[])
    if hint is bool:
        return Field(name=name, kind="bool", default=default)
    if hint is int:
        return Field(name=name, kind="int", default=default)
    if isinstance(hint, type) and issubclass(hint, Enum):
        value = default.value if isinstance(default, Enum) else default
        return Field(name=name, kind="choice", choices=tuple(m.value for m in hint), default=value)
    if origin is Literal:
        return Field(name=name, kind="choice", choices=tuple(map(str, args)), default=default)
    if name == "meeting_type":
        from otj.rules import MEETING_TYPES

        return Field(name=name, kind="choice", choices=tuple(sorted(MEETING_TYPES)))
    kind: Kind = "textarea" if name in LONG_TEXT else "text"
    return Field(name=name, kind=kind, default=default if isinstance(default, str) else "")


def form_fields(section: str) -> list[Field]:
    """The inputs of a section's form, in the order of the model's fields."""
    if section == "integrations":
        return [
            Field(name="name", kind="text", default=""),
            Field(name="type", kind="choice", choices=INTEGRATION_TYPES, default="google"),
            Field(name="daily_request_quota", kind="int"),
            Field(name="settings", kind="yaml", default=""),
        ]
    model = MODELS[section]
    hints = typing.get_type_hints(model)
    out = []
    for item in dataclasses.fields(model):
        default = None if item.default is dataclasses.MISSING else item.default
        out.append(_field(item.name, hints[item.name], default))
    return out


def form_values(section: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """What each input shows: the object's values, else the defaults."""
    fields = form_fields(section)
    if value is None:
        return {f.name: f.default for f in fields}
    shown = {f.name: value.get(f.name) for f in fields}
    for field in fields:
        if field.kind == "list":
            shown[field.name] = _list_text(value.get(field.name))
    if section == "integrations":
        import yaml

        rest = {k: v for k, v in value.items() if k not in ("name", "type", "daily_request_quota")}
        shown["settings"] = (
            yaml.safe_dump(rest, sort_keys=False, allow_unicode=True) if rest else ""
        )
    return shown


def object_from_form(section: str, form: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The posted form as the object's mapping, and problems the validator cannot name."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for item in form_fields(section):
        raw = form.get(item.name)
        if raw is None and item.kind != "bool":
            continue  # not on the form (an unchecked checkbox is a bool's false): the default
        text = raw.strip() if isinstance(raw, str) else ""
        if item.kind == "bool":
            out[item.name] = raw is not None and text not in ("", "0", "false")
        elif item.kind == "optbool":
            if text in ("true", "false"):
                out[item.name] = text == "true"
        elif item.kind == "int":
            if text:
                out[item.name] = int(text) if text.lstrip("-").isdigit() else text
        elif item.kind == "secret":
            if text:
                out[item.name] = text
        elif item.kind == "yaml":
            settings = settings_from_yaml(text, problems)
            out.update(settings)
        elif item.kind == "list":
            out[item.name] = list_from_yaml(item.name, text, problems)
        elif item.kind == "textarea":
            out[item.name] = (raw if isinstance(raw, str) else "").replace("\r\n", "\n")
        else:
            out[item.name] = text
    return out, problems


def list_from_yaml(name: str, text: str, problems: list[str]) -> list[Any]:
    """A list field: a YAML list (``[a, b]`` or ``- a`` lines); one plain value per line too."""
    from otj.config.yamlsrc import YamlError, safe_load

    if not text:
        return []
    try:
        loaded = safe_load(text)
    except YamlError as exc:
        problems.append(f"{name}: {exc.problem.message} (line {exc.problem.line})")
        return []
    if isinstance(loaded, list):
        return loaded
    if isinstance(loaded, str):
        return [line.strip() for line in text.splitlines() if line.strip()]
    problems.append(f"{name}: expected a list, e.g. [10.0.0.0/8, 192.0.2.0/24]")
    return []


def settings_from_yaml(text: str, problems: list[str]) -> dict[str, Any]:
    """``key: value`` YAML lines as a mapping (problems appended to ``problems``)."""
    from otj.config.yamlsrc import YamlError, safe_load

    if not text:
        return {}
    try:
        loaded = safe_load(text)
    except YamlError as exc:
        problems.append(f"settings: {exc.problem.message} (line {exc.problem.line})")
        return {}
    if not isinstance(loaded, dict):
        problems.append("settings: expected YAML key: value lines")
        return {}
    return {str(k): v for k, v in loaded.items()}


def _list_text(items: Any) -> str:
    """A list field as the form shows it: YAML flow style (``[a, b]``), empty when empty."""
    import yaml

    if not items:
        return ""
    return yaml.safe_dump(list(items), default_flow_style=True, allow_unicode=True).strip()
