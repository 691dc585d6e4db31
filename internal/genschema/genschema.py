#!/usr/bin/python3
"""genschema writes frontend/schema_gen.go: for every ONNX operator version,
its input and output counts, which inputs and outputs are optional or
variadic, and its attributes' types, so that the frontend refuses a
malformed node the way the ONNX checker does before any importer sees it.

The source is the operator schemas of Debian's python3-onnx (onnx.defs).
That package (1.12) stops at opset 17; versions it does not know are read
from ONNX's operator changelogs (docs/Changelog.md and Changelog-ml.md of
the ONNX release mlc follows, given with --changelog), and the two sources
are checked against each other on every version both describe, so a parse
error in the changelog reader fails the generator instead of going into
the table.

    /usr/bin/python3 internal/genschema/genschema.py \\
        --changelog ONNX/docs/Changelog.md --changelog ONNX/docs/Changelog-ml.md \\
        | gofmt > frontend/schema_gen.go

(run from the repository root; `go generate ./frontend` does it when
$ONNX_DOCS names the docs folder.)
"""

import argparse
import html
import re
import sys

import onnx
import onnx.defs

# AttributeProto.AttributeType codes.
ATTR_TYPES = {
    "float": 1, "int": 2, "string": 3, "tensor": 4, "graph": 5,
    "list of floats": 6, "list of ints": 7, "list of strings": 8,
    "list of tensors": 9, "list of graphs": 10, "sparse_tensor": 11,
    "list of sparse_tensors": 12, "type_proto": 13, "list of type_protos": 14,
}
UNBOUNDED = 2147483647


class Schema:
    def __init__(self, domain, name, since):
        self.domain, self.name, self.since = domain, name, since
        self.min_in = self.max_in = self.min_out = self.max_out = 0
        self.ins = ""   # one letter per formal input: S single, O optional, V variadic
        self.outs = ""
        self.attrs = {}  # name -> (type code, required)

    def key(self):
        return (self.domain, self.name, self.since)

    def facts(self):
        return (self.min_in, self.max_in, self.min_out, self.max_out, self.ins, self.outs,
                tuple(sorted(self.attrs.items())))


def option_letter(opt):
    return {0: "S", 1: "O", 2: "V"}[int(opt.value if hasattr(opt, "value") else opt)]


def from_defs():
    out = {}
    for s in onnx.defs.get_all_schemas_with_history():
        d = "" if s.domain == "ai.onnx" else s.domain
        sc = Schema(d, s.name, s.since_version)
        sc.min_in, sc.max_in = s.min_input, s.max_input
        sc.min_out, sc.max_out = s.min_output, s.max_output
        sc.ins = "".join(option_letter(p.option) for p in s.inputs)
        sc.outs = "".join(option_letter(p.option) for p in s.outputs)
        for name, a in s.attributes.items():
            sc.attrs[name] = (int(a.type.value if hasattr(a.type, "value") else a.type), bool(a.required))
        out[sc.key()] = sc
    return out


SECTION = re.compile(r'^### <a name="([^"]+)-(\d+)"></a>\*\*')
COUNT = re.compile(r"^#### (Inputs|Outputs)(?: \((\d+) - ([^)]+)\))?\s*$")
PARAM = re.compile(r"^<dt><tt>([^<]+)</tt>(?: \(([^)]*)\))? : (.*)</dt>\s*$")
ATTR = re.compile(r"^<dt><tt>([^<]+)</tt> : ([a-z_ ]+?)(?: \((required|default is .*)\))?</dt>\s*$")


def from_changelog(path, default_domain):
    """Parses the operator sections of an ONNX changelog."""
    out = {}
    cur, part = None, None
    counts = {}
    lines = open(path, encoding="utf-8").read().split("\n")

    def finish():
        if cur is None:
            return
        for kind in ("Inputs", "Outputs"):
            letters = cur.ins if kind == "Inputs" else cur.outs
            lo, hi = counts.get(kind, (None, None))
            if lo is None:  # no range given: every formal parameter, once
                lo = hi = len(letters)
            if kind == "Inputs":
                cur.min_in, cur.max_in = lo, hi
            else:
                cur.min_out, cur.max_out = lo, hi
        out[cur.key()] = cur

    for line in lines:
        m = SECTION.match(line)
        if m:
            finish()
            full, since = m.group(1), int(m.group(2))
            domain, _, name = full.rpartition(".")
            if not domain:
                domain = default_domain
            cur, part, counts = Schema(domain, name, since), None, {}
            continue
        if cur is None:
            continue
        if "has been deprecated" in line:
            cur = None  # deprecated versions describe no parameters
            continue
        if line.startswith("## "):  # the next opset's heading
            finish()
            cur = None
            continue
        if line.startswith("#### "):
            m = COUNT.match(line)
            part = None
            if line.startswith("#### Attributes"):
                part = "attrs"
            elif m:
                part = m.group(1)
                if m.group(2) is not None:
                    hi = m.group(3).strip()
                    hi = UNBOUNDED if hi == "&#8734;" else int(hi)
                    counts[part] = (int(m.group(2)), hi)
            continue
        if part == "attrs":
            m = ATTR.match(line)
            if m:
                t = ATTR_TYPES.get(m.group(2).strip())
                if t is None:
                    sys.exit("%s: %s-%d: attribute type %r" % (path, cur.name, cur.since, m.group(2)))
                cur.attrs[html.unescape(m.group(1))] = (t, m.group(3) == "required")
            elif line.startswith("<dt>"):
                sys.exit("%s: %s-%d: cannot read attribute line %r" % (path, cur.name, cur.since, line))
        elif part in ("Inputs", "Outputs"):
            m = PARAM.match(line)
            if m:
                opts = m.group(2) or ""
                letter = "V" if "variadic" in opts else "O" if re.search(r"\boptional\b", opts) else "S"
                if part == "Inputs":
                    cur.ins += letter
                else:
                    cur.outs += letter
            elif line.startswith("<dt>"):
                sys.exit("%s: %s-%d: cannot read parameter line %r" % (path, cur.name, cur.since, line))
    finish()
    return out


def go_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changelog", action="append", default=[])
    args = ap.parse_args()
    table = from_defs()
    defs_max = {}
    for (d, _, v) in table:
        defs_max[d] = max(defs_max.get(d, 0), v)
    # max_opset: the newest version of each domain either source knows.
    max_opset = dict(defs_max)
    extra, checked = 0, 0
    for path in args.changelog:
        domain = "ai.onnx.ml" if path.endswith("-ml.md") else ""
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^## Version (\d+) of (?:the default ONNX|the '([^']+)') operator set", line)
            if m:
                d = m.group(2) or ""
                d = "" if d == "ai.onnx" else d
                max_opset[d] = max(max_opset.get(d, 0), int(m.group(1)))
        for key, sc in from_changelog(path, domain).items():
            if key in table:
                checked += 1
                if table[key].facts() != sc.facts():
                    sys.exit("the changelog and onnx.defs disagree on %s %s-%d:\n  defs:      %s\n  changelog: %s"
                             % (key[0] or "ai.onnx", key[1], key[2], table[key].facts(), sc.facts()))
            elif key[2] > defs_max.get(key[0], 0) or key[0] not in defs_max:
                table[key] = sc
                extra += 1
    w = sys.stdout.write
    w("// Code generated by internal/genschema from onnx %s's onnx.defs" % onnx.__version__)
    if args.changelog:
        w(" and ONNX's operator changelogs")
    w("; DO NOT EDIT.\n\n")
    w("package frontend\n\n")
    w("// %d operator versions: %d from onnx.defs, %d newer ones from the changelogs\n" % (len(table), len(table) - extra, extra))
    w("// (%d versions both describe agree).\n\n" % checked)
    w("// maxOpset is the newest version of each operator set ONNX defines.\n")
    w("var maxOpset = map[string]int64{\n")
    for d in sorted(max_opset):
        w("\t%s: %d,\n" % (go_quote(d), max_opset[d]))
    w("}\n\n")
    w("// schemas lists each operator's versions, oldest first, by domain/op.\n")
    w("var schemas = map[string][]opSchema{\n")
    byop = {}
    for key in sorted(table):
        byop.setdefault(key[0] + "/" + key[1], []).append(table[key])
    for op in sorted(byop):
        w("\t%s: {\n" % go_quote(op))
        for sc in byop[op]:
            attrs = ", ".join("%s: %s" % (go_quote(n), ("{%d, true}" % t) if req else ("{%d, false}" % t))
                              for n, (t, req) in sorted(sc.attrs.items()))
            w("\t\t{%d, %d, %d, %d, %d, %s, %s, map[string]attrSchema{%s}},\n" % (
                sc.since, sc.min_in, sc.max_in, sc.min_out, sc.max_out, go_quote(sc.ins), go_quote(sc.outs), attrs))
        w("\t},\n")
    w("}\n")


if __name__ == "__main__":
    main()
