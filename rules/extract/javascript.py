#!/usr/bin/env python3
"""javascript.py: the interface of a JavaScript or TypeScript module, for
mpbuild (rules/javascript.yaml).

Prints what the module exports, each with the JSDoc comment directly above
it: `export function/class/const/let/var/default/type/interface/enum`,
`export {...}` and `export ... from`, `module.exports = ...` and
`exports.NAME = ...`.  Functions and methods are cut at the opening brace of
their body; a class shows its public members' signatures; a value is shown
when short.  Types and interfaces are shown whole.  A scanner that knows
strings, template literals, comments and regular expressions finds the
top-level statements; it is not a full parser.  Standard library only.
Usage: javascript.py FILE
"""
import re
import sys

SHORT = 120  # longest value shown in full

EXPORT = re.compile(r"(export\b|module\.exports\b|exports\.[A-Za-z_$][\w$]*\s*=)")
BODIED = re.compile(r"(export\s+)?(default\s+)?(declare\s+)?(abstract\s+)?(async\s+)?"
                    r"(function\b|class\b)")
WHOLE = re.compile(r"export\s+(declare\s+)?(type|interface|enum|const\s+enum|namespace)\b|export\s*[{*]")
ASSIGN = re.compile(r"(export\s+(default\s+)?((const|let|var)\s+[^=]*=\s*)?|module\.exports\s*=\s*|"
                    r"exports\.[A-Za-z_$][\w$]*\s*=\s*)")
DECL_FUNCTION = re.compile(r"(async\s+)?function\b")
REGEX_BEFORE = set("(,=:[!&|?{};+-*%<>~^") | {""}
KEYWORDS = {"return", "typeof", "case", "do", "else", "in", "of", "yield", "await", "void", "delete", "new"}


def skip_quoted(src, i):
    """The index after the string or regular expression opening at i."""
    quote, j, n, cls = src[i], i + 1, len(src), False
    while j < n:
        d = src[j]
        if d == "\\":
            j += 2
            continue
        if d == "\n":
            return j
        if quote == "/" and d in "[]":
            cls = d == "["
        elif d == quote and not cls:
            return j + 1
        j += 1
    return n


def skip_template(src, i):
    """The index after the template literal opening at i, ${...} included."""
    j, n = i + 1, len(src)
    while j < n:
        d = src[j]
        if d == "\\":
            j += 2
        elif d == "`":
            return j + 1
        elif src.startswith("${", j):
            depth, j = 1, j + 2
            while j < n and depth:
                d = src[j]
                if d == "`":
                    j = skip_template(src, j)
                    continue
                if d in "'\"":
                    j = skip_quoted(src, j)
                    continue
                depth += d == "{"
                depth -= d == "}"
                j += 1
        else:
            j += 1
    return n


def scan(src):
    """A mask of code characters (1) against strings, regular expressions
    and comments (0), and the spans of the /** */ comments."""
    code = bytearray(len(src))
    docs = []
    i, n, last = 0, len(src), ""
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            if src.startswith("/**", i) and not src.startswith("/**/", i):
                docs.append((i, j))
            i = j
        elif c == "`":
            i, last = skip_template(src, i), "a"
        elif c in "'\"" or (c == "/" and last in REGEX_BEFORE):
            i, last = skip_quoted(src, i), "a"
        elif c.isalnum() or c in "_$":
            word = re.match(r"[\w$]+", src[i:i + 256]).group(0)
            code[i:i + len(word)] = b"\1" * len(word)
            i += len(word)
            last = "(" if word in KEYWORDS else "a"
        else:
            code[i] = 1
            if not c.isspace():
                last = c
            i += 1
    return code, docs


def statement_end(src, code, start):
    """Where the statement at start ends: after a ; at depth 0, or at a line
    end at depth 0 that does not continue the expression."""
    depth, i, n = 0, start, len(src)
    while i < n:
        c = src[i]
        if code[i]:
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
                if depth < 0:
                    return i
            elif c == ";" and depth == 0:
                return i + 1
        if c == "\n" and depth == 0:
            before = src[start:i].rstrip()
            after = src[i:].lstrip()
            if before and before[-1] not in "=,([{+-*/&|?:.<>" and not after[:1] in (".", "?", ":", "+", "-", "*", "/", "&", "|", "=", ")", "]"):
                return i
        i += 1
    return n


def body_brace(src, code, start, end):
    """The first { at paren depth 0 after the parameters (of a function), or None."""
    depth, seen_params, i = 0, False, start
    while i < end:
        c = src[i]
        if code[i]:
            if c in "([":
                depth += 1
                seen_params = seen_params or c == "("
            elif c in ")]":
                depth -= 1
            elif c == "{" and depth == 0:
                return i
            elif c == "=" and src.startswith("=>", i) and depth == 0:
                j = i + 2
                while j < end and src[j].isspace():
                    j += 1
                return j if j < end and src[j] == "{" else None
        i += 1
    return None


def block_end(src, code, brace):
    """The index just after the } matching the { at brace."""
    depth, i, n = 0, brace, len(src)
    while i < n:
        if code[i]:
            if src[i] == "{":
                depth += 1
            elif src[i] == "}":
                depth -= 1
                if depth == 0:
                    return i + 1
        i += 1
    return n


def doc_above(src, docs, start):
    """The /** */ comment directly above start (only blanks between), with
    the indentation of its first line, or ""."""
    for a, b in docs:
        if b <= start and src[b:start].strip() == "" and src[b:start].count("\n") <= 1:
            line = src.rfind("\n", 0, a) + 1
            return src[line:b] + "\n"
    return ""


def line_starts(src, code, begin, end):
    """Offsets of the first code character of each line in [begin, end) at
    brace depth 0 relative to begin."""
    depth, i, at_line = 0, begin, True
    while i < end:
        c = src[i]
        if c == "\n":
            at_line = True
        elif not c.isspace():
            if at_line and depth == 0 and code[i]:
                yield i
            at_line = False
            if code[i]:
                if c in "([{":
                    depth += 1
                elif c in ")]}":
                    depth -= 1
        i += 1


def cut(src, code, start, end):
    """A statement as its users see it: up to a body's brace, or short."""
    text = src[start:end].rstrip()
    brace = body_brace(src, code, start, end)
    if BODIED.match(src, start) or DECL_FUNCTION.match(src, start) or (brace is not None and "=>" in src[start:brace + 1]) \
            or re.match(r"[^=]*=\s*(async\s+)?function\b", text):
        if brace is not None:
            return src[start:brace].rstrip()
        return text
    if len(text) <= SHORT:
        return text
    m = ASSIGN.match(src, start)
    return (m.group(0).rstrip() + " ...") if m and m.end() > start else text[:SHORT] + " ..."


def members(src, code, docs, brace, end, indent):
    """The public members of the class body at brace, one signature a line."""
    out = []
    stop = block_end(src, code, brace) - 1
    for s in line_starts(src, code, brace + 1, stop):
        word = re.match(r"(static\s+|async\s+|get\s+|set\s+|readonly\s+|public\s+|\*\s*)*([#\w$]+|\[)", src[s:])
        if not word or word.group(2).startswith(("#", "_")) or re.match(r"(private|protected)\b", src[s:]):
            continue
        e = statement_end(src, code, s)
        b = body_brace(src, code, s, e)
        if b is None:
            b = src.find("{", s, e) if "(" in src[s:e] else -1
        sig = src[s:b].rstrip() if b is not None and b >= 0 else src[s:e].rstrip()
        out.append(doc_above(src, docs, s) + indent + sig.strip())
    return out


DECL = re.compile(r"(async\s+)?(function\s*\*?|class|const|let|var)\s*([A-Za-z_$][\w$]*)")


def listed_names(src, code, starts):
    """Local names a module exports by listing them: export { a, b as c },
    module.exports = { a, b } or = a, exports.x = a."""
    names = set()
    for s in starts:
        e = statement_end(src, code, s)
        text = src[s:e]
        m = re.match(r"(export\s*|module\.exports\s*=\s*)\{([^}]*)\}", text)
        if m and not re.search(r"\}\s*from\b", text):
            for part in m.group(2).split(","):
                local = part.split(" as ")[0].split(":")[-1].strip()
                if re.fullmatch(r"[A-Za-z_$][\w$]*", local):
                    names.add(local)
        m = re.match(r"(module\.exports|exports\.[\w$]+)\s*=\s*([A-Za-z_$][\w$]*)\s*;?\s*$", text)
        if m:
            names.add(m.group(2))
    return names


def main(argv):
    if len(argv) != 2:
        print("usage: javascript.py FILE", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as f:
        src = f.read().replace("\r\n", "\n")
    code, docs = scan(src)
    items = []
    starts = list(line_starts(src, code, 0, len(src)))
    listed = listed_names(src, code, starts)
    for s in starts:
        decl = DECL.match(src, s)
        if decl and decl.group(3) in listed:
            items.append(doc_above(src, docs, s) + cut(src, code, s, statement_end(src, code, s)))
            continue
        if not EXPORT.match(src, s):
            continue
        if WHOLE.match(src, s):
            e = statement_end(src, code, s)
            items.append(doc_above(src, docs, s) + src[s:e].rstrip())
            continue
        e = statement_end(src, code, s)
        if re.match(r"(export\s+)?(default\s+)?(declare\s+)?(abstract\s+)?class\b", src[s:]):
            brace = body_brace(src, code, s, len(src))
            if brace is None:
                items.append(doc_above(src, docs, s) + src[s:e].rstrip())
                continue
            head = src[s:brace].rstrip()
            body = members(src, code, docs, brace, e, "  ")
            items.append(doc_above(src, docs, s) + head + " {\n" + "".join(m + "\n" for m in body) + "}")
            continue
        items.append(doc_above(src, docs, s) + cut(src, code, s, e))
    sys.stdout.write("".join(item + "\n\n" for item in items).rstrip("\n") + ("\n" if items else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
