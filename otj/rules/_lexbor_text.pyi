"""Typing of the compiled extension ``otj/rules/_lexbor_text.c``."""

def bind(path: str) -> None:
    """Look up Lexbor's accessors in the shared object at ``path`` (selectolax's extension)."""

def body_texts(address: int) -> tuple[str, str]:
    """The text of the Lexbor node at ``address`` (selectolax's ``mem_id``), as html_to_texts."""
