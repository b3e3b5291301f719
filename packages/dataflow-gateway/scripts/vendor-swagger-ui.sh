#!/usr/bin/env bash
# Refreshes the vendored Swagger UI that /docs serves: the npm package swagger-ui-dist at VERSION.
# Run by a maintainer when upgrading (the files are committed, so nothing is fetched at build or run time).
# Usage: scripts/vendor-swagger-ui.sh [VERSION]
set -euo pipefail
version=${1:-5.35.0}
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/src/dataflow_gateway/explorer_assets"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for name in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
    cp "$scratch/package/$name" "$target/$name"
done
# The source maps are not shipped: drop the references so a browser never asks for them.
sed -i -E '/^(\/\*|\/\/)# sourceMappingURL=/d' "$target/swagger-ui.css" "$target/swagger-ui-bundle.js"
echo "$version" > "$target/VERSION"
