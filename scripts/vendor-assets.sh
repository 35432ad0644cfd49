#!/usr/bin/env bash
# Copy the browser assets Waterdesk serves itself from node_modules into ui/static/vendor.
# Run after `npm ci --omit=dev`; the app then serves Leaflet without any CDN.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modules="$root/node_modules"
target="$root/ui/static/vendor"

for package in leaflet leaflet.heat; do
    if [[ ! -d "$modules/$package" ]]; then
        echo "vendor-assets: $modules/$package is missing; run 'npm ci --omit=dev' first" >&2
        exit 1
    fi
done

rm -rf "$target"
mkdir -p "$target/leaflet/images" "$target/leaflet.heat"

cp "$modules/leaflet/dist/leaflet.js" "$modules/leaflet/dist/leaflet.css" "$target/leaflet/"
cp "$modules/leaflet/dist/images/"*.png "$target/leaflet/images/"
cp "$modules/leaflet/LICENSE" "$target/leaflet/LICENSE"
cp "$modules/leaflet.heat/dist/leaflet-heat.js" "$target/leaflet.heat/"
cp "$modules/leaflet.heat/LICENSE" "$target/leaflet.heat/LICENSE" 2>/dev/null || true

# drop the source-map comment: the map file is not served
sed -i '/sourceMappingURL=/d' "$target/leaflet/leaflet.js"

echo "vendor-assets: copied leaflet and leaflet.heat into ${target#"$root"/}"
