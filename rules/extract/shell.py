#!/usr/bin/env python3
"""shell.py: the interface of a shell script, for mpbuild (rules/shell.yaml).

Prints what a caller of the script needs: the comment block at the top
(after the #! line), the text its usage function prints (the lines of a
here-document, or the strings of its echo and printf commands), each
function's name with the comment directly above it, and the exit statuses
the script names (`exit N`).  Standard library only.  Usage: shell.py FILE
"""
import re
import sys

FUNC = re.compile(r"^\s*(?:function\s+)?([A-Za-z_][\w.-]*)\s*(?:\(\s*\))\s*\{?|^\s*function\s+([A-Za-z_][\w.-]*)\s*\{?")
EXIT = re.compile(r"(?:^|[\s;&|({])exit\s+(\d+)\b")
QUOTED = re.compile(r"'([^']*)'|\"((?:[^\"\\]|\\.)*)\"")


def top_comment(lines):
    """The comment lines at the top of the script, after the #! line."""
    out = []
    for i, line in enumerate(lines):
        if i == 0 and line.startswith("#!"):
            continue
        if not line.startswith("#"):
            break
        out.append(line)
    return out


def function_body(lines, start):
    """The lines of the function defined at start, up to its closing brace."""
    first = lines[start]
    if "{" in first and "}" in first[first.index("{"):]:
        return [first[first.index("{") + 1:first.rindex("}")]]
    body = []
    for line in lines[start + 1:]:
        if line.startswith("}"):
            break
        body.append(line)
    return body


def usage_text(body):
    """What a usage function prints: its here-document, else the strings of
    its echo and printf commands."""
    out, heredoc = [], None
    for line in body:
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
                continue
            out.append(line)
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if m:
            heredoc = m.group(1)
            continue
        for part in re.split(r"[;&|]+", line):
            words = part.strip()
            if re.match(r"(echo|printf)\b", words):
                strings = [a if a or b == "" else b for a, b in QUOTED.findall(words)]
                if strings:
                    out.append(strings[0].replace("\\n", "\n").rstrip("\n"))
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: shell.py FILE", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.read().replace("\r\n", "\n").split("\n")
    sections = []
    top = top_comment(lines)
    if top:
        sections.append("\n".join(top))
    funcs = []
    usage = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        m = FUNC.match(line)
        if not m or "=" in line.split("(")[0]:
            continue
        name = m.group(1) or m.group(2)
        if name in ("if", "then", "else", "fi", "for", "while", "do", "done", "case", "esac"):
            continue
        above = []
        j = i - 1
        while j >= 0 and lines[j].lstrip().startswith("#") and j >= len(top) + (1 if lines[0].startswith("#!") else 0):
            above.insert(0, lines[j].strip())
            j -= 1
        funcs.append("\n".join(above + [name + "()"]))
        if name == "usage":
            usage = usage_text(function_body(lines, i))
    if usage:
        sections.append("usage prints:\n" + "\n".join("  " + u for u in "\n".join(usage).split("\n")))
    if funcs:
        sections.append("functions:\n" + "\n".join(funcs))
    codes = sorted({int(c) for line in lines if not line.lstrip().startswith("#") for c in EXIT.findall(line)})
    if codes:
        sections.append("exit statuses: " + " ".join(str(c) for c in codes))
    sys.stdout.write("\n\n".join(sections) + ("\n" if sections else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
