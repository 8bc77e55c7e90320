#!/usr/bin/env python3
"""fake_server.py: a fake model API on 127.0.0.1 for mpbuild's tests.

It speaks the Anthropic Messages API (POST /v1/messages) and OpenAI Chat
Completions (POST /v1/chat/completions and /chat/completions) with the real
header and body shapes and the real error bodies; validates requests where the
real APIs would reject them (headers, fields, cache_control breakpoints,
forced tool_choice, sampling parameters, closed schemas of SPEC 10.11);
emulates prompt caching on a clock tests can advance (for Anthropic, entries
written at breakpoints that reach the model's minimum, read at a breakpoint or
at any of the 20 block boundaries before it, 5m/1h TTLs; automatic prefix
caching for OpenAI); answers from fixture files chosen by the `Target: ID`
line of the last user message; streams answers as server-sent events when a
request asks for it, as the real APIs do, in chunks as small as a test wants;
injects faults (statuses, retry headers, dropped connections, cut-off or
non-JSON bodies, delays, stalls, max_tokens stops, and for streams hang-ups,
early ends, stalls with pings and error events) per request number or per
target; and logs every request as one JSON line.

Python 3 standard library only.  Run with --help for the options; the control
API is described in docs/providers.md ("The fake server").
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANTHROPIC_VERSION = "2023-06-01"

# id: (minimum cacheable prefix in tokens, structured outputs, forced tool_choice, sampling parameters)
# kept in step with src/models.c
MODELS = {
    "claude-opus-5-5": (512, True, False, False),
    "claude-sonnet-5-5": (512, True, False, False),
    "claude-haiku-5-5": (2048, True, True, False),
    "claude-opus-5": (512, True, True, False),
    "claude-sonnet-5": (1024, True, True, False),
    "claude-opus-4-8": (1024, True, True, False),
    "claude-sonnet-4-6": (1024, True, True, True),
    "claude-haiku-4-5": (4096, True, True, True),
    "claude-sonnet-4-5": (1024, True, True, True),
    "claude-opus-4-1": (1024, False, True, True),
}
DEFAULT_MODEL = (1024, True, True, True)

ANTHROPIC_KEYS = {
    "model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "stream", "temperature",
    "top_k", "top_p", "tools", "tool_choice", "thinking", "output_config", "output_format", "cache_control",
    "service_tier", "container", "mcp_servers", "context_management",
}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 409: "invalid_request_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "api_error", 504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    401: "invalid x-api-key", 403: "Your API key does not have permission to use the specified resource.",
    404: "Not found", 408: "Request timed out", 413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit", 500: "Internal server error",
    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout", 529: "Overloaded",
}
TARGET_RE = re.compile(r"^Target: (\S+)[ \t]*$", re.M)
TTL = {"5m": 300, "1h": 3600}
# block boundaries before a breakpoint where the API also looks for a cached
# prefix ("approximately 20", the prompt-caching page)
LOOKBACK = 20


class Reject(Exception):
    """A request the real API would refuse: HTTP status, error type, message."""

    def __init__(self, status, message, etype=None, param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.etype = etype or ERROR_TYPES.get(status, "api_error")
        self.param = param


def tokens(nbytes):
    return int(math.ceil(nbytes / 4.0))


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """Everything the server remembers, behind one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.n = 0
        self.faults = []
        self.cache = {}            # prefix hash -> expiry (virtual clock)
        self.cache_life = {}       # prefix hash -> its TTL in seconds, which a hit renews
        self.openai_seen = set()   # prefix hashes seen by the OpenAI endpoint
        self.offset = float(args.clock_offset)
        self.asked = {}            # target -> requests so far
        self.ratelimit = {}
        self.answers = {}          # inline answers from /_control
        self.thinking = args.thinking
        self.chunk = args.chunk    # bytes per write of a streamed answer (0: one event per write)
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None

    def now(self):
        return time.time() + self.offset

    def add_faults(self, faults):
        if isinstance(faults, dict):
            faults = [faults]
        for f in faults:
            if not isinstance(f, dict):
                raise ValueError("a fault is a JSON object")
            f = dict(f)
            f.setdefault("times", 1)
            f["_used"] = 0
            self.faults.append(f)

    def take_fault(self, n, target, path):
        """The first pending fault matching request n (consumed once per use)."""
        for f in self.faults:
            if f["times"] and f["_used"] >= f["times"]:
                continue
            if "request" in f and f["request"] != n:
                continue
            if "target" in f and f["target"] != target:
                continue
            if "path" in f and f["path"] != path:
                continue
            f["_used"] += 1
            return {k: v for k, v in f.items() if not k.startswith("_")}
        return None

    def summary(self):
        return {
            "requests": self.n,
            "clock_offset": self.offset,
            "cache_entries": len(self.cache),
            "faults_pending": [
                {k: v for k, v in f.items() if not k.startswith("_")}
                for f in self.faults if not f["times"] or f["_used"] < f["times"]
            ],
            "asked": self.asked,
        }

    def write_log(self, entry):
        if not self.log:
            return
        with self.lock:
            self.log.write(json.dumps(entry, sort_keys=True) + "\n")
            self.log.flush()


# ---------------------------------------------------------------- schemas

def closed_schema_problem(schema, where):
    """SPEC 10.11: every object closed and every property required; the first problem or None."""
    def walk(s, path):
        if isinstance(s, list):
            for i, x in enumerate(s):
                r = walk(x, path + [str(i)])
                if r:
                    return r
            return None
        if not isinstance(s, dict):
            return None
        t = s.get("type")
        is_obj = t == "object" or (isinstance(t, list) and "object" in t) or "properties" in s
        at = ".".join(path) if path else "(root)"
        if is_obj:
            if s.get("additionalProperties") is not False:
                return ("For 'object' type, 'additionalProperties' must be explicitly set to false "
                        "(at %s)" % at, at, "additionalProperties")
            props = s.get("properties") or {}
            req = s.get("required") or []
            missing = [k for k in props if k not in req]
            if missing:
                return ("every property must be listed in 'required' (missing '%s' at %s); send optional "
                        "fields as required and nullable" % (missing[0], at), at, "required")
            for k, v in props.items():
                r = walk(v, path + ["properties", k])
                if r:
                    return r
        for key in ("items", "prefixItems", "anyOf", "oneOf", "allOf", "$defs", "definitions", "not"):
            if key in s:
                sub = s[key]
                if isinstance(sub, dict) and key in ("$defs", "definitions"):
                    for k, v in sub.items():
                        r = walk(v, path + [key, k])
                        if r:
                            return r
                else:
                    r = walk(sub, path + [key])
                    if r:
                        return r
        return None

    if not isinstance(schema, dict):
        return ("%s: the schema must be a JSON object" % where, "(root)", "type")
    r = walk(schema, [])
    if r:
        return ("%s: %s" % (where, r[0]), r[1], r[2])
    return None


# ---------------------------------------------------------------- answers

PLACEHOLDERS = {
    ".py": '"""Generated by the fake model server."""\n',
    ".json": "{}\n",
    ".yaml": "generated: true\n",
    ".yml": "generated: true\n",
    ".c": "/* generated by the fake model server */\n",
    ".h": "/* generated by the fake model server */\n",
    ".sh": "#!/bin/sh\n# generated by the fake model server\n",
    ".md": "# Generated\n\nBy the fake model server.\n",
    ".js": "// generated by the fake model server\n",
}


def declared_outputs(text):
    """The outputs: list of the task entry shown in the task layer (flow or block style)."""
    m = re.search(r"^\s*outputs:[ \t]*\[(.*?)\]\s*$", text, re.M)
    if m:
        return [x.strip().strip("'\"") for x in m.group(1).split(",") if x.strip()]
    m = re.search(r"^([ \t]*)outputs:[ \t]*\n((?:\1[ \t]*-[ \t]+.*\n?)+)", text, re.M)
    if m:
        return [re.sub(r"^[ \t]*-[ \t]+", "", line).strip().strip("'\"")
                for line in m.group(2).splitlines() if line.strip()]
    return []


def default_answer(target, text):
    files = []
    for path in declared_outputs(text):
        ext = os.path.splitext(path)[1]
        files.append({"path": path, "content": PLACEHOLDERS.get(ext, "generated by the fake model server\n")})
    return {"files": files, "summary": "fake answer for %s" % (target or "an unnamed target")}


def load_answer(state, target, k):
    """The k-th answer (1-based) for target: inline, DIR/TARGET.K.json, DIR/TARGET.json (an array is a queue)."""
    if target in state.answers:
        a = state.answers[target]
        if isinstance(a, list):
            return a[min(k, len(a)) - 1] if a else None
        return a
    d = state.args.answers
    if not d or not target or "/" in target or target.startswith("."):
        return None
    for name in ("%s.%d.json" % (target, k), "%s.json" % target):
        p = os.path.join(d, name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                a = json.load(f)
            if name == "%s.json" % target and isinstance(a, list):
                return a[min(k, len(a)) - 1] if a else None
            return a
    return None


def message_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def find_target(messages):
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            text = message_text(m.get("content"))
            t = TARGET_RE.search(text)
            return (t.group(1) if t else None), text
    return None, ""


# ---------------------------------------------------------------- Anthropic

def anthropic_validate(req, headers, state):
    """Raise Reject where the real Messages API would answer 4xx."""
    if not isinstance(req, dict):
        raise Reject(400, "body: Input should be a valid dictionary")
    for k in req:
        if k not in ANTHROPIC_KEYS:
            raise Reject(400, "%s: Extra inputs are not permitted" % k)
    model = req.get("model")
    if not isinstance(model, str) or not model:
        raise Reject(400, "model: Field required")
    if model not in MODELS and state.args.known_models_only:
        raise Reject(404, "model: %s" % model)
    min_cache, structured, forced_ok, sampling_ok = MODELS.get(model, DEFAULT_MODEL)
    mt = req.get("max_tokens")
    if mt is None:
        raise Reject(400, "max_tokens: Field required")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        raise Reject(400, "max_tokens: Input should be greater than or equal to 1")
    if "stream" in req and not isinstance(req["stream"], bool):
        raise Reject(400, "stream: Input should be a valid boolean")
    msgs = req.get("messages")
    if msgs is None:
        raise Reject(400, "messages: Field required")
    if not isinstance(msgs, list) or not msgs:
        raise Reject(400, "messages: at least one message is required")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise Reject(400, "messages.%d.role: Input should be 'user' or 'assistant'" % i)
        c = m.get("content")
        if isinstance(c, str):
            if not c:
                raise Reject(400, "messages: text content blocks must be non-empty")
        elif isinstance(c, list) and c:
            for j, b in enumerate(c):
                if not isinstance(b, dict) or "type" not in b:
                    raise Reject(400, "messages.%d.content.%d.type: Field required" % (i, j))
                if b["type"] == "text" and not b.get("text"):
                    raise Reject(400, "messages: text content blocks must be non-empty")
        else:
            raise Reject(400, "messages.%d.content: Field required" % i)
    if msgs[0].get("role") != "user":
        raise Reject(400, "messages: first message must use the \"user\" role")
    system = req.get("system")
    if system is not None:
        if isinstance(system, list):
            for j, b in enumerate(system):
                if not isinstance(b, dict) or b.get("type") != "text":
                    raise Reject(400, "system.%d.type: Input should be 'text'" % j)
                if not b.get("text"):
                    raise Reject(400, "system: text content blocks must be non-empty")
        elif not isinstance(system, str):
            raise Reject(400, "system: Input should be a valid string or list")
    if not sampling_ok:
        for p in ("temperature", "top_p", "top_k"):
            if p in req:
                raise Reject(400, "`%s` is deprecated for this model." % p)
    tools = req.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise Reject(400, "tools: Input should be a valid list")
        for j, t in enumerate(tools):
            if not isinstance(t, dict) or not re.match(r"^[a-zA-Z0-9_-]{1,64}$", str(t.get("name", ""))):
                raise Reject(400, "tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'" % j)
            if "type" not in t or t.get("type") == "custom":
                if not isinstance(t.get("input_schema"), dict):
                    raise Reject(400, "tools.%d.custom.input_schema: Field required" % j)
                p = closed_schema_problem(t["input_schema"], "tools.%d.custom.input_schema" % j)
                if p:
                    raise Reject(400, p[0])
    tc = req.get("tool_choice")
    if tc is not None:
        if not isinstance(tc, dict) or tc.get("type") not in ("auto", "any", "tool", "none"):
            raise Reject(400, "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if not tools:
            raise Reject(400, "tool_choice may only be specified while providing tools.")
        if tc["type"] in ("any", "tool") and not forced_ok:
            raise Reject(400, "tool_choice: forced tool use is not supported on %s; use tool_choice "
                         "{\"type\": \"auto\"} (or output_config.format for structured outputs)" % model)
        if tc["type"] == "tool" and tc.get("name") not in [t.get("name") for t in tools]:
            raise Reject(400, "tool_choice.name: tool '%s' is not among the tools" % tc.get("name"))
    oc = req.get("output_config")
    if oc is not None:
        if not isinstance(oc, dict):
            raise Reject(400, "output_config: Input should be a valid dictionary")
        for k in oc:
            if k not in ("format", "effort", "task_budget"):
                raise Reject(400, "output_config.%s: Extra inputs are not permitted" % k)
        if "effort" in oc and oc["effort"] not in ("low", "medium", "high", "xhigh", "max"):
            raise Reject(400, "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
        fmt = oc.get("format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
                raise Reject(400, "output_config.format.type: Input should be 'json_schema'")
            if not structured:
                raise Reject(400, "output_config.format: structured outputs are not supported on %s" % model)
            if not isinstance(fmt.get("schema"), dict):
                raise Reject(400, "output_config.format.schema: Field required")
            p = closed_schema_problem(fmt["schema"], "output_config.format.schema")
            if p:
                raise Reject(400, p[0])
    # cache_control: at most 4, valid TTLs, longer TTLs first
    blocks = prefix_blocks(req)
    marks = [b for b in blocks if b[2] is not None]
    if len(marks) > 4:
        raise Reject(400, "A maximum of 4 blocks with cache_control may be provided. Found %d." % len(marks))
    seen5m = False
    for b in marks:
        cc = b[2]
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
            raise Reject(400, "cache_control.type: Input should be 'ephemeral'")
        ttl = cc.get("ttl", "5m")
        if ttl not in TTL:
            raise Reject(400, "cache_control.ttl: Input should be '5m' or '1h'")
        if ttl == "5m":
            seen5m = True
        elif seen5m:
            raise Reject(400, "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block")
    return min_cache


def prefix_blocks(req):
    """The request in cache order (tools, system, messages): (canonical text, bytes, cache_control) per block."""
    out = []
    for t in req.get("tools") or []:
        if isinstance(t, dict):
            plain = {k: v for k, v in t.items() if k != "cache_control"}
            s = json.dumps(plain, sort_keys=True, separators=(",", ":"))
            # what counts toward the prefix: the schema, the description and the name
            size = len(json.dumps(plain.get("input_schema", {}), separators=(",", ":")).encode()) + \
                len(str(plain.get("description", "")).encode()) + len(str(plain.get("name", "")).encode())
            out.append(("tool:" + s, size, t.get("cache_control")))
    system = req.get("system")
    if isinstance(system, str):
        out.append(("system:" + system, len(system.encode()), None))
    elif isinstance(system, list):
        for b in system:
            if isinstance(b, dict):
                text = b.get("text", "")
                out.append(("system:" + text, len(text.encode()), b.get("cache_control")))
    for m in req.get("messages") or []:
        if not isinstance(m, dict):
            continue
        c = m.get("content")
        role = m.get("role", "")
        if isinstance(c, str):
            out.append(("%s:%s" % (role, c), len(c.encode()), None))
        elif isinstance(c, list):
            for b in c:
                if not isinstance(b, dict):
                    continue
                plain = {k: v for k, v in b.items() if k != "cache_control"}
                text = b.get("text") if b.get("type") == "text" else json.dumps(plain, sort_keys=True)
                out.append(("%s:%s" % (role, json.dumps(plain, sort_keys=True)), len(str(text).encode()),
                            b.get("cache_control")))
    return out


def anthropic_cache(state, req, min_cache):
    """Emulate prompt caching as the prompt-caching page describes it: an entry
    is written only at an explicit breakpoint (cache_control) whose prefix
    reaches the model's minimum; a breakpoint reads the longest cached prefix
    that ends at it or at one of the LOOKBACK block boundaries before it
    (tools, system blocks and message blocks alike), so a breakpoint finds
    what another request wrote at an earlier block of the same prefix; what
    lies between the hit and the last breakpoint is written, the rest is
    plain input.  A hit refreshes the entries it passes through."""
    blocks = prefix_blocks(req)
    model = req["model"]
    now = state.now()
    h = hashlib.sha256(("model:" + model).encode())
    cum = 0
    ends = []     # per block: (tokens of the prefix ending there, its hash)
    points = []   # per breakpoint: (block index, ttl)
    for i, (text, size, cc) in enumerate(blocks):
        h.update(b"\0" + text.encode("utf-8", "surrogatepass"))
        cum += size
        ends.append((tokens(cum), h.hexdigest()))
        if cc is not None:
            points.append((i, cc.get("ttl", "5m")))
    total = tokens(cum)
    read = 0
    w5 = w1 = 0
    if state.args.no_prompt_cache:
        points = []     # a provider without prompt caching: every input token is plain input
    with state.lock:
        hit = -1        # the block whose prefix is read
        for i, ttl in points:
            for j in range(max(0, i - LOOKBACK), i + 1):
                t, hx = ends[j]
                if j > hit and t >= min_cache and state.cache.get(hx, 0) > now:
                    hit = j
        if hit >= 0:
            read = ends[hit][0]
            for j in set([hit] + [i for i, ttl in points if i < hit]):
                hx = ends[j][1]
                if state.cache.get(hx, 0) > now:
                    state.cache[hx] = now + state.cache_life.get(hx, TTL["5m"])   # a hit refreshes the entry
        last = read
        for i, ttl in points:
            t, hx = ends[i]
            if i <= hit or t < min_cache or t <= last:
                continue
            if ttl == "1h":
                w1 += t - last
            else:
                w5 += t - last
            last = t
            state.cache[hx] = now + TTL[ttl]
            state.cache_life[hx] = TTL[ttl]
    return {
        "input_tokens": max(total - read - w5 - w1, 0),
        "cache_creation_input_tokens": w5 + w1,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
    }


def anthropic_content(req, answer, raw_text, fault, state, n):
    """The content blocks and stop reason of a successful answer."""
    thinking = fault.get("thinking", state.thinking) if fault else state.thinking
    oc = req.get("output_config") or {}
    tc = req.get("tool_choice") or {}
    tools = req.get("tools") or []
    blocks = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": "The task names its outputs; I will write them.",
                       "signature": "ZmFrZS1zaWduYXR1cmU="})
        blocks.append({"type": "redacted_thinking", "data": "ZmFrZS1yZWRhY3RlZA=="})
    stop = fault.get("stop_reason") if fault else None
    if tools and tc.get("type") != "none" and raw_text is None and "format" not in oc:
        name = tc.get("name") or tools[0].get("name")
        if stop == "max_tokens":
            blocks.append({"type": "tool_use", "id": "toolu_fake_%06d" % n, "name": name, "input": {}})
        else:
            blocks.append({"type": "tool_use", "id": "toolu_fake_%06d" % n, "name": name, "input": answer})
        text = json.dumps(answer)
        return blocks, stop or "tool_use", text
    text = raw_text if raw_text is not None else json.dumps(answer, ensure_ascii=False)
    if stop == "max_tokens":
        text = text[: max(len(text) // 2, 1)]
    blocks.append({"type": "text", "text": text})
    return blocks, stop or "end_turn", text


# ---------------------------------------------------------------- OpenAI

def openai_validate(req, state):
    if not isinstance(req, dict):
        raise Reject(400, "We could not parse the JSON body of your request.", "invalid_request_error")
    if not isinstance(req.get("model"), str) or not req["model"]:
        raise Reject(400, "you must provide a model parameter", "invalid_request_error", "model")
    msgs = req.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise Reject(400, "Missing required parameter: 'messages'.", "invalid_request_error", "messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            raise Reject(400, "Invalid value for 'messages[%d].role'." % i, "invalid_request_error",
                         "messages[%d].role" % i)
        if "content" not in m:
            raise Reject(400, "Missing required parameter: 'messages[%d].content'." % i, "invalid_request_error",
                         "messages[%d].content" % i)
    for p in ("max_tokens", "max_completion_tokens"):
        v = req.get(p)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise Reject(400, "Invalid '%s': integer below minimum value." % p, "invalid_request_error", p)
    rf = req.get("response_format")
    if rf is not None:
        if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
            raise Reject(400, "Invalid value for 'response_format.type'.", "invalid_request_error",
                         "response_format.type")
        if rf["type"] == "json_schema":
            js = rf.get("json_schema")
            if not isinstance(js, dict) or not re.match(r"^[a-zA-Z0-9_-]{1,64}$", str(js.get("name", ""))):
                raise Reject(400, "Missing required parameter: 'response_format.json_schema.name'.",
                             "invalid_request_error", "response_format.json_schema.name")
            if js.get("strict"):
                p = closed_schema_problem(js.get("schema"), "schema")
                if p:
                    raise Reject(400, "Invalid schema for response_format '%s': In context=%s, %s" % (
                        js["name"], openai_context(p[1]), openai_problem(p)), "invalid_request_error",
                        "response_format")
    tools = req.get("tools")
    if tools is not None:
        for j, t in enumerate(tools if isinstance(tools, list) else []):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(fn, dict) or not fn.get("name"):
                raise Reject(400, "Missing required parameter: 'tools[%d].function'." % j,
                             "invalid_request_error", "tools[%d].function" % j)
            if fn.get("strict"):
                p = closed_schema_problem(fn.get("parameters"), "parameters")
                if p:
                    raise Reject(400, "Invalid schema for function '%s': In context=%s, %s" % (
                        fn["name"], openai_context(p[1]), openai_problem(p)), "invalid_request_error",
                        "tools[%d]" % j)
    if req.get("tool_choice") is not None and not tools:
        raise Reject(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                     "specified.", "invalid_request_error", "tool_choice")
    so = req.get("stream_options")
    if so is not None and (not req.get("stream") or not isinstance(so, dict)):
        raise Reject(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                     "invalid_request_error", "stream_options")


def openai_context(at):
    """A schema path the way OpenAI prints it: () or ('properties', 'files', 'items')."""
    return "()" if at == "(root)" else repr(tuple(at.split(".")))


def openai_problem(p):
    if p[2] == "additionalProperties":
        return "'additionalProperties' is required to be supplied and to be false."
    return "'required' is required to be supplied and to be an array including every key in properties."


def openai_cache(state, req):
    """Automatic prefix caching: the longest seen prefix of at least 1024 tokens, in 128-token steps."""
    parts = []
    for k in ("tools", "response_format"):
        if k in req:
            parts.append(json.dumps(req[k], sort_keys=True, separators=(",", ":")))
    for m in req.get("messages") or []:
        parts.append("<%s>%s" % (m.get("role"), message_text(m.get("content"))))
    data = "".join(parts).encode("utf-8", "surrogatepass")
    total = tokens(len(data))
    cached = 0
    with state.lock:
        off = 4096
        while off <= len(data):
            hx = hashlib.sha256(req["model"].encode() + b"\0" + data[:off]).hexdigest()
            if hx in state.openai_seen:
                cached = off // 4
            state.openai_seen.add(hx)
            off += 512
    return total, cached


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-model-api/1"
    responses = dict(BaseHTTPRequestHandler.responses)
    responses[529] = ("Overloaded", "The API is temporarily overloaded")

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("fake_server: " + (fmt % args) + "\n")

    # -- plumbing

    def body_bytes(self):
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def flush_log(self, status=None):
        """Log the pending request before answering, so a client that has its answer finds it in the log."""
        entry = getattr(self, "entry", None)
        if entry is None:
            return
        if entry["status"] is None:
            entry["status"] = status
        entry["answered"] = time.time()
        self.entry = None
        self.server.state.write_log(entry)

    def send(self, status, obj, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.flush_log(status)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def hang_up(self):
        """Close the connection at once, whatever was (not) sent."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_headers(self):
        out = {}
        for k, v in self.headers.items():
            k = k.lower()
            if k in ("x-api-key", "authorization"):
                v = "[redacted %d bytes]" % len(v)
            out[k] = v
        return out

    def echo(self, text):
        """text with each {header:NAME} replaced by the request's NAME header, as careless servers echo keys."""
        return re.sub(r"\{header:([A-Za-z0-9-]+)\}", lambda m: self.headers.get(m.group(1)) or "", text)

    def extra_headers(self, fault):
        """Rate-limit headers (persistent and per fault); '+N' resets become now+N seconds."""
        st = self.server.state
        merged = dict(st.ratelimit)
        if fault and isinstance(fault.get("headers"), dict):
            merged.update(fault["headers"])
        out = {}
        for k, v in merged.items():
            v = str(v)
            if k.endswith("-reset") and v.startswith("+"):
                v = rfc3339(time.time() + float(v[1:]))
            out[k] = v
        return out

    # -- routes

    def do_GET(self):
        if self.path == "/_control":
            with self.server.state.lock:
                self.send(200, self.server.state.summary())
            return
        if self.path in ("/v1/models", "/models"):
            self.send(200, {"data": [{"id": m, "type": "model"} for m in MODELS], "object": "list"})
            return
        self.send(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})

    def do_PUT(self):
        self.body_bytes()
        self.send(405, {"type": "error", "error": {"type": "invalid_request_error", "message": "Method not allowed"}})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        raw = self.body_bytes()
        if path == "/_control":
            self.control(raw)
        elif path == "/v1/messages":
            self.model_call("anthropic", path, raw)
        elif path in ("/v1/chat/completions", "/chat/completions"):
            self.model_call("openai", path, raw)
        else:
            self.send(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})

    def control(self, raw):
        st = self.server.state
        try:
            c = json.loads(raw or b"{}")
            if not isinstance(c, dict):
                raise ValueError("the control body is a JSON object")
            with st.lock:
                if c.get("clear_faults") or c.get("reset"):
                    st.faults = []
                if c.get("clear_cache") or c.get("reset"):
                    st.cache.clear()
                    st.cache_life.clear()
                    st.openai_seen.clear()
                if c.get("reset"):
                    st.n = 0
                    st.asked = {}
                    st.ratelimit = {}
                    st.answers = {}
                if "faults" in c:
                    st.add_faults(c["faults"])
                if "advance" in c:
                    st.offset += float(c["advance"])
                if "clock_offset" in c:
                    st.offset = float(c["clock_offset"])
                if "ratelimit" in c:
                    if not isinstance(c["ratelimit"], dict):
                        raise ValueError("ratelimit is an object of header names and values")
                    st.ratelimit = dict(c["ratelimit"])
                if "answers" in c:
                    st.answers.update(c["answers"])
                if "thinking" in c:
                    st.thinking = bool(c["thinking"])
                if "chunk" in c:
                    st.chunk = int(c["chunk"])
                out = st.summary()
        except (ValueError, TypeError) as e:
            self.send(400, {"error": str(e)})
            return
        self.send(200, out)

    def model_call(self, api, path, raw):
        st = self.server.state
        with st.lock:
            st.n += 1
            n = st.n
        entry = {"n": n, "api": api, "time": time.time(), "method": "POST", "path": path,
                 "headers": self.log_headers(), "body": raw.decode("utf-8", "replace"),
                 "target": None, "status": None, "usage": None, "fault": None}
        try:
            req = json.loads(raw)
        except ValueError:
            req = None
        target, text = find_target(req.get("messages") if isinstance(req, dict) else None)
        entry["target"] = target
        with st.lock:
            k = 1
            if target:
                k = st.asked[target] = st.asked.get(target, 0) + 1
            fault = st.take_fault(n, target, path)
        entry["fault"] = fault
        self.entry = entry
        try:
            self.answer(api, req, raw, target, text, k, fault, n, entry)
        except (BrokenPipeError, ConnectionResetError):
            self.flush_log("client went away")
        self.flush_log()

    def reject(self, api, e, n, headers):
        if api == "anthropic":
            body = {"type": "error", "error": {"type": e.etype, "message": e.message},
                    "request_id": "req_fake_%06d" % n}
        else:
            body = {"error": {"message": e.message, "type": e.etype, "param": e.param, "code": None}}
        self.send(e.status, body, headers)

    def answer(self, api, req, raw, target, text, k, fault, n, entry):
        st = self.server.state
        args = st.args
        hdrs = {"request-id": "req_fake_%06d" % n} if api == "anthropic" else {"x-request-id": "req_fake_%06d" % n}
        hdrs.update(self.extra_headers(fault))
        f = fault or {}
        if f.get("delay"):
            time.sleep(float(f["delay"]))
        # headers the real APIs check before anything else
        try:
            if api == "anthropic":
                key = self.headers.get("x-api-key")
                if not key:
                    raise Reject(401, "x-api-key header is required")
                if args.api_key and key != args.api_key:
                    raise Reject(401, "invalid x-api-key")
                v = self.headers.get("anthropic-version")
                if not v:
                    raise Reject(400, "anthropic-version: header is required")
                if v != ANTHROPIC_VERSION:
                    raise Reject(400, "anthropic-version: unsupported version '%s'" % v)
            else:
                auth = self.headers.get("authorization") or ""
                if not auth and not args.openai_keyless:
                    raise Reject(401, "You didn't provide an API key. You need to provide your API key in an "
                                 "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                                 "invalid_request_error")
                if auth and (not auth.startswith("Bearer ") or (args.api_key and auth[7:] != args.api_key)):
                    raise Reject(401, "Incorrect API key provided.", "invalid_request_error", None)
            ct = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
            if ct != "application/json":
                raise Reject(400, "content-type: must be application/json")
        except Reject as e:
            self.reject(api, e, n, hdrs)
            return
        # faults that replace the answer
        if f.get("drop"):
            self.flush_log("dropped")
            self.hang_up()
            return
        if f.get("status") and f["status"] != 200:
            status = int(f["status"])
            for name, hv in (("retry_after", "retry-after"), ("retry_after_ms", "retry-after-ms"),
                             ("should_retry", "x-should-retry")):
                if name in f:
                    v = f[name]
                    hdrs[hv] = ("true" if v else "false") if isinstance(v, bool) else str(v)
            if "body" in f:
                raw_body = f["body"] if isinstance(f["body"], str) else json.dumps(f["body"])
                self.send(status, None, hdrs, raw=self.echo(raw_body).encode())
            else:
                e = Reject(status, self.echo(f.get("message") or ERROR_MESSAGES.get(status, "error")),
                           f.get("error_type"))
                self.reject(api, e, n, hdrs)
            return
        if f.get("garbage") or (f.get("status") == 200 and "body" in f):
            raw_body = f.get("body", "<html><body>502 Bad Gateway</body></html>")
            self.send(200, None, hdrs, raw=raw_body.encode() if isinstance(raw_body, str) else raw_body)
            return
        # validation
        try:
            if req is None:
                raise Reject(400, "There was an error parsing the body of your request: it is not valid JSON")
            if req.get("stream") and args.no_stream:
                raise Reject(400, "stream: this server cannot stream", "invalid_request_error", "stream")
            if api == "anthropic":
                min_cache = anthropic_validate(req, self.headers, st)
            else:
                openai_validate(req, st)
        except Reject as e:
            self.reject(api, e, n, hdrs)
            return
        # the answer
        answer = f.get("answer")
        raw_text = f.get("text")
        if answer is None and raw_text is None:
            answer = load_answer(st, target, k)
            if answer is None:
                if args.strict_answers:
                    e = Reject(500, "fake server: no answer for target %s" % target, "api_error")
                    self.reject(api, e, n, hdrs)
                    return
                answer = default_answer(target, text)
        if api == "anthropic":
            usage = anthropic_cache(st, req, min_cache)
            blocks, stop, out_text = anthropic_content(req, answer, raw_text, f, st, n)
            usage["output_tokens"] = tokens(len(out_text.encode())) + (40 if any(
                b["type"] == "thinking" for b in blocks) else 0)
            usage["service_tier"] = "standard"
            body = {"id": "msg_fake_%06d" % n, "type": "message", "role": "assistant", "model": req["model"],
                    "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
        else:
            total, cached = openai_cache(st, req)
            stop = f.get("stop_reason")
            msg = {"role": "assistant", "content": None, "refusal": None}
            if st.thinking or f.get("thinking"):
                msg["reasoning_content"] = "The task names its outputs; I will write them."
            tools = req.get("tools")
            if tools and req.get("tool_choice") != "none" and raw_text is None:
                name = tools[0]["function"]["name"]
                tc = req.get("tool_choice")
                if isinstance(tc, dict) and isinstance(tc.get("function"), dict):
                    name = tc["function"].get("name", name)
                args_text = json.dumps(answer)
                if stop == "max_tokens":
                    args_text = args_text[: len(args_text) // 2]
                msg["tool_calls"] = [{"id": "call_fake_%06d" % n, "type": "function",
                                      "function": {"name": name, "arguments": args_text}}]
                out_text = args_text
                finish = "tool_calls"
            else:
                out_text = raw_text if raw_text is not None else json.dumps(answer, ensure_ascii=False)
                if stop == "max_tokens":
                    out_text = out_text[: len(out_text) // 2]
                msg["content"] = out_text
                finish = "stop"
            if stop == "max_tokens":
                finish = "length"
            out = tokens(len(out_text.encode()))
            usage = {"prompt_tokens": total, "completion_tokens": out, "total_tokens": total + out,
                     "prompt_tokens_details": {"cached_tokens": cached},
                     "completion_tokens_details": {"reasoning_tokens": 0}}
            body = {"id": "chatcmpl-fake-%06d" % n, "object": "chat.completion", "created": int(time.time()),
                    "model": req["model"], "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                    "usage": usage}
        entry["usage"] = usage
        if isinstance(req, dict) and req.get("stream"):
            if api == "anthropic":
                events = anthropic_events(body)
            else:
                events = openai_events(body, bool((req.get("stream_options") or {}).get("include_usage")))
            self.stream(api, events, hdrs, f)
            return
        data = json.dumps(body).encode()
        if f.get("cut"):
            # announce more than is sent, then hang up
            self.flush_log("cut")
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data) + 4096))
            for hk, hv in hdrs.items():
                self.send_header(hk, hv)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.hang_up()
            return
        if f.get("stall"):
            self.flush_log(200)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for hk, hv in hdrs.items():
                self.send_header(hk, hv)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(float(f["stall"]))
            self.wfile.write(data[len(data) // 2:])
            self.wfile.flush()
            return
        self.send(200, None, hdrs, raw=data)

    def stream(self, api, events, hdrs, f):
        """Send events as text/event-stream in HTTP chunks, with the stream faults applied."""
        half = max(len(events) // 2, 1)
        tail = []
        if f.get("error_event"):
            etype = str(f["error_event"])
            status = next((k for k, v in ERROR_TYPES.items() if v == etype), 500)
            msg = ERROR_MESSAGES.get(status, "error")
            if api == "anthropic":
                err = ("error", {"type": "error", "error": {"type": etype, "message": msg}})
            else:
                err = (None, {"error": {"message": msg, "type": etype, "param": None, "code": None}})
            events = events[:half] + [err]
        elif f.get("stream_cut"):
            events = events[:half]
        elif f.get("stall"):
            events, tail = events[:half], events[half:]
        self.flush_log("cut" if f.get("cut") else 200)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for hk, hv in hdrs.items():
            self.send_header(hk, hv)
        self.end_headers()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        step = int(f.get("chunk") or self.server.state.chunk or 0)
        drip = float(f.get("drip") or 0)
        data = sse_bytes(events)
        if f.get("cut"):
            # hang up in the middle: half the bytes and no last chunk
            self.write_chunks(data[: len(data) // 2], step)
            self.hang_up()
            return
        self.write_chunks(data, step, drip)
        if tail:
            # nothing for stall seconds, or only pings every ping seconds
            until = time.time() + float(f["stall"])
            ping = float(f.get("ping") or 0)
            while time.time() < until:
                time.sleep(min(ping, until - time.time()) if ping else until - time.time())
                if ping and time.time() < until:
                    self.write_chunks(sse_bytes([("ping", {"type": "ping"})]) if api == "anthropic"
                                      else b": ping\n\n", 0)
            self.write_chunks(sse_bytes(tail), step)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def write_chunks(self, data, step, drip=0):
        """data as HTTP chunks of step bytes (0: one chunk), each flushed at
        once, drip seconds apart (a slow answer arriving)."""
        step = step if step > 0 else max(len(data), 1)
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            if drip and i:
                time.sleep(drip)
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.flush()


def pieces(text, n=17):
    """text in pieces of n characters, the way deltas arrive (at least one piece)."""
    return [text[i:i + n] for i in range(0, len(text), n)] or [""]


def sse_bytes(events):
    out = []
    for name, data in events:
        if name:
            out.append("event: %s\n" % name)
        out.append("data: %s\n\n" % (data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)))
    return "".join(out).encode("utf-8", "surrogatepass")


def anthropic_events(body):
    """The Messages API stream of message body: message_start, each block as
    content_block_start/delta.../stop (a ping after the first start),
    message_delta with the stop reason and the cumulative output tokens, message_stop."""
    usage = body["usage"]
    start = dict(body, content=[], stop_reason=None, stop_sequence=None, usage=dict(usage, output_tokens=1))
    ev = [("message_start", {"type": "message_start", "message": start})]
    for i, b in enumerate(body["content"]):
        def delta(d):
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}))
        if b["type"] == "text":
            first = {"type": "text", "text": ""}
        elif b["type"] == "tool_use":
            first = dict(b, input={})
        elif b["type"] == "thinking":
            first = {"type": "thinking", "thinking": ""}
        else:
            first = b
        ev.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": first}))
        if i == 0:
            ev.append(("ping", {"type": "ping"}))
        if b["type"] == "text":
            for p in pieces(b["text"]):
                delta({"type": "text_delta", "text": p})
        elif b["type"] == "tool_use":
            for p in pieces(json.dumps(b["input"])):
                delta({"type": "input_json_delta", "partial_json": p})
        elif b["type"] == "thinking":
            for p in pieces(b["thinking"]):
                delta({"type": "thinking_delta", "thinking": p})
            delta({"type": "signature_delta", "signature": b["signature"]})
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
                                 "usage": {"output_tokens": usage["output_tokens"]}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev


def openai_events(body, include_usage):
    """The Chat Completions stream of completion body: chat.completion.chunk
    deltas, the finish reason, the usage chunk when asked for, data: [DONE]."""
    base = {k: body[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    choice = body["choices"][0]
    msg = choice["message"]

    def chunk(delta, finish=None):
        c = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])
        if include_usage:
            c["usage"] = None
        return (None, c)
    ev = [chunk({"role": "assistant", "content": "" if not msg.get("tool_calls") else None, "refusal": None})]
    if msg.get("reasoning_content"):
        ev += [chunk({"reasoning_content": p}) for p in pieces(msg["reasoning_content"])]
    if msg.get("tool_calls"):
        tc = msg["tool_calls"][0]
        ev.append(chunk({"tool_calls": [{"index": 0, "id": tc["id"], "type": "function",
                                         "function": {"name": tc["function"]["name"], "arguments": ""}}]}))
        ev += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
               for p in pieces(tc["function"]["arguments"])]
    else:
        ev += [chunk({"content": p}) for p in pieces(msg["content"] or "")]
    ev.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        ev.append((None, dict(base, choices=[], usage=body["usage"])))
    ev.append((None, "[DONE]"))
    return ev


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="A fake Anthropic Messages / OpenAI Chat Completions server on 127.0.0.1 for tests.",
        epilog="Faults are JSON objects: {\"request\": N | \"target\": ID, \"times\": K (0: always), "
               "\"status\": S, \"message\": M, \"error_type\": T, \"body\": B (in M and B, {header:NAME} is the "
               "request's NAME header, e.g. {header:x-api-key}), \"retry_after\": SEC, "
               "\"retry_after_ms\": MS, \"should_retry\": BOOL, \"headers\": {...}, \"drop\": true, "
               "\"cut\": true, \"garbage\": true, \"delay\": SEC, \"stall\": SEC, "
               "\"stop_reason\": \"max_tokens\", \"thinking\": BOOL, \"answer\": OBJ, \"text\": STR; "
               "for streamed answers also \"error_event\": TYPE, \"stream_cut\": true, \"ping\": SEC, "
               "\"chunk\": N}. "
               "POST /_control takes {\"faults\": [...], \"clear_faults\", \"clear_cache\", \"reset\", "
               "\"advance\": SEC, \"clock_offset\": SEC, \"ratelimit\": {...}, \"answers\": {...}, "
               "\"thinking\": BOOL, \"chunk\": N}; GET /_control shows the state.")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--answers", metavar="DIR", help="fixtures: DIR/TARGET.json (an array is a queue) or DIR/TARGET.N.json")
    p.add_argument("--log", metavar="FILE", help="append one JSON object per request")
    p.add_argument("--fault", action="append", default=[], metavar="JSON",
                   help="a fault object or a list of them (repeatable)")
    p.add_argument("--faults", metavar="FILE", help="a JSON file holding a list of faults")
    p.add_argument("--ratelimit", action="append", default=[], metavar="NAME=VALUE",
                   help="a header sent with every answer, e.g. anthropic-ratelimit-requests-remaining=0; "
                        "a *-reset value of +N means N seconds from now")
    p.add_argument("--clock-offset", type=float, default=0, metavar="SEC",
                   help="start the cache clock SEC seconds ahead of real time")
    p.add_argument("--thinking", action="store_true", help="put thinking blocks before every answer")
    p.add_argument("--no-prompt-cache", action="store_true",
                   help="accept cache_control but cache nothing (a reference for bench/cost.py)")
    p.add_argument("--api-key", help="the only key accepted (default: any non-empty key)")
    p.add_argument("--openai-keyless", action="store_true",
                   help="accept OpenAI requests without Authorization, as local servers do")
    p.add_argument("--known-models-only", action="store_true", help="answer 404 for models not in the table")
    p.add_argument("--strict-answers", action="store_true",
                   help="answer 500 when a target has no fixture (default: placeholder files for its outputs)")
    p.add_argument("--no-stream", action="store_true",
                   help="answer 400 to requests with stream: true, as a server that cannot stream")
    p.add_argument("--chunk", type=int, default=0, metavar="N",
                   help="write streamed answers N bytes at a time (0: one event at a time)")
    p.add_argument("-v", "--verbose", action="store_true", help="log each request to stderr")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    state = State(args)
    try:
        for spec in args.fault:
            state.add_faults(json.loads(spec))
        if args.faults:
            with open(args.faults, encoding="utf-8") as f:
                state.add_faults(json.load(f))
        for kv in args.ratelimit:
            name, _, value = kv.partition("=")
            state.ratelimit[name.strip().lower()] = value
    except (ValueError, OSError) as e:
        sys.stderr.write("fake_server: %s\n" % e)
        return 2
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = state
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("fake_server: listening on 127.0.0.1:%d" % port, flush=True)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
        if state.log:
            state.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
