"""The fonts of the PDF documents: TrueType files that PyPI packages ship, embedded as subsets.

* **Fira Sans** (package ``fontpkg-fira-sans``, SIL Open Font License 1.1), regular and bold:
  Latin (every European language: ``Zażółć Gęślą Jaźń``), Greek, Cyrillic, the euro sign.
* **WenQuanYi Micro Hei** (package ``paperang-p2-fonts-cjk``, Apache License 2.0), the
  fallback for what Fira Sans lacks: Chinese (simplified and traditional), Japanese kana and
  kanji, Korean Hangul (``山田太郎``, ``김철수``). It has one weight: bold CJK text is printed in
  it regular.

fpdf2 embeds only the glyphs a document uses (a one-page invoice is ~30 KB). A fallback font is
added to a document only when its text has a character the body font lacks: parsing the 5 MB
CJK font costs ~0.5 s, ten times what the rest of an invoice costs (measured by
``python -m ocs.billing_bridge.pdf``). A character no font has (e.g. Arabic, Devanagari, Thai:
scripts that also need shaping) is printed as an empty box and logged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF


@dataclass(frozen=True, slots=True)
class FontFile:
    package: str
    resource: str

    @property
    def path(self) -> Path:
        """The file on disk (packages are installed unzipped)."""
        return Path(str(resources.files(self.package) / self.resource))


BODY = "FiraSans"
REGULAR = FontFile("fontpkg_fira_sans", "files/FiraSans-Regular.ttf")
BOLD = FontFile("fontpkg_fira_sans", "files/FiraSans-Bold.ttf")
FALLBACKS = {"WenQuanYiMicroHei": FontFile("paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc")}
"""Tried in this order for characters the body font lacks."""


@functools.cache
def coverage(font: FontFile) -> frozenset[int]:
    """The code points ``font`` has a glyph for (its cmap; read once per process)."""
    with TTFont(font.path, fontNumber=0, lazy=True) as parsed:
        return frozenset(parsed.getBestCmap())


def install(pdf: FPDF, text: str) -> str:
    """Add the body font (regular and bold) to ``pdf``, and the fallback fonts that ``text``
    needs. Returns the characters of ``text`` that no font has (sorted, once each)."""
    pdf.add_font(BODY, "", REGULAR.path)
    pdf.add_font(BODY, "B", BOLD.path)
    wanted = {ord(c) for c in text if c.isprintable() and not c.isspace()}
    missing = wanted - (coverage(REGULAR) & coverage(BOLD))
    fallbacks = []
    for family, font in FALLBACKS.items():
        if missing & coverage(font):
            pdf.add_font(family, "", font.path)
            fallbacks.append(family)
            missing -= coverage(font)
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    return "".join(chr(c) for c in sorted(missing))
