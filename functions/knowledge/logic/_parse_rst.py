"""reStructuredText (Sphinx sources pasted as a text source) rewritten as the Markdown the text
parser reads, so that no reST markup reaches an answer:

- underlined (and overlined) titles become ``#`` headings, levels in order of first use;
- directives that only steer the build (``.. index::``, ``.. module::``, ``.. _label:``,
  ``.. toctree::``, comments ...) are dropped with their options and bodies; a described
  object (``.. function:: open(file)``) keeps its signature as a line; admonitions and
  version notes keep their text ("Changed in version 3.10:");
- roles keep their text (``:func:`len``` → ``len``, ``:mod:`~os.path``` → ``path``,
  ``:ref:`label <target>``` → ``label``), literals their content, links their text;
- a literal block (a paragraph ending in ``::`` and the indented lines after it) becomes a
  fenced code block; other indentation is removed (it only nests content under directives).
"""

from __future__ import annotations

import re

# ".. name:: argument", or any other explicit markup (".. _label:", ".. |sub| ...", comments).
_DIRECTIVE = re.compile(r"^(\s*)\.\.(?:\s+(?:([\w:-]+)::\s*(.*)|.*))?\s*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}\s*$")
_ROLE = re.compile(r":[\w:.+-]+:`(?:[!~]?)([^`<]*?)\s*(?:<[^>`]*>)?`")
_TILDE_ROLE = re.compile(r":[\w:.+-]+:`~([^`<]*?)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>`]+>`__?")
_REFERENCE = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_DROPPED = frozenset(
    {
        "index", "module", "currentmodule", "toctree", "highlight", "sectionauthor",
        "moduleauthor", "testsetup", "testcleanup", "only", "include", "image", "figure",
        "contents", "raw", "doctest", "testcode", "testoutput", "productionlist",
        "code-block", "sourcecode", "literalinclude", "audit-event", "availability",
        "impl-detail", "opcode", "autoclass", "autofunction", "automodule", "sidebar",
        "tabularcolumns", "rubric", "cssclass", "role", "default-role",
    }
)  # fmt: skip
_LABELS = {
    "note": "Note:",
    "warning": "Warning:",
    "seealso": "See also:",
    "versionadded": "New in version {}:",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "tip": "Tip:",
    "important": "Important:",
    "caution": "Caution:",
    "attention": "Attention:",
    "hint": "Hint:",
    "danger": "Danger:",
}
_SIGNATURES = frozenset(
    {
        "function", "class", "method", "attribute", "data", "exception", "decorator",
        "classmethod", "staticmethod", "describe", "option", "envvar", "cmdoption",
        "coroutinefunction", "coroutinemethod", "abstractmethod", "opcode", "pdbcommand",
        "c:function", "c:type", "c:macro", "c:member", "c:var", "py:function", "py:class",
        "py:method", "py:attribute", "py:data",
    }
)  # fmt: skip


def looks_like_rst(text: str) -> bool:
    """Directives or roles in the first lines: a Sphinx or docutils source."""
    head = text[:20000]
    return bool(re.search(r"^\.\. [\w:-]+::", head, re.M) or len(re.findall(r":\w+:`", head)) >= 2)


def inline(text: str) -> str:
    text = _TILDE_ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"`\1`", text)
    text = _LINK.sub(r"\1", text)
    return _REFERENCE.sub(r"\1", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_end(lines: list[str], index: int, depth: int) -> int:
    """The first line at or after ``index`` that is neither blank nor indented past ``depth``."""
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > depth):
        index += 1
    return index


def _directive(lines: list[str], index: int, out: list[str]) -> int:
    """Render the directive at ``index``; its body is spliced back in, dedented, to be read
    as ordinary lines (or dropped with a build-only directive). Returns where to go on."""
    line = lines[index]
    match = _DIRECTIVE.match(line)
    assert match is not None
    depth, name, argument = _indent(line), (match.group(2) or ""), match.group(3) or ""
    end = _block_end(lines, index + 1, depth)
    body = [e for e in lines[index + 1 : end] if not re.match(r"^\s*:[\w-]+:( |$)", e)]
    del lines[index + 1 : end]
    if not name or name in _DROPPED:
        return index + 1
    if name in _SIGNATURES:
        out.extend(["", inline(argument), ""])
    elif name in _LABELS:
        label = _LABELS[name]
        label = label.format(argument.strip()) if "{}" in label else f"{label} {inline(argument)}"
        out.extend(["", label.strip(), ""])
    elif argument:
        out.extend(["", inline(argument), ""])
    lines[index + 1 : index + 1] = [e[depth:] if e.strip() else "" for e in body]
    return index + 1


def _literal(lines: list[str], index: int, out: list[str]) -> int:
    """A paragraph line ending in "::" and the indented block after it, fenced."""
    line = lines[index]
    text_part = line.strip()[:-2].rstrip()
    if text_part:
        out.append(inline(text_part) + ("" if text_part.endswith(":") else ":"))
    end = _block_end(lines, index + 1, _indent(line))
    block = list(lines[index + 1 : end])
    while block and not block[-1].strip():
        block.pop()
    while block and not block[0].strip():
        block.pop(0)
    if block:
        cut = min(_indent(e) for e in block if e.strip())
        out.extend(["", "```", *[e[cut:] for e in block], "```", ""])
    return end


def _is_title(line: str, following: str) -> bool:
    stripped = line.strip()
    return bool(
        stripped
        and not line.startswith(" ")
        and _ADORNMENT.match(following)
        and not _ADORNMENT.match(line)
        and len(following.strip()) >= len(stripped)
    )


def to_markdown(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    levels: list[str] = []  # title adornments in order of first use
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        stripped = line.strip()
        if _ADORNMENT.match(line) and index + 2 < len(lines) and lines[index + 2] == line:
            index += 1  # an overline: the title and its underline follow
        elif _is_title(line, following):
            style = following.strip()[0]
            if style not in levels:
                levels.append(style)
            out.extend(["", "#" * min(6, levels.index(style) + 1) + " " + inline(stripped), ""])
            index += 2
        elif _DIRECTIVE.match(line):
            index = _directive(lines, index, out)
        elif stripped.endswith("::"):
            index = _literal(lines, index, out)
        else:
            out.append(inline(stripped))
            index += 1
    return "\n".join(out)
