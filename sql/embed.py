#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Embed a text file as a C string: embed.py NAME INPUT OUTPUT -> "static const char NAME[] = ...;"
import sys

name, src, dst = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    text = f.read()
lines = ["/* generated from %s by sql/embed.py; do not edit */" % src.split("/")[-1],
         "static const char %s[] =" % name]
for line in text.splitlines(True):
    esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    lines.append('\t"%s"' % esc)
lines.append("\t;")
with open(dst, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
