#!/usr/bin/env python3
"""The layers point one way. Fails, naming the file and the include, when:
  - a file of autograd/ includes nn/, optim/ or data/ (autograd/xgrad.hpp, the umbrella index of
    the whole library, is the one exception, and includes nothing but the layers' umbrellas);
  - a file of nn/ includes optim/ or data/; of optim/, nn/ or data/; of data/, nn/ or optim/;
  - a header of autograd/ includes a header of a folder above its own, in the order
    tensor < kernels < tape < ops < tools (a .cpp may use any part of the core: the Tensor
    class's methods, for one, are ops);
  - an include of the project does not use the one prefix "xgrad/".
usage: check_layering.py SOURCE_ROOT"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
allowed = {"autograd": {"autograd"}, "nn": {"autograd", "nn"}, "optim": {"autograd", "optim"},
           "data": {"autograd", "data"}}
order = ["tensor", "kernels", "tape", "ops", "tools"]
umbrellas = {"xgrad/autograd.hpp", "xgrad/nn.hpp", "xgrad/optim.hpp", "xgrad/data.hpp"}
include = re.compile(r'^\s*#\s*include\s+[<"]([^">]+)[">]', re.M)
errors, files = [], 0
for layer in allowed:
    for path in sorted((root / layer).rglob("*")):
        if path.suffix not in (".cpp", ".hpp"):
            continue
        files += 1
        rel = path.relative_to(root).as_posix()
        for inc in include.findall(path.read_text()):
            first = inc.split("/")[0]
            if first in allowed:
                errors.append(f"{rel}: includes \"{inc}\" without the prefix: write \"xgrad/{inc}\"")
                continue
            if first != "xgrad":
                continue  # a system or third-party header
            if rel == "autograd/xgrad.hpp":
                if inc not in umbrellas:
                    errors.append(f"{rel}: the umbrella index includes \"{inc}\"; only the layers' umbrellas")
                continue
            parts = inc.split("/")
            target = parts[1].removesuffix(".hpp") if len(parts) >= 2 else ""
            if target not in allowed[layer]:
                errors.append(f"{rel}: {layer}/ must not include \"{inc}\" ({layer} depends on "
                              f"{', '.join(sorted(allowed[layer]))} only)")
                continue
            if layer == "autograd" and path.suffix == ".hpp" and len(parts) >= 4:
                own = path.relative_to(root / "autograd").parts[0]
                if own in order and parts[2] in order and order.index(parts[2]) > order.index(own):
                    errors.append(f"{rel}: a header of autograd/{own}/ includes \"{inc}\", a folder above it "
                                  f"({' < '.join(order)})")
if files < 100:
    errors.append(f"only {files} files found under {root}")
for e in errors:
    print("FAIL", e)
print(f"check_layering: {files} files, {len(errors)} violations")
sys.exit(1 if errors else 0)
