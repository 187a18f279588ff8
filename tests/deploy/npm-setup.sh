#!/bin/sh
# Installs kubernetes-models (the Kubernetes API schemas as validators) and yaml (npm) into the
# build folder, once. Usage: npm-setup.sh BUILD_DIR -> prints the node_modules folder.
# Concurrent callers serialise on a lock file; a finished install is marked by a stamp file.
set -eu
build_dir=${1:-${FG_BUILD_DIR:?FG_BUILD_DIR or an argument is required}}
root="$build_dir/node_modules_k8s"
stamp="$root/.installed-v1"
mkdir -p "$root"
(
	flock 9
	if [ ! -f "$stamp" ]; then
		npm install --silent --no-audit --no-fund --prefix "$root" kubernetes-models@5 yaml@2 >&2
		touch "$stamp"
	fi
) 9>"$root/.lock"
echo "$root/node_modules"
