#!/usr/bin/env python3
"""Writes tests/corpus/edge/: one kubeconfig per (field, odd value).

Every field of client-go's clientcmd v1 types (tools/clientcmd/api/v1/types.go)
gets the values a hand-edited or tool-written file may hold there: null, ~,
nothing, '', an empty list or map, numbers and booleans (YAML 1.1's yes/off
included) in string fields, strings in bool and list fields, bad base64 in
[]byte fields.  Whether kubectl accepts each file is not decided here: the
corpus test asks the real kubectl.  Re-run after changing this file:
    python3 tests/corpus/gen_edge.py tests/corpus/edge
"""
import os
import sys

STR = ["null", "~", "", "''", "42", "true", "yes", "[]", "{}", "'2024'"]
BOOL = ["null", "~", "", "yes", "off", "'true'", "1", "[]", "{}"]
LIST = ["null", "~", "", "[]", "{}", "x", "''", "[1]", "[~]", "[yes, '']", "[[]]"]
BYTES = ["null", "~", "", "''", "'!!!'", "UEhPTlk", "UEhP\\nTlkK", "\"UEhP\\nTlkK\"", "42", "[]", "[80, 72, ~]",
         "[256]", "[1.5]", "['a']"]
OBJ = ["null", "~", "", "{}", "[]", "x", "42"]
STRMAP = ["null", "~", "{}", "{k: ~}", "{k: 1}", "{k: yes}", "{k: ''}", "[]", "x"]
LISTMAP = ["null", "{}", "{k: ~}", "{k: [~, x]}", "{k: x}", "{k: [1]}", "{k: []}", "[]"]
NAMED = ["null", "~", "[]", "{}", "[~]", "[{name: ''}]", "[{name: e}, {name: e}]", "[{name: 1}]",
         "[{name: e, extension: ~}]", "[{name: e, extension: [1, y]}]", "[{extension: {a: b}}]"]

CLUSTER = [("server", STR), ("tls-server-name", STR), ("insecure-skip-tls-verify", BOOL),
           ("certificate-authority", STR), ("certificate-authority-data", BYTES), ("proxy-url", STR),
           ("disable-compression", BOOL), ("extensions", NAMED)]
USER = [("client-certificate", STR), ("client-certificate-data", BYTES), ("client-key", STR),
        ("client-key-data", BYTES), ("token", STR), ("tokenFile", STR), ("as", STR), ("as-uid", STR),
        ("as-groups", LIST), ("as-user-extra", LISTMAP), ("username", STR), ("password", STR),
        ("auth-provider", OBJ), ("exec", OBJ), ("extensions", NAMED)]
AUTH_PROVIDER = [("name", STR), ("config", STRMAP)]
EXEC = [("command", STR), ("args", LIST), ("env", LIST + ["[{name: A, value: b}]"]), ("apiVersion", STR),
        ("installHint", STR), ("provideClusterInfo", BOOL), ("interactiveMode", STR)]
ENV = [("name", STR), ("value", STR)]
CONTEXT = [("cluster", STR), ("user", STR), ("namespace", STR), ("extensions", NAMED)]
TOP = [("kind", ["null", "~", "", "''", "Config", "42"]), ("apiVersion", ["null", "~", "", "''", "v1", "1"]),
       ("preferences", OBJ), ("current-context", STR), ("extensions", NAMED),
       ("clusters", ["null", "~", "", "[]", "{}", "[~]", "x"]), ("users", ["null", "~", "[]", "{}", "[~]"]),
       ("contexts", ["null", "~", "[]", "{}", "[~]"])]
PREFS = [("colors", BOOL), ("extensions", NAMED)]
NAMES = [("clusters", STR), ("users", STR), ("contexts", STR)]


def doc(cluster="", user="", context="", top="", names=("c", "u", "x")):
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: {names[0]}\n  cluster:\n"
            f"    server: https://c.example:6443\n{cluster}"
            f"users:\n- name: {names[1]}\n  user:\n    token: t\n{user}"
            f"contexts:\n- name: {names[2]}\n  context:\n    cluster: c\n    user: u\n{context}"
            f"current-context: x\n{top}")


def line(indent, key, val):
    return f"{' ' * indent}{key}:{' ' + val if val else ''}\n"


def slug(v):
    names = {"": "empty", "''": "qempty", "~": "tilde", "[]": "list", "{}": "map"}
    if v in names:
        return names[v]
    out = "".join(c if c.isalnum() else "_" for c in v).strip("_")
    return out or "x"


def main():
    out = sys.argv[1]
    files = {}

    def put(name, text):
        base, n = name, 2
        while name in files:  # two values with one slug: number them
            name = f"{base}-{n}"
            n += 1
        files[name] = text

    for k, vals in CLUSTER:
        for v in vals:
            body = doc(cluster=line(4, k, v)) if k != "server" else doc().replace(
                "    server: https://c.example:6443\n", line(4, k, v))
            put(f"cluster.{k}={slug(v)}", body)
    for k, vals in USER:
        for v in vals:
            body = doc(user=line(4, k, v)) if k != "token" else doc().replace("    token: t\n", line(4, k, v))
            put(f"user.{k}={slug(v)}", body)
    for k, vals in AUTH_PROVIDER:
        for v in vals:
            ap = {"name": "oidc", "config": "{client-id: k}"}
            ap[k] = v
            put(f"user.auth-provider.{k}={slug(v)}",
                doc(user="    auth-provider:\n" + "".join(line(6, a, b) for a, b in ap.items())))
    for k, vals in EXEC:
        for v in vals:
            ex = {"command": "plugin", "apiVersion": "client.authentication.k8s.io/v1"}
            ex[k] = v
            put(f"user.exec.{k}={slug(v)}", doc(user="    exec:\n" + "".join(line(6, a, b) for a, b in ex.items())))
    for k, vals in ENV:
        for v in vals:
            env = {"name": "A", "value": "b"}
            env[k] = v
            item = "".join(line(8 if i else 0, a, b) for i, (a, b) in enumerate(env.items()))
            put(f"user.exec.env.{k}={slug(v)}",
                doc(user="    exec:\n      command: plugin\n      env:\n      - " + item))
    for k, vals in CONTEXT:
        for v in vals:
            body = doc(context=line(4, k, v)) if k not in ("cluster", "user") else doc().replace(
                f"    {k}: {k[0]}\n", line(4, k, v))
            put(f"context.{k}={slug(v)}", body)
    for k, vals in TOP:
        for v in vals:
            if k in ("clusters", "users", "contexts"):
                body = f"apiVersion: v1\nkind: Config\n{line(0, k, v)}"
            elif k == "current-context":
                body = doc().replace("current-context: x\n", line(0, k, v))
            elif k in ("kind", "apiVersion"):
                body = doc().replace(line(0, k, "Config" if k == "kind" else "v1"), line(0, k, v))
            else:
                body = doc(top=line(0, k, v))
            put(f"top.{k}={slug(v)}", body)
    for k, vals in PREFS:
        for v in vals:
            put(f"preferences.{k}={slug(v)}", doc(top="preferences:\n" + line(2, k, v)))
    for sect, vals in NAMES:
        for v in vals:
            names = {"clusters": (v, "u", "x"), "users": ("c", v, "x"), "contexts": ("c", "u", v)}[sect]
            text = doc(names=names)
            if not v:  # "- name:" with nothing is null
                text = text.replace("- name: \n", "- name:\n")
            put(f"{sect}.name={slug(v)}", text)
    # inner mapping of an entry
    for sect, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        for v in OBJ:
            put(f"{sect}.{inner}={slug(v)}", f"apiVersion: v1\nkind: Config\n{sect}:\n- name: e\n" + line(2, inner, v))
    # extension values: YAML 1.1 scalars and keys as kubectl resolves them
    for v in ["n", "yes", "off", "On", "0o17", "017", "0x1F", "1_000", "1.50", "-0.0", ".5", "1e3", "2001-12-14",
              "'n'", "~", "[y, N, no]", "{yes: 1}", "{1.50: a}", "{010: a}", "{0x1F: a}", "!!binary aGVsbG8=",
              "{~: 1}", "{1: a, '1': b}", "{true: a, yes: b}", "!!str 1", "9223372036854775808", "1:20",
              ".inf", "-.Inf", ".NaN", "!!float .inf", "'.inf'", "1e400", "{.inf: a}", "!!binary /w=="]:
        put(f"extension.value={slug(v)}", doc(top="extensions:\n- name: e\n  extension: " + v + "\n"))
    for name, text in sorted(files.items()):
        with open(os.path.join(out, name + ".yaml"), "w") as fh:
            fh.write(text)
    print(len(files), "files")


if __name__ == "__main__":
    main()
