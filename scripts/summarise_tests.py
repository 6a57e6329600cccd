"""Prints 'N passed, N failed' from one or more of meson's test logs (testlog.json, or the
--logbase ones of .ci/run): doctest executables count their test cases; any other test counts as
one. A doctest run that died before its summary counts as failed, and so does a missing log (its
stage failed before running tests). A skipped test (exit 77: the browser test without chromium
outside CI) counts as neither, and is named on stderr."""
import json
import re
import sys

passed = failed = 0
skipped = []
summary = re.compile(r"\[doctest\] test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed")
for path in sys.argv[1:]:
    try:
        log = open(path, encoding="utf-8")
    except OSError:
        print(f"{path}: missing (its stage failed before its tests ran)", file=sys.stderr)
        failed += 1
        continue
    with log:
        for line in log:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("result") == "SKIP":
                skipped.append(entry.get("name", "?"))
                continue
            ok = entry.get("result") == "OK"
            m = summary.search(entry.get("stdout", "") or "")
            if m:
                p, f = int(m.group(2)), int(m.group(3))
                if not ok and f == 0:
                    f = 1  # it failed after its summary (e.g. a sanitizer report at exit)
                passed += p
                failed += f
            elif ok:
                passed += 1
            else:
                failed += 1
if skipped:
    print(f"skipped: {', '.join(skipped)}", file=sys.stderr)
print(f"{passed} passed, {failed} failed")
