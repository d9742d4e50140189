"""The simulated codec's screen: ``xCommand UserInterface Message Prompt|Alert Display|Clear``
and the ``xEvent UserInterface Message Prompt Response`` a person's choice produces.

Parameters are checked as a RoomOS codec checks them (Text required; Title, Text and Option.1..5
String(0..255); Duration 0..3600; FeedbackId String(0..255)); a refusal raises
:class:`ScreenRejected` whose text becomes the ``<Reason>``. Shares no code with the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement

SCREEN_COMMANDS = {
    ("UserInterface", "Message", "Prompt", "Display"),
    ("UserInterface", "Message", "Prompt", "Clear"),
    ("UserInterface", "Message", "Alert", "Display"),
    ("UserInterface", "Message", "Alert", "Clear"),
}
RESPONSE_EXPRESSIONS = (
    "/Event/UserInterface/Message/Prompt/Response",
    "/Event/UserInterface/Message/Prompt",
    "/Event/UserInterface/Message",
    "/Event/UserInterface",
    "/Event",
)


_OPTIONS = {"1", "2", "3", "4", "5"}


class ScreenRejected(Exception):
    """A UserInterface command the codec refuses."""


@dataclass(kw_only=True, slots=True)
class ShownMessage:
    """A prompt or alert as the codec shows it."""

    kind: str  # "Prompt" or "Alert"
    title: str
    text: str
    duration: int
    feedback_id: str = ""
    options: dict[int, str] = field(default_factory=dict)
    shown_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    monotonic: float = 0.0  # when it arrived (time.monotonic(), for latency figures)


def _one(params: dict[str, list[str]], name: str, *, required: bool = False) -> str:
    values = params.get(name) or []
    if not values:
        if required:
            raise ScreenRejected(f"Missing required parameter {name}")
        return ""
    if len(values[0]) > 255:
        raise ScreenRejected(f"{name}: String longer than 255")
    return values[0]


def _duration(params: dict[str, list[str]]) -> int:
    text = _one(params, "Duration") or "0"
    if not text.isdigit() or not 0 <= int(text) <= 3600:
        raise ScreenRejected("Duration: must be an integer 0..3600")
    return int(text)


class Screen:
    """What the codec shows; at most one prompt and one alert at a time (a new one replaces)."""

    def __init__(self) -> None:
        self.shown: list[ShownMessage] = []
        self.prompt: ShownMessage | None = None
        self.alert: ShownMessage | None = None

    def handle(self, command: tuple[str, ...], params: dict[str, list[str]], now: float) -> str:
        """Run one command; return the result element's name."""
        kind, action = command[2], command[3]
        if action == "Clear":
            if kind == "Prompt":
                self.prompt = None
            else:
                self.alert = None
            return f"Message{kind}ClearResult"
        options: dict[int, str] = {}
        if kind == "Prompt":
            unknown = [p for p in params if p.startswith("Option.") and p[7:] not in _OPTIONS]
            if unknown:
                raise ScreenRejected(f"Unknown parameter {unknown[0]}")
            options = {
                n: _one(params, f"Option.{n}") for n in range(1, 6) if f"Option.{n}" in params
            }
        message = ShownMessage(
            kind=kind,
            title=_one(params, "Title"),
            text=_one(params, "Text", required=True),
            duration=_duration(params),
            feedback_id=_one(params, "FeedbackId") if kind == "Prompt" else "",
            options=options,
            monotonic=now,
        )
        self.shown.append(message)
        if kind == "Prompt":
            self.prompt = message
        else:
            self.alert = message
        return f"Message{kind}DisplayResult"

    def choose(self, option: int) -> ShownMessage:
        """A person taps option ``option`` of the prompt on screen: it closes."""
        prompt = self.prompt
        if prompt is None or option not in prompt.options:
            raise ScreenRejected(f"no prompt with option {option} on screen")
        self.prompt = None
        return prompt


def response_event(identification: Element, feedback_id: str, option: int) -> Element:
    """The HttpFeedback ``<Event>`` of ``xEvent UserInterface Message Prompt Response``."""
    root = Element("Event")
    root.append(identification)
    ui = SubElement(root, "UserInterface", {"item": "1"})
    message = SubElement(ui, "Message", {"item": "1"})
    prompt = SubElement(message, "Prompt", {"item": "1"})
    response = SubElement(prompt, "Response", {"item": "1"})
    SubElement(response, "FeedbackId", {"item": "1"}).text = feedback_id
    SubElement(response, "OptionId", {"item": "1"}).text = str(option)
    return root
