"""The Jinja2 sandbox for custom templates, transform rules and subject templates (DESIGN.md §4.3).

``ImmutableSandboxedEnvironment`` without any loader (no file system), with only the filters of
``otj.rules.filters``. On top of Jinja's attribute sandbox it bounds work and memory:

- every sandboxed call, attribute and item access checks the render's deadline;
- every ``{% for %}`` iterates through a deadline-checking wrapper and ``range`` is bounded;
- ``*``, ``**``, ``+`` and ``%`` are intercepted: repetition, huge products and powers and giant
  format widths are refused before they allocate, sizes counted as the text a value makes
  (``[s] * 1000`` weighs a thousand ``s``); ``~`` concatenation joins with a size check;
- every ``{{ … }}`` value is weighed before it becomes text (``finalize``), every filter's and
  function's arguments before and result after the call;
- ``str`` methods that pad or repeat (``center``, ``ljust``, ``zfill``, ``join``, ``replace``,
  ``format`` …) are checked before they run;
- the output is produced with ``generate()`` and rendering stops past ``MAX_OUTPUT_CHARS``;
- any access to an unsafe attribute (``__class__``, ``mro``, ``__globals__`` …) raises at once.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from otj.rules.filters import (
    GuardedIterable,
    bounded_join,
    check_format_string,
    template_filters,
    template_functions,
)
from otj.rules.limits import (
    CURRENT_BUDGET,
    MAX_OUTPUT_CHARS,
    MAX_VALUE_CHARS,
    LimitExceeded,
    check_budget,
    check_size,
    new_budget,
    weight,
)

_MAX_POWER_BITS = 4096
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class _BoundedCodeGenerator(CodeGenerator):
    """Routes every for-loop iterable and every ``~`` concatenation through bounded helpers."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:  # noqa: N802
        for loop in node.find_all(nodes.For):
            guard = nodes.Call(
                nodes.EnvironmentAttribute("otj_guard_iter", lineno=loop.lineno),
                [loop.iter],
                [],
                None,
                None,
                lineno=loop.lineno,
            )
            guard.set_environment(self.environment)
            loop.iter = guard
        super().visit_Template(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        self.write("environment.otj_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class OtjSandbox(ImmutableSandboxedEnvironment):
    """The one Jinja environment of the rule engine (shared, thread-safe, no loader)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, cache_size=0, auto_reload=False, finalize=_finalize)
        self.filters = template_filters()
        functions = template_functions()
        self.globals = {
            "dict": self.globals["dict"],
            "namespace": self.globals["namespace"],
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
        }
        self.globals.update(functions)

    # --- helpers referenced by generated code ------------------------------------------------

    @staticmethod
    def otj_guard_iter(iterable: Any) -> GuardedIterable:
        return GuardedIterable(iterable)

    @staticmethod
    def otj_concat(values: tuple[Any, ...]) -> str:
        return bounded_join(values)

    # --- sandbox hooks ---------------------------------------------------------------------

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_budget()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_budget()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_budget()
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            check_format_string(left)
        elif (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and weight(left) + weight(right) > MAX_VALUE_CHARS
        ):
            raise LimitExceeded(f"concatenation exceeds {MAX_VALUE_CHARS} characters")
        result = super().call_binop(context, operator, left, right)
        check_size(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        check_format_string(value.__self__)

        def checked(*args: Any, **kwargs: Any) -> str:
            check_budget()
            result = wrapped(*args, **kwargs)
            check_size(result)
            return result

        return checked

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        check_budget()
        owner = getattr(__obj, "__self__", None)
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(owner, str):
            _check_str_method(owner, __obj.__name__, args)
        result = super().call(__context, __obj, *args, **kwargs)
        check_size(result)
        return result


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` value, weighed before Jinja turns it into text."""
    check_budget()
    check_size(value)
    return value


def _check_repeat(sequence: Any, count: Any) -> None:
    if (
        isinstance(sequence, (str, list, tuple))
        and isinstance(count, int)
        and count > 0
        and weight(sequence) * count > MAX_VALUE_CHARS
    ):
        raise LimitExceeded(f"repetition would exceed {MAX_VALUE_CHARS} characters")


def _check_product(left: Any, right: Any) -> None:
    """Refuse multiplying integers whose product would exceed ``_MAX_POWER_BITS`` bits
    (squaring a number in a loop doubles its size each time, in one uninterruptible step)."""
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > _MAX_POWER_BITS
    ):
        raise LimitExceeded(f"product exceeds {_MAX_POWER_BITS} bits")


def _check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and exponent > 0
        and exponent * math.log2(abs(base)) > _MAX_POWER_BITS
    ):
        raise LimitExceeded(f"power result exceeds {_MAX_POWER_BITS} bits")


def _check_str_method(text: str, name: str, args: tuple[Any, ...]) -> None:
    if name in _PADDING_METHODS and args and isinstance(args[0], int):
        if args[0] > MAX_VALUE_CHARS:
            raise LimitExceeded(f"str.{name} width exceeds {MAX_VALUE_CHARS}")
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        if text.count("\t") * size + len(text) > MAX_VALUE_CHARS:
            raise LimitExceeded("str.expandtabs result too large")
    elif name == "join" and args:
        items = args[0]
        if isinstance(items, (list, tuple)):
            total = sum(len(item) for item in items if isinstance(item, str))
            if total + len(text) * max(0, len(items) - 1) > MAX_VALUE_CHARS:
                raise LimitExceeded(f"str.join result exceeds {MAX_VALUE_CHARS} characters")
        else:
            raise LimitExceeded("str.join takes a list or tuple in templates (use the join filter)")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        old, new = args[0], args[1]
        occurrences = text.count(old) if old else len(text) + 1
        if len(text) + occurrences * max(0, len(new) - len(old)) > MAX_VALUE_CHARS:
            raise LimitExceeded(f"str.replace result exceeds {MAX_VALUE_CHARS} characters")


@lru_cache(maxsize=1)
def sandbox() -> OtjSandbox:
    """The shared sandbox environment (created on first use, not at import)."""
    return OtjSandbox()


def compile_template(source: str) -> Template:
    """Compile template source; raises ``jinja2.TemplateSyntaxError`` (with ``lineno``).

    Jinja unescapes string literals with Python's ``unicode-escape`` codec, which warns about
    regex escapes such as ``\\/`` in the documentation's template; those warnings are muted.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        return sandbox().from_string(source)


def render(
    template: Template,
    context: Mapping[str, Any],
    *,
    now: datetime,
    seed: str,
) -> tuple[str, list[str]]:
    """Render within the limits; returns the output and the ``pex_debug_log`` messages.

    Raises ``LimitExceeded`` (time or size), ``SecurityError`` (sandbox) or whatever the template
    raised; the caller records it in the trace.
    """
    budget = new_budget(now=now, seed=seed)
    token = CURRENT_BUDGET.set(budget)
    try:
        pieces: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise LimitExceeded(f"template output exceeds {MAX_OUTPUT_CHARS} characters")
            pieces.append(chunk)
        budget.check()
        return "".join(pieces), budget.debug
    finally:
        CURRENT_BUDGET.reset(token)
