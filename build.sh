#!/usr/bin/env bash
# build.sh builds the static maildird release binaries into dist/.
#
#   ./build.sh              every target
#   ./build.sh armv7 mipsle only the targets named (see the list in usage)
#
# Each binary is pure Go (CGO_ENABLED=0), so it runs on any Linux of its
# architecture with no libc at all: a Raspberry Pi OS, an OpenWrt router
# with musl, a scratch container. The version comes from
# `git describe --tags --always --dirty`, or "dev" outside a git checkout.
#
# DIST_DIR (default: dist in this directory) is where the binaries go; a
# relative DIST_DIR is taken from the directory build.sh was started in.
set -euo pipefail

# Targets, in build order: suffix GOARCH GOARM GOMIPS ("-" means unset).
# The suffix is the file name's tail and the name given on the command line.
readonly TARGETS=(
	"amd64   amd64   - -"
	"arm64   arm64   - -"
	"armv6   arm     6 -"
	"armv7   arm     7 -"
	"mipsle  mipsle  - softfloat"
	"mips    mips    - softfloat"
	"riscv64 riscv64 - -"
)

usage() {
	local names=() t
	for t in "${TARGETS[@]}"; do
		names+=("${t%% *}")
	done
	cat <<EOF
usage: $0 [target ...]

Builds static maildird binaries into \$DIST_DIR (default dist/) as
maildird-linux-<target>. With no target, builds them all.

targets: ${names[*]}
EOF
}

# target_line prints the TARGETS line of suffix $1, or fails.
target_line() {
	local t
	for t in "${TARGETS[@]}"; do
		if [[ "${t%% *}" == "$1" ]]; then
			printf '%s\n' "$t"
			return 0
		fi
	done
	return 1
}

# build_one builds the target described by one TARGETS line.
build_one() {
	local suffix goarch goarm gomips out
	read -r suffix goarch goarm gomips <<<"$1"
	goarm=${goarm#-} gomips=${gomips#-}
	out="$DIST_DIR/maildird-linux-$suffix"
	echo "building $out (GOARCH=$goarch${goarm:+ GOARM=$goarm}${gomips:+ GOMIPS=$gomips})"
	# GOARM and GOMIPS are always set, empty when unused, so that values
	# left in the caller's environment cannot leak into another target.
	CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" GOARM="$goarm" GOMIPS="$gomips" \
		go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$out" .
}

# print_sizes prints a table of the built files and their sizes.
print_sizes() {
	local f bytes
	printf '\nin %s:\n%-24s %12s %9s\n' "$DIST_DIR" "file" "bytes" "MiB"
	for f in "$@"; do
		bytes=$(wc -c <"$f")
		bytes=${bytes//[[:space:]]/}
		awk -v f="${f##*/}" -v b="$bytes" 'BEGIN { printf "%-24s %12d %9.2f\n", f, b, b / 1048576 }'
	done
}

main() {
	local arg line selected=() files=() t
	for arg in "$@"; do
		case "$arg" in
		-h | --help)
			usage
			return 0
			;;
		esac
		if ! line=$(target_line "$arg"); then
			echo "build.sh: unknown target \"$arg\"" >&2
			usage >&2
			return 2
		fi
		selected+=("$line")
	done
	if [[ ${#selected[@]} -eq 0 ]]; then
		selected=("${TARGETS[@]}")
	fi

	# An explicit relative DIST_DIR is the caller's; the default dist/ lives
	# next to the sources, whichever directory build.sh was started from.
	if [[ -n "${DIST_DIR:-}" && "$DIST_DIR" != /* ]]; then
		DIST_DIR="$PWD/$DIST_DIR"
	fi
	cd "$(dirname "${BASH_SOURCE[0]}")"
	DIST_DIR="${DIST_DIR:-$PWD/dist}"
	mkdir -p "$DIST_DIR"

	if ! command -v go >/dev/null; then
		echo "build.sh: go not found in PATH (is /usr/local/go/bin in PATH?)" >&2
		return 1
	fi
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || true)
	VERSION="${VERSION:-dev}"
	echo "maildird version $VERSION, $(go version)"

	for t in "${selected[@]}"; do
		build_one "$t"
		files+=("$DIST_DIR/maildird-linux-${t%% *}")
	done
	print_sizes "${files[@]}"
}

main "$@"
