#!/bin/sh
# Installs npm packages into a folder of the build, once.
# Usage: npm-setup.sh BUILD_DIR [NAME PACKAGE...]   -> prints the node_modules folder to put on
# NODE_PATH. Without NAME: @grpc/grpc-js and @grpc/proto-loader (the interop peers) in
# node_modules_root. Concurrent callers (meson runs tests in parallel) serialise on a lock file;
# a finished install is marked by a stamp file, so later calls cost nothing.
set -eu
build_dir=${1:-${FG_BUILD_DIR:?FG_BUILD_DIR or an argument is required}}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
	name=$1
	shift
else
	name=root
	set -- @grpc/grpc-js@1 @grpc/proto-loader@0.7
fi
root="$build_dir/node_modules_$name"
stamp="$root/.installed-v1"
mkdir -p "$root"
(
	flock 9
	if [ ! -f "$stamp" ]; then
		npm install --silent --no-audit --no-fund --prefix "$root" "$@" >&2
		touch "$stamp"
	fi
) 9>"$root/.lock"
echo "$root/node_modules"
