#!/usr/bin/env python3
"""Builds the Debian package-description corpus from this machine's apt lists.

    scripts/debian_descriptions.py OUT_DIR

Reads `apt-cache dumpavail` (Package, Source, Section, Description-md5 of every available
package) and the archive's English translations (the Translation-en lists that
`apt-get update -o Acquire::Languages=en` downloads; decompressed with apt-helper), joins
them on the package name (and the description's md5 where a package has several), and writes

    OUT_DIR/debian-descriptions.jsonl   one object a line: package, source, section, description
    OUT_DIR/debian-train.jsonl          80% of the source packages
    OUT_DIR/debian-test.jsonl           the other 20%

sorted by package name. The split is by *source* package (libfoo1 and libfoo-dev share most
of their text, so they must land on the same side): a source goes to the test side when the
CRC-32 of its name is 0 mod 5. Section prefixes such as `contrib/` are dropped. Only the
standard library is used. Writes are atomic (a temporary file renamed into place).
"""
import glob
import json
import os
import subprocess
import sys
import zlib


def stanzas(text):
    """Yields each RFC-822 stanza as a list of (field, value-lines)."""
    fields, name, lines = [], None, []
    for line in text.splitlines():
        if not line.strip():
            if name is not None:
                fields.append((name, lines))
            if fields:
                yield fields
            fields, name, lines = [], None, []
        elif line[0] in " \t" and name is not None:
            lines.append(line)
        else:
            if name is not None:
                fields.append((name, lines))
            key, _, value = line.partition(":")
            name, lines = key, [value.strip()]
    if name is not None:
        fields.append((name, lines))
    if fields:
        yield fields


def description(lines):
    """Debian's description format as text: the synopsis, then the long description with the
    leading space removed and ` .` lines as blank lines."""
    out = [lines[0]]
    for line in lines[1:]:
        body = line[1:] if line.startswith(" ") else line.lstrip()
        out.append("" if body.strip() == "." else body)
    return "\n".join(out).strip()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: debian_descriptions.py OUT_DIR")
    out_dir = sys.argv[1]
    translations = sorted(glob.glob("/var/lib/apt/lists/*_i18n_Translation-en*"))
    if not translations:
        sys.exit("debian_descriptions: error: no Translation-en lists in /var/lib/apt/lists; "
                 "run `apt-get update -o Acquire::Languages=en` (as root) first")
    # (package, md5) -> text, and package -> text (the first seen) for a join on the name alone.
    by_md5, by_name = {}, {}
    for path in translations:
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                              capture_output=True).stdout.decode("utf-8", "replace")
        for st in stanzas(text):
            f = dict(st)
            if "Package" not in f or "Description-en" not in f:
                continue
            pkg, body = f["Package"][0], description(f["Description-en"])
            if "Description-md5" in f:
                by_md5[(pkg, f["Description-md5"][0])] = body
            by_name.setdefault(pkg, body)
    dump = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True).stdout.decode("utf-8", "replace")
    rows = {}
    for st in stanzas(dump):
        f = dict(st)
        if "Package" not in f:
            continue
        pkg = f["Package"][0]
        md5 = f.get("Description-md5", [""])[0]
        body = by_md5.get((pkg, md5)) or by_name.get(pkg)
        if body is None and "Description" in f:
            body = description(f["Description"])   # a package whose Packages entry has the long text
        if not body:
            continue
        source = f.get("Source", [pkg])[0].split(" ")[0] or pkg
        section = f.get("Section", ["unknown"])[0].split("/")[-1]
        rows.setdefault(pkg, {"package": pkg, "source": source, "section": section, "description": body})
    os.makedirs(out_dir, exist_ok=True)
    ordered = [rows[k] for k in sorted(rows)]

    def write(name, items):
        path = os.path.join(out_dir, name)
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            for r in items:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return path

    test = [r for r in ordered if zlib.crc32(r["source"].encode()) % 5 == 0]
    train = [r for r in ordered if zlib.crc32(r["source"].encode()) % 5 != 0]
    write("debian-descriptions.jsonl", ordered)
    write("debian-train.jsonl", train)
    write("debian-test.jsonl", test)
    sections = len({r["section"] for r in ordered})
    libs = sum(r["section"] == "libs" for r in train) / max(1, len(train))
    print(f"debian_descriptions: {len(ordered)} descriptions, {sections} sections; "
          f"train {len(train)} ({libs:.1%} libs), test {len(test)}, split by source package, in {out_dir}")


if __name__ == "__main__":
    main()
