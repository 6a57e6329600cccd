#!/usr/bin/env python3
"""Checks that a tutorial in docs/ shows real code and real output.

Every fenced code block of the markdown file must follow a marker comment:

  <!-- source: examples/NAME.cpp -->      the block is an excerpt of that file: its lines appear
                                          there in order and contiguously; a line `// ...` stands
                                          for lines left out.
  <!-- output: NAME [ARGS...] [rtol=R] [needs=PATH] -->
                                          the block is what examples/NAME prints when run with
                                          ARGS: the same lines, with a line `...` standing for
                                          lines left out. Numbers compare with a relative
                                          tolerance R (default 1e-9, plus 1e-12 absolute), so that
                                          the last digit of a float32 result may differ between
                                          CPUs where R says so. needs=PATH: skipped (and said so)
                                          when PATH does not exist (a data set).
  <!-- graph: NAME ARGS... -> FILE.svg -->
                                          (before an image, not a code block) running NAME with
                                          ARGS writes a .dot; every label line in it must appear as
                                          text in the committed FILE.svg.

usage: check_tutorial.py TUTORIAL.md EXAMPLES_BUILD_DIR
Prints one line per check and exits with 1 if any fails.
"""
import html
import os
import re
import subprocess
import sys
import tempfile

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")


def split_numbers(line):
    """The line as (text with numbers replaced by #, list of numbers)."""
    nums = []

    def keep(m):
        nums.append(m.group(0))
        return "#"

    return NUMBER.sub(keep, line), nums


def same_line(want, got, rtol):
    if want == got:
        return True
    tw, nw = split_numbers(want)
    tg, ng = split_numbers(got)
    if tw != tg or len(nw) != len(ng):
        return False
    for a, b in zip(nw, ng):
        if a == b:
            continue
        try:
            x, y = float(a), float(b)
        except ValueError:
            return False
        if not abs(x - y) <= rtol * max(abs(x), abs(y)) + 1e-12:
            return False
    return True


def matches(block, lines, same, ellipsis):
    """True when block (with ellipsis lines) matches lines from the start to the end."""
    # segments between ellipses must appear in order; the first anchors at the start unless the
    # block opens with an ellipsis, the last at the end unless it closes with one.
    segments, cur = [], []
    for b in block:
        if b.strip() == ellipsis:
            segments.append(cur)
            cur = []
        else:
            cur.append(b)
    segments.append(cur)
    pos = 0
    for i, seg in enumerate(segments):
        if not seg:
            continue
        first, last = i == 0, i == len(segments) - 1
        found = -1
        starts = [0] if first else range(pos, len(lines) - len(seg) + 1)
        for s in starts:
            if s + len(seg) <= len(lines) and all(same(a, b) for a, b in zip(seg, lines[s:s + len(seg)])):
                if last and s + len(seg) != len(lines):
                    continue
                found = s
                break
        if found < 0:
            return False, closest(seg, lines, list(starts), same)
        pos = found + len(seg)
    if segments[-1] and pos != len(lines):
        return False, "(the program prints more lines after the block's last one)"
    return True, None


def closest(seg, lines, starts, same, what="printed"):
    """Where seg comes closest to matching: the first line that differs, and what was printed."""
    best, best_at = -1, 0
    for s in starts:
        k = 0
        while k < len(seg) and s + k < len(lines) and same(seg[k], lines[s + k]):
            k += 1
        if k > best:
            best, best_at = k, s
    if best < 0:
        return f"{seg[0]!r} (nothing there matches)"
    if best_at + best >= len(lines):
        return f"{seg[best]!r} (nothing more there)"
    return f"{seg[best]!r}, {what}: {lines[best_at + best]!r}"


def is_excerpt(block, source_lines):
    """Lines of block appear in source in order; `// ...` lines skip; otherwise contiguous."""
    block = [b.rstrip() for b in block]
    src = [s.rstrip() for s in source_lines]
    segments, cur = [], []
    for b in block:
        if b.strip() == "// ...":
            segments.append(cur)
            cur = []
        else:
            cur.append(b)
    segments.append(cur)
    pos = 0
    for seg in segments:
        if not seg:
            continue
        found = -1
        for s in range(pos, len(src) - len(seg) + 1):
            if src[s:s + len(seg)] == seg:
                found = s
                break
        if found < 0:
            return False, closest(seg, src, list(range(pos, len(src))), lambda a, b: a == b, "the file has")
        pos = found + len(seg)
    return True, None


def run(exe_dir, name, args):
    exe = os.path.join(exe_dir, name)
    p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def main():
    md_path, exe_dir = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.abspath(md_path)))
    text = open(md_path, encoding="utf-8").read().splitlines()
    failures, checks, cache = 0, 0, {}
    marker = None
    i = 0
    while i < len(text):
        line = text[i]
        m = re.match(r"\s*<!--\s*(source|output|graph):\s*(.*?)\s*-->\s*$", line)
        if m:
            marker = (m.group(1), m.group(2), i + 1)
            if m.group(1) == "graph":
                checks += 1
                failures += not check_graph(m.group(2), exe_dir, root, md_path)
                marker = None
            i += 1
            continue
        if line.startswith("```"):
            start = i + 1
            j = start
            while j < len(text) and not text[j].startswith("```"):
                j += 1
            block = text[start:j]
            i = j + 1
            checks += 1
            if marker is None:
                print(f"FAIL line {start}: a code block without a <!-- source: --> or <!-- output: --> marker")
                failures += 1
                continue
            kind, arg, at = marker
            marker = None
            if kind == "source":
                path = os.path.join(root, arg)
                if not os.path.exists(path):
                    print(f"FAIL line {start}: {arg} does not exist")
                    failures += 1
                    continue
                ok, bad = is_excerpt(block, open(path, encoding="utf-8").read().splitlines())
                print(f"{'ok  ' if ok else 'FAIL'} line {start}: code block is an excerpt of {arg}" +
                      ("" if ok else f"; the block says {bad}"))
                failures += not ok
            else:
                words = arg.split()
                name, args, rtol, needs = words[0], [], 1e-9, None
                for w in words[1:]:
                    if w.startswith("rtol="):
                        rtol = float(w[5:])
                    elif w.startswith("needs="):
                        needs = w[6:]
                    else:
                        args.append(w)
                if needs and not os.path.exists(needs):
                    print(f"skip line {start}: output of {name} needs {needs}, which is not installed")
                    continue
                key = (name, tuple(args))
                if key not in cache:
                    cache[key] = run(exe_dir, name, args)
                rc, out, err = cache[key]
                if rc != 0:
                    print(f"FAIL line {start}: {name} {' '.join(args)} exited with {rc}\n{err}")
                    failures += 1
                    continue
                ok, bad = matches(block, out.splitlines(), lambda a, b: same_line(a, b, rtol), "...")
                print(f"{'ok  ' if ok else 'FAIL'} line {start}: block is the output of {name} {' '.join(args)}".rstrip() +
                      ("" if ok else f"; the block says {bad}"))
                failures += not ok
            continue
        i += 1
    print(f"{checks - failures} of {checks} tutorial checks passed")
    return 1 if failures else 0


def check_graph(arg, exe_dir, root, md_path):
    left, svg_rel = arg.split("->")
    words = left.split()
    svg = os.path.join(os.path.dirname(md_path), svg_rel.strip())
    if not os.path.exists(svg):
        print(f"FAIL graph: {svg} does not exist")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        args = [a if not a.endswith(".svg") else os.path.join(tmp, "graph.dot") for a in words[1:]]
        rc, _, err = run(exe_dir, words[0], args)
        dot_path = os.path.join(tmp, "graph.dot")
        if rc != 0 or not os.path.exists(dot_path):
            print(f"FAIL graph: {words[0]} did not write {dot_path}: {err}")
            return False
        dot = open(dot_path, encoding="utf-8").read()
    labels = []
    for m in re.finditer(r'label="((?:[^"\\]|\\.)*)"', dot):
        labels += [l.replace('\\"', '"').replace("\\\\", "\\") for l in m.group(1).split("\\n")]
    texts = {html.unescape(t).strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", open(svg, encoding="utf-8").read())}
    missing = [l for l in labels if l.strip() and l.strip() not in texts]
    ok = not missing
    print(f"{'ok  ' if ok else 'FAIL'} graph: every label of the graph {' '.join(words)} is in {svg_rel.strip()}" +
          ("" if ok else f"; missing: {missing[:5]}"))
    return ok


if __name__ == "__main__":
    sys.exit(main())
