#!/usr/bin/env python3
"""python.py: the interface of a Python module, for mpbuild (rules/python.yaml).

Prints the module as its users see it: the module docstring, __all__, public
top-level constants (with their value when it is short), classes with their
decorators, bases, docstrings, fields and method signatures, and top-level
function signatures with their docstrings.  Bodies, imports and private
names (one leading underscore) are left out, so an implementation-only change
prints the same bytes.  Standard library only; exit 1 when the file does not
parse.  Usage: python.py FILE
"""
import ast
import sys

SHORT = 80  # longest value shown in full


def public(name):
    """Whether users of the module see name: not _private, dunders are."""
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def docstring(body):
    """The docstring statement of a body, or None."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def elide(value):
    """The value itself when short, else an ellipsis."""
    if value is None:
        return None
    if len(ast.unparse(value)) <= SHORT:
        return value
    return ast.Constant(value=...)


def function(node):
    """A def with its body cut to its docstring (or ...)."""
    doc = docstring(node.body)
    node.body = [doc] if doc else [ast.Expr(value=ast.Constant(value=...))]
    return node


def assignment(node):
    """A public assignment with a short value, or None."""
    if isinstance(node, ast.Assign):
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if len(names) != len(node.targets) or not all(public(n) for n in names):
            return None
        node.value = elide(node.value)
        return node
    if isinstance(node, ast.AnnAssign):
        if not isinstance(node.target, ast.Name) or not public(node.target.id):
            return None
        node.value = elide(node.value)
        return node
    return None


def members(body):
    """The interface statements of a module or class body."""
    out = []
    doc = docstring(body)
    if doc:
        out.append(doc)
    for node in body:
        if node is doc:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if public(node.name):
                out.append(function(node))
        elif isinstance(node, ast.ClassDef):
            if public(node.name):
                node.body = members(node.body) or [ast.Expr(value=ast.Constant(value=...))]
                out.append(node)
        else:
            kept = assignment(node)
            if kept is not None:
                out.append(kept)
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: python.py FILE", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=argv[1])
    except (SyntaxError, ValueError) as err:
        print(f"python.py: {argv[1]}: {err}", file=sys.stderr)
        return 1
    module = ast.Module(body=members(tree.body), type_ignores=[])
    text = ast.unparse(module)
    sys.stdout.write(text + "\n" if text else "")
    return 0


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")  # a SyntaxWarning in the module is not its interface
    sys.exit(main(sys.argv))
