"""Meeting processing rules (DESIGN.md §4): calendar events → ``Meeting`` values. Pure.

``RuleSet.compile(rules)`` compiles regexes and templates once; ``ruleset.process(event,
profile, now=...)`` applies them (first match wins, then the fallback, then privacy and listing)
and records a trace step per rule. The meeting types are in ``otj.rules.meeting_types``, one
module per provider. ``validate_rules`` / ``validate_profile`` report problems to
administrators. Importing this package reads no environment variable and touches no network,
clock, database or file.
"""

from otj.rules.compiled import CompiledRule
from otj.rules.engine import FALLBACK, RuleSet
from otj.rules.meeting_types import MEETING_TYPES, platform_of
from otj.rules.validation import RuleProblem, validate_profile, validate_rule, validate_rules

__all__ = [
    "FALLBACK",
    "MEETING_TYPES",
    "CompiledRule",
    "RuleProblem",
    "RuleSet",
    "platform_of",
    "validate_profile",
    "validate_rule",
    "validate_rules",
]
