# Sourced by the set-up scripts (`. scripts/node-env.sh`): puts Node.js 24 LTS first on PATH.
# The machine's node is used when it is 24 or newer; an older one (Node 20 is end-of-life) is
# left alone and the version in .node-version is taken from the npm registry into .tools/node
# (the package `node-linux-<arch>` that the npm package `node` installs: binary and headers,
# without the `node` package's install script). Native modules (better-sqlite3) are built against
# the headers that belong to the node in use, never another Node's: node-gyp finds them here.
custody_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
custody_node_version=$(cat "$custody_root/.node-version")
custody_node_major=${custody_node_version%%.*}
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt "$custody_node_major" ]; then
  case "$(uname -m)" in x86_64) custody_node_arch=x64 ;; aarch64) custody_node_arch=arm64 ;; *) custody_node_arch=$(uname -m) ;; esac
  custody_node_bin="$custody_root/.tools/node/node_modules/node-linux-$custody_node_arch/bin"
  if [ "$("$custody_node_bin/node" --version 2>/dev/null)" != "v$custody_node_version" ]; then
    echo "node-env: this machine's node is $(node --version 2>/dev/null || echo missing); installing Node.js $custody_node_version (npm package node-linux-$custody_node_arch) into .tools/node" >&2
    mkdir -p "$custody_root/.tools/node"
    npm install --silent --no-save --no-audit --no-fund --no-package-lock --prefix "$custody_root/.tools/node" "node-linux-$custody_node_arch@$custody_node_version" >&2
  fi
  export PATH="$custody_node_bin:$PATH"
fi
# node-gyp takes the headers' folder from this variable (the form npm 11 documents for node-gyp
# settings; npm_config_nodedir works too but npm 11 warns "Unknown env config nodedir" for it).
# It overrides a nodedir in the machine's npm config, which may point at another Node's headers.
custody_node_prefix=$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)
if [ -f "$custody_node_prefix/include/node/node_version.h" ]; then
  export npm_package_config_node_gyp_nodedir="$custody_node_prefix"
fi
unset custody_root custody_node_version custody_node_major custody_node_arch custody_node_bin custody_node_prefix
