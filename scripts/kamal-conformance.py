#!/usr/bin/env python3
"""Checks Kamal deploy files against Kamal 2's own configuration reference.

The reference is lib/kamal/configuration/docs/*.yml (copied in ../shared/kamal/docs). Kamal
validates a config against those files: every key must appear in the example, and its value
must have the example's type (lib/kamal/configuration/validator.rb:15-61). On top of that,
the rules Kamal enforces in code (../shared/kamal/README.md): `service` matches
/^[a-z0-9_-]+$/i; the primary role (default `web`) exists and has hosts; `cmd` is a string;
with `builder.pack`, `builder.arch` is one architecture; a role other than the primary one
gets a proxy only when it asks; the primary role without a web process says `proxy: false`.

    python3 scripts/kamal-conformance.py DOCS_DIR FILE...

Prints one line per problem and exits 1 when there is any; prints the number of files checked.
"""
import re
import sys
from pathlib import Path

import yaml


class MultiLoader(yaml.SafeLoader):
    """Keeps every example of a key (the docs show `ssl: true` and `ssl: {...}`)."""


def construct_mapping(loader, node):
    out = {}
    for k, v in node.value:
        key = loader.construct_object(k, deep=True)
        out.setdefault(key, []).append(loader.construct_object(v, deep=True))
    return out


MultiLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

# Sections whose example in configuration.yml is `...`: their reference is their own file.
SECTION_FILES = {"builder": "builder", "proxy": "proxy", "registry": "registry", "env": "env", "ssh": "ssh",
                 "boot": "boot", "logging": "logging", "sshkit": "sshkit", "accessories": "accessory",
                 "aliases": "alias", "output": "output"}


def kind(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "hash"
    return type(v).__name__


def load(docs, name):
    return yaml.load((docs / f"{name}.yml").read_text(), Loader=MultiLoader)


def check_value(value, examples, path, problems):
    """`value` against the example values of one key."""
    kinds = {kind(e) for e in examples}
    if "..." in [e for e in examples if isinstance(e, str)]:
        kinds.add("hash")
    if kind(value) not in kinds:
        problems.append(f"{path}: a {kind(value)}, Kamal's reference has {sorted(kinds)}")
        return
    if isinstance(value, dict):
        ref = {}
        for e in examples:
            if isinstance(e, dict):
                for k, vs in e.items():
                    ref.setdefault(k, []).extend(vs)
        if ref:
            check_mapping(value, ref, path, problems)


# Maps whose keys are the user's own (docker options, labels, variables): the example's keys
# are illustrations, and their values are scalars.
FREE_FORM = ("options", "labels", "clear", "args", "tags")


def check_mapping(value, ref, path, problems):
    if path.rsplit(".", 1)[-1] in FREE_FORM:
        for k, v in value.items():
            if kind(v) not in ("string", "integer", "float", "boolean"):
                problems.append(f"{path}.{k}: a {kind(v)}, expected a scalar")
        return
    for k, v in value.items():
        if k not in ref:
            problems.append(f"{path}.{k}: not a key Kamal knows (known: {', '.join(sorted(map(str, ref)))})")
            continue
        check_value(v, ref[k], f"{path}.{k}", problems)


def check(doc, docs):
    problems = []
    top = load(docs, "configuration")
    for k, v in doc.items():
        if k not in top:
            problems.append(f"{k}: not a top-level key Kamal knows")
            continue
        if k in SECTION_FILES:
            section = load(docs, SECTION_FILES[k]).get(k, [])
            check_value(v, section, k, problems)
        elif k == "servers":
            continue
        else:
            check_value(v, top[k], k, problems)
    service = doc.get("service")
    if not isinstance(service, str) or not re.fullmatch(r"[a-z0-9_-]+", service, re.I):
        problems.append(f"service: {service!r} does not match /^[a-z0-9_-]+$/i")
    if "image" not in doc:
        problems.append("image: missing")
    servers = doc.get("servers")
    role_ref = load(docs, "role")["servers"][0]["workers"][0]
    if isinstance(servers, dict):
        for role, spec in servers.items():
            if isinstance(spec, list):
                continue
            if not isinstance(spec, dict):
                problems.append(f"servers.{role}: neither a host list nor a role")
                continue
            # role.yml:28-33: `proxy: true` / `proxy: false` besides a map of options.
            spec_checked = {k: v for k, v in spec.items() if not (k == "proxy" and isinstance(v, bool))}
            check_mapping(spec_checked, role_ref, f"servers.{role}", problems)
            if "cmd" in spec and not isinstance(spec["cmd"], str):
                problems.append(f"servers.{role}.cmd: must be a string")
            if not spec.get("hosts"):
                problems.append(f"servers.{role}: no hosts (allow_empty_roles is off)")
        primary = doc.get("primary_role", "web")
        if primary not in servers:
            problems.append(f"primary_role: {primary} isn't defined")
        for role, spec in servers.items():
            if role != primary and isinstance(spec, dict) and spec.get("proxy") is False:
                problems.append(f"servers.{role}.proxy: false is the default for a role that is not primary")
        if primary != "web" and isinstance(servers.get(primary), dict):
            if servers[primary].get("proxy") is not False:
                problems.append(f"servers.{primary}: a primary role without web must say proxy: false")
        if "web" not in servers and "proxy" in doc:
            problems.append("proxy: set, but no web role answers it")
    else:
        problems.append("servers: missing or a list with no roles")
    builder = doc.get("builder")
    if not isinstance(builder, dict) or "arch" not in builder:
        problems.append("builder.arch: required")
    elif "pack" in builder:
        arch = builder["arch"]
        if isinstance(arch, list) and len(arch) != 1:
            problems.append("builder.arch: pack builds one architecture")
        if not builder["pack"].get("builder") or not builder["pack"].get("buildpacks"):
            problems.append("builder.pack: needs builder and buildpacks")
    return problems


def main():
    docs = Path(sys.argv[1])
    failed = 0
    files = sys.argv[2:]
    for f in files:
        doc = yaml.safe_load(Path(f).read_text())
        for p in check(doc, docs):
            print(f"{f}: {p}")
            failed += 1
    print(f"kamal-conformance: {len(files)} files checked, {failed} problems")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
