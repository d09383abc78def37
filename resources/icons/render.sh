#!/usr/bin/env bash
# Renders ferry.svg to the PNG sizes freedesktop icon themes use (hicolor). The PNGs are committed,
# so building Ferry does not need librsvg; run this after changing the SVG (needs librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 22 24 32 48 64 128 256 512; do
    rsvg-convert --width "$size" --height "$size" ferry.svg --output "ferry-$size.png"
done
