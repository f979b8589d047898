#!/usr/bin/env python3
"""render_spec.py HERALDCTL SPEC_DIR WORK_DIR - run every case of the six
Mustache core spec files through `heraldctl render`: template, data and
partials are written to files under WORK_DIR, stdout is compared with
"expected" byte for byte. Prints one line per case for t_render.sh:
"ok<TAB>file: name" or "not ok<TAB>file: name<TAB>why"."""
import json
import os
import subprocess
import sys

FILES = ["comments", "delimiters", "interpolation", "inverted", "partials", "sections"]


def main():
    heraldctl, spec_dir, work = sys.argv[1:4]
    n = 0
    for f in FILES:
        with open(os.path.join(spec_dir, f + ".json"), encoding="utf-8") as fp:
            spec = json.load(fp)
        for case in spec["tests"]:
            n += 1
            d = os.path.join(work, "%03d" % n)
            pdir = os.path.join(d, "partials")
            os.makedirs(pdir)
            with open(os.path.join(d, "template.mustache"), "wb") as fp:
                fp.write(case["template"].encode("utf-8"))
            with open(os.path.join(d, "data.json"), "w", encoding="utf-8") as fp:
                json.dump(case["data"], fp)
            for name, src in case.get("partials", {}).items():
                with open(os.path.join(pdir, name + ".mustache"), "wb") as fp:
                    fp.write(src.encode("utf-8"))
            r = subprocess.run([heraldctl, "render", os.path.join(d, "template.mustache"),
                                os.path.join(d, "data.json"), "--partials", pdir],
                               capture_output=True, timeout=20)
            want = case["expected"].encode("utf-8")
            label = "%s: %s" % (f, case["name"])
            if r.returncode == 0 and r.stdout == want and not r.stderr:
                print("ok\t" + label)
            else:
                why = "exit %d, expected %r, got %r, stderr %r" % (
                    r.returncode, want, r.stdout, r.stderr.decode("utf-8", "replace"))
                print("not ok\t%s\t%s" % (label, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
