#!/usr/bin/env python3
"""How tests/corpus/upstream/ was made (kept for provenance, not run by the tests).

Reads Go test sources from local git mirrors of kubernetes/client-go,
kubernetes/kubectl and sunny0826/kubecm and writes every raw-string literal
that is a kubeconfig as a file: literals that hold a whole kubeconfig as they
are, kubeconfigs embedded in a kubecm Fragment (`kubeconfig: |`) dedented, and
kubecm's fmt.Sprintf templates with their %s filled in.  Prints one
SOURCES.md table row per file.

usage: extract_upstream.py OUTDIR MIRROR_ROOT
"""
import os
import re
import subprocess
import sys
import textwrap

SPECS = [
    ("kubernetes+client-go", "kubernetes/client-go", "cg", ["tools/clientcmd/"]),
    ("kubernetes+kubectl", "kubernetes/kubectl", "kubectl", ["pkg/cmd/config/"]),
    ("sunny0826+kubecm", "sunny0826/kubecm", "kubecm", ["cmd/", "test/", "pkg/registry/"]),
]
FILL = {"%s": "demo", "%d": "0"}


def git(mirror, *args):
    return subprocess.check_output(["git", "-C", mirror, *args], text=True)


def kubeconfigs(literal):
    """The kubeconfigs in one Go raw-string literal: (text, how) pairs."""
    if "kubeconfig: |" in literal:
        out = []
        for m in re.finditer(r"kubeconfig: \|\n((?:[ \t]+.*\n?|\n)+)", literal):
            out.append((textwrap.dedent(m.group(1)), "embedded Fragment kubeconfig, dedented"))
        return out
    if re.search(r"^(clusters|users|contexts):", literal, re.M) and "\n" in literal:
        how = "raw string literal"
        if "%" in literal:
            for k, v in FILL.items():
                literal = literal.replace(k, v)
            how = "fmt template, %s/%d filled with demo/0"
        return [(literal.lstrip("\n"), how)]
    return []


def main():
    outdir, root = sys.argv[1], sys.argv[2]
    for d, repo, short, prefixes in SPECS:
        mirror = os.path.join(root, d, "repo")
        head = git(mirror, "rev-parse", "HEAD").strip()
        for f in git(mirror, "ls-tree", "-r", "--name-only", "HEAD").split():
            if not (f.endswith(".go") and any(f.startswith(p) for p in prefixes)):
                continue
            if not (f.endswith("_test.go") or f.endswith("/utils.go")):
                continue
            src = git(mirror, "show", f"HEAD:{f}")
            for m in re.finditer(r"`([^`]*)`", src):
                line = src[: m.start()].count("\n") + 1
                for n, (text, how) in enumerate(kubeconfigs(m.group(1))):
                    base = os.path.basename(f).replace("_test.go", "").replace(".go", "")
                    name = f"{short}-{base}-L{line}" + (f"-{n}" if n else "") + ".yaml"
                    with open(os.path.join(outdir, name), "w") as fh:
                        fh.write(text if text.endswith("\n") else text + "\n")
                    print(f"| upstream/{name} | {repo} | {f} (line {line}) | {head[:12]} | Apache-2.0 | {how} |")


if __name__ == "__main__":
    main()
