"""Meeting processing rules (DESIGN.md §4): calendar events → ``Meeting`` values. Pure.

``RuleSet.compile(rules)`` compiles regexes and templates once; ``ruleset.process(event,
profile, now=...)`` applies them (first match wins, then the fallback, then privacy and listing)
and records a trace step per rule; ``ruleset.process_many(events, profile, now=...)`` does the
same for a room's events with the text work batched (faster, same Meetings).
``validate_rules`` / ``validate_profile`` report problems to administrators. Importing this
package touches no network, clock, database or file.
"""

from otj.rules.engine import FALLBACK, CompiledRule, RuleSet, prepare
from otj.rules.types import MEETING_TYPES, platform_of
from otj.rules.validation import RuleProblem, validate_profile, validate_rule, validate_rules

__all__ = [
    "FALLBACK",
    "MEETING_TYPES",
    "CompiledRule",
    "RuleProblem",
    "RuleSet",
    "platform_of",
    "prepare",
    "validate_profile",
    "validate_rule",
    "validate_rules",
]
