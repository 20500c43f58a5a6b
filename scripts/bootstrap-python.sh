#!/usr/bin/env bash
# Create .venv and install the project with its test tools.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "!! Python 3.11 or newer is needed" >&2; exit 1
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
fi
# System libraries for the PDF documents (WeasyPrint, loaded with ctypes/cffi, not by pip):
# Pango with its FreeType/fontconfig backend, HarfBuzz's subsetter (fonts are subset into
# the PDF; without it WeasyPrint falls back to fontTools, four times slower and deprecated)
# and a font with Chinese glyphs. Same list as deploy/Dockerfile.
pdf_packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-wqy-microhei)
missing=()
for pkg in "${pdf_packages[@]}"; do
  status=$(dpkg -s "$pkg" 2>/dev/null | sed -n 's/^Status: //p' || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "==> installing ${missing[*]} from Debian's packages (for the PDF documents)"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
