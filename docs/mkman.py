#!/usr/bin/env python3
"""Regenerates the manual pages that have another source of truth:

  docs/kls.conf.5     from docs/kls.conf.md (its tables become tagged paragraphs)
  docs/kls-handler.3  from the manual comment at the top of include/kls/handler.h

Run it from the top of the tree after editing either source, and commit the output:
the build does not need Python. tests/install_test.sh checks that every key of
kls.conf.md is in kls.conf.5, so a forgotten run shows up in `make check`.
"""
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def version():
    m = re.search(r"AC_INIT\(\[kls\], \[([^]]+)\]", (TOP / "configure.ac").read_text())
    return m.group(1) if m else "unknown"


def esc(text):
    """Escapes roff specials in running text; non-ASCII as groff's \\[uXXXX] glyphs."""
    text = text.replace("\\", "\\e")
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text)


def inline(text):
    text = esc(text)
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + m.group(1).replace("-", "\\-") + "\\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", text)
    return text


def line_out(out, text):
    """Emits text, protecting a leading dot or quote."""
    if text.startswith((".", "'")):
        text = "\\&" + text
    out.append(text)


def conf_page():
    src = (TOP / "docs/kls.conf.md").read_text().splitlines()
    out = [
        ".\\\" Generated from docs/kls.conf.md by docs/mkman.py; edit that file instead.",
        f'.TH KLS.CONF 5 "" "kls {version()}" "File Formats"',
        ".SH NAME",
        "kls.conf \\- kls configuration",
        ".SH DESCRIPTION",
    ]
    i = 1
    para = []

    def flush():
        if para:
            out.append(".PP")
            line_out(out, inline(" ".join(para)))
            para.clear()

    while i < len(src):
        s = src[i]
        if s.startswith("## "):
            flush()
            out.append(".SH " + s[3:].upper().replace('"', ""))
        elif s.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while not src[i].startswith("```"):
                line_out(out, esc(src[i]))
                i += 1
            out += [".fi", ".RE"]
        elif s.startswith("| "):
            flush()
            head = [c.strip() for c in s.strip("|").split("|")]
            i += 2  # header and separator
            while i < len(src) and src[i].startswith("| "):
                cells = [c.strip() for c in src[i].strip("|").split("|")]
                out.append(".TP")
                out.append(inline(cells[0]).replace("\\fB", "\\fB", 1))
                extra = []
                for name, cell in zip(head[1:-1], cells[1:-1]):
                    if cell:
                        extra.append(f"{name}: {inline(cell)}")
                if extra:
                    line_out(out, "; ".join(extra) + ".")
                if cells[-1]:
                    out.append(".br")
                    line_out(out, inline(cells[-1]))
                i += 1
            continue
        elif re.match(r"^(- |\d+\. )", s):
            flush()
            m = re.match(r"^(- |\d+\. )(.*)", s)
            item = [m.group(2)]
            while i + 1 < len(src) and src[i + 1].startswith("  ") and src[i + 1].strip():
                i += 1
                item.append(src[i].strip())
            tag = "\\(bu" if m.group(1) == "- " else m.group(1).strip()
            out.append(f".IP {tag} 4")
            line_out(out, inline(" ".join(item)))
        elif not s.strip():
            flush()
        else:
            para.append(s.strip())
        i += 1
    flush()
    out += [".SH SEE ALSO", "klsd(8), kls\\-ctl(8), kls\\-handler(3)"]
    return "\n".join(out) + "\n"


def quotes(text):
    """The header quotes names `like this'; running text shows them in bold."""
    return re.sub(r"`([^`']+)'", lambda m: "\x01" + m.group(1) + "\x02", text)


def handler_page():
    text = (TOP / "include/kls/handler.h").read_text()
    comment = text[text.index("/*") + 2 : text.index("*/")]
    lines = [l[3:] if l.startswith(" * ") else l[2:] for l in comment.splitlines()[2:]]
    sections, cur = [], None
    for l in lines:
        if re.match(r"^[A-Z][A-Z ]+$", l):
            cur = [l, []]
            sections.append(cur)
        elif cur is not None:
            cur[1].append(l)
    out = [
        ".\\\" Generated from include/kls/handler.h by docs/mkman.py; edit that file instead.",
        f'.TH KLS-HANDLER 3 "" "kls {version()}" "kls Handler ABI"',
    ]
    for title, body in sections:
        while body and not body[-1].strip():
            body.pop()
        out.append(".SH " + title)
        if title == "NAME":
            out.append("kls_handler, kls\\-handler \\- " + inline(
                " ".join(b.strip() for b in body).split(" - ", 1)[1]))
            continue
        simple = all(not b.strip() or (b.startswith("\t") and not b.startswith("\t\t")
                                      and "\t" not in b[1:]) for b in body)
        if simple and title not in ("SYNOPSIS",):
            para = []
            for b in body + [""]:
                if b.strip():
                    para.append(b.strip())
                elif para:
                    out.append(".PP")
                    line_out(out, inline(quotes(" ".join(para))).replace("\x01", "\\fB")
                             .replace("\x02", "\\fR"))
                    para = []
        else:
            out += [".nf", ".ta 8n 16n 24n 32n 40n"]
            for b in body:
                line_out(out, esc(b[1:] if b.startswith("\t") else b))
            out.append(".fi")
    return "\n".join(out) + "\n"


def main():
    (TOP / "docs/kls.conf.5").write_text(conf_page())
    (TOP / "docs/kls-handler.3").write_text(handler_page())
    return 0


if __name__ == "__main__":
    sys.exit(main())
