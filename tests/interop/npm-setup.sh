#!/bin/sh
# Installs @grpc/grpc-js and @grpc/proto-loader (npm) into the build folder, once.
# Usage: npm-setup.sh BUILD_DIR   -> prints the node_modules folder to put on NODE_PATH.
# Concurrent callers (meson runs tests in parallel) serialise on a lock file; a finished
# install is marked by a stamp file, so later calls cost nothing.
set -eu
build_dir=${1:-${FG_BUILD_DIR:?FG_BUILD_DIR or an argument is required}}
root="$build_dir/node_modules_root"
stamp="$root/.installed-v1"
mkdir -p "$root"
(
	flock 9
	if [ ! -f "$stamp" ]; then
		npm install --silent --no-audit --no-fund --prefix "$root" \
			@grpc/grpc-js@1 @grpc/proto-loader@0.7 >&2
		touch "$stamp"
	fi
) 9>"$root/.lock"
echo "$root/node_modules"
