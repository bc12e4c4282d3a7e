#!/bin/sh
# Builds wqy-microhei-gb2312.ttf, the font cert/pdf embeds, from Debian's
# fonts-wqy-microhei (0.2.0-beta-3.1): WenQuanYi Micro Hei (face 0 of the .ttc,
# TrueType glyf outlines) cut to GB 2312 (6,763 hanzi and its symbols), ASCII,
# Latin-1, general punctuation, CJK symbols and punctuation, and fullwidth forms.
# Hinting and OpenType layout tables are dropped: PDF viewers and printers do not
# need them and fpdf does not use them.
#
#   apt-get install -y fonts-wqy-microhei fonttools
#   sh cert/pdf/font/make.sh
set -eu
cd "$(dirname "$0")"
src=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
chars=$(mktemp)
trap 'rm -f "$chars"' EXIT
python3 - "$chars" <<'PY'
import sys
out = []
for a in range(0xA1, 0xF8):
    for b in range(0xA1, 0xFF):
        try:
            out.append(bytes([a, b]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
open(sys.argv[1], "w", encoding="utf-8").write("".join(out))
PY
pyftsubset "$src" --font-number=0 --text-file="$chars" \
	--unicodes='U+0020-007E,U+00A0-00FF,U+2000-206F,U+3000-303F,U+FF00-FFEF' \
	--no-hinting --layout-features='' --drop-tables+=GSUB,GPOS,GDEF,FFTM,vhea,vmtx \
	--output-file=wqy-microhei-gb2312.ttf
