#!/usr/bin/env bash
# OCI runtime conformance check: builds the opencontainers/runtime-tools
# "validation" suite (TAP tests) into /opt/oci-validation and runs every test
# against one runtime, printing a summary table.
#
#   sudo test/conformance/run.sh [RUNTIME]      # default: ../../bin/berth-oci
#   sudo test/conformance/run.sh /usr/sbin/runc
#
# Not part of `npm test` (needs root, Go and several minutes). See README.md.
#
# Environment:
#   OCI_VALIDATION_DIR    build/output dir            (default /opt/oci-validation)
#   OCI_RUNTIME_TOOLS_SRC an upstream runtime-tools checkout to build from, if
#                         $OCI_VALIDATION_DIR/gopath holds no sources yet
#   TEST_TIMEOUT          seconds per test             (default 120)
#   TESTS                 space-separated subset of test names (default: all)
#   REBUILD=1             force a rebuild
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNTIME="${1:-$HERE/../../bin/berth-oci}"
OUT="${OCI_VALIDATION_DIR:-/opt/oci-validation}"
TIMEOUT="${TEST_TIMEOUT:-120}"
RT_PKG=github.com/opencontainers/runtime-tools
SRC="$OUT/gopath/src/$RT_PKG"

die() { echo "run.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (the suite creates real containers)"
command -v "$RUNTIME" >/dev/null 2>&1 || [ -x "$RUNTIME" ] || die "runtime not found: $RUNTIME"
RUNTIME="$(readlink -f "$(command -v "$RUNTIME" || echo "$RUNTIME")")"

# ---------------------------------------------------------------- packages
PKGS="golang-go golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev
      golang-github-hashicorp-go-multierror-dev golang-github-mrunalp-fileutils-dev
      golang-github-urfave-cli-dev golang-github-sirupsen-logrus-dev
      golang-gocapability-dev golang-golang-x-sys-dev
      busybox-static util-linux tar gzip"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null || die "apt-get install failed"
fi
export PATH="/usr/lib/go/bin:$PATH"

# ---------------------------------------------------------------- sources
# Debian's golang-github-opencontainers-runtime-tools-dev ships only the
# library packages (generate, specerror, cgroups, ...), not validation/ nor
# cmd/runtimetest, and github.com/mndrix/tap-go is not packaged at all.
if [ ! -d "$SRC/validation/util" ] || [ ! -d "$SRC/cmd/runtimetest" ]; then
  [ -n "${OCI_RUNTIME_TOOLS_SRC:-}" ] || die "no suite sources in $SRC.
  Debian does not package runtime-tools' validation/ and cmd/runtimetest.
  Point OCI_RUNTIME_TOOLS_SRC at a checkout of github.com/opencontainers/runtime-tools
  (it carries vendor/ with tap-go) and re-run; see test/conformance/README.md."
  [ -d "$OCI_RUNTIME_TOOLS_SRC/validation" ] || die "$OCI_RUNTIME_TOOLS_SRC has no validation/"
  mkdir -p "$SRC" && cp -a "$OCI_RUNTIME_TOOLS_SRC"/. "$SRC"/ || die "copy failed"
  rm -rf "$SRC/.git"
  REBUILD=1
fi
TAPGO="$OUT/gopath/src/github.com/mndrix/tap-go"
if [ ! -f "$TAPGO/tap.go" ] && [ ! -d "$SRC/vendor/github.com/mndrix/tap-go" ]; then
  die "github.com/mndrix/tap-go missing (neither $TAPGO nor $SRC/vendor)"
fi

# ---------------------------------------------------------------- build
TESTS_ALL=$(cd "$SRC/validation" && for d in */; do d=${d%/}; [ "$d" = util ] || [ ! -f "$d/$d.go" ] || echo "$d"; done)
built=1
[ -x "$OUT/runtimetest" ] && [ -f "$OUT/rootfs-amd64.tar.gz" ] || built=0
for t in $TESTS_ALL; do [ -x "$OUT/validation/$t/$t.t" ] || built=0; done
if [ "$built" = 0 ] || [ "${REBUILD:-0}" = 1 ]; then
  echo "building the validation suite into $OUT ..."
  export GO111MODULE=off GOPATH="$OUT/gopath:/usr/share/gocode" GOCACHE="$OUT/.cache" GOFLAGS= CGO_ENABLED=0
  go build -o "$OUT/runtimetest" "$RT_PKG/cmd/runtimetest" || die "building runtimetest failed"
  for t in $TESTS_ALL; do
    mkdir -p "$OUT/validation/$t"
    go build -o "$OUT/validation/$t/$t.t" "$RT_PKG/validation/$t" || die "building $t failed"
  done
  # rootfs: busybox-static with its applets as symlinks (the upstream
  # rootfs-amd64.tar.gz is a busybox rootfs of the same shape).
  R=$(mktemp -d /tmp/oci-rootfs.XXXXXX)
  chmod 0755 "$R"  # "./" in the tarball becomes the bundle/rootfs dir mode
  ( cd "$R" && mkdir -p bin sbin usr/bin usr/sbin dev proc sys etc tmp root home var/run mnt run &&
    chmod 1777 tmp && cp /bin/busybox bin/busybox &&
    for a in $(bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "bin/$a"; done &&
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd &&
    printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group &&
    echo 'nameserver 127.0.0.1' > etc/resolv.conf && touch etc/hosts etc/hostname &&
    tar --numeric-owner --owner=0 --group=0 -czf "$OUT/rootfs-amd64.tar.gz" . ) || die "rootfs build failed"
  rm -rf "$R"
fi

# ---------------------------------------------------------------- run
TESTS_RUN="${TESTS:-$TESTS_ALL}"
rtname=$(basename "$RUNTIME")
RES="$OUT/results/$rtname"
mkdir -p "$RES"

# The suite cannot pass --root, so the runtime's default root is used.
case "$rtname" in
  runc) RTROOT=/run/runc ;;
  berth-oci) RTROOT=/run/berth-oci ;;
  *) RTROOT="" ;;
esac
list_ids() { [ -n "$RTROOT" ] && [ -d "$RTROOT" ] && ls -1 "$RTROOT" 2>/dev/null; true; }
list_tmp() { ls -1d /tmp/ocitest* /tmp/oci-pid* 2>/dev/null; true; }

cleanup_after() { # $1 = ids before, $2 = tmp dirs before
  local id t cg b
  for id in $(comm -13 <(echo "$1" | sort) <(list_ids | sort)); do
    # Only containers made by the suite: UUID ids whose bundle is a suite
    # bundle (/tmp/ocitest*) -- other users may share the runtime root.
    [[ "$id" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || continue
    b=$("$RUNTIME" state "$id" 2>/dev/null | sed -n 's/.*"bundle": *"\([^"]*\)".*/\1/p')
    [ -z "$b" ] || [[ "$b" == /tmp/ocitest* ]] || continue
    "$RUNTIME" kill "$id" KILL >/dev/null 2>&1
    "$RUNTIME" delete --force "$id" >/dev/null 2>&1
    [ -n "$RTROOT" ] && [ -d "$RTROOT/$id" ] && ! "$RUNTIME" state "$id" >/dev/null 2>&1 && rm -rf "${RTROOT:?}/$id"
    for cg in /sys/fs/cgroup/*/"$id" /sys/fs/cgroup/*/*/"$id" /sys/fs/cgroup/"$id"; do
      [ -d "$cg" ] && rmdir "$cg" 2>/dev/null
    done
  done
  # fixed cgroup paths used by the suite (runtime-tools/cgroups Abs/RelCgroupPath)
  for cg in /sys/fs/cgroup/*/testdir/cgrouptest/container /sys/fs/cgroup/*/testdir/cgrouptest \
            /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/cgrouptest \
            /sys/fs/cgroup/testdir/cgrouptest/container /sys/fs/cgroup/testdir/cgrouptest \
            /sys/fs/cgroup/testdir /sys/fs/cgroup/cgrouptest; do
    [ -d "$cg" ] && rmdir "$cg" 2>/dev/null
  done
  for t in $(comm -13 <(echo "$2" | sort) <(list_tmp | sort)); do
    umount -R -l "$t" 2>/dev/null; rm -rf "$t"
  done
}

printf '%-34s %6s %6s  %s\n' TEST PASSED FAILED STATUS
tp=0; tf=0; bad=0
for t in $TESTS_RUN; do
  bin="$OUT/validation/$t/$t.t"
  [ -x "$bin" ] || { printf '%-34s %6s %6s  %s\n' "$t" - - "not built"; continue; }
  ids0=$(list_ids); tmp0=$(list_tmp)
  ( cd "$OUT" && RUNTIME="$RUNTIME" timeout -k 5 "$TIMEOUT" "$bin" ) >"$RES/$t.tap" 2>"$RES/$t.err"
  rc=$?
  cleanup_after "$ids0" "$tmp0"
  ok=$(grep -cE '^ok [0-9]+' "$RES/$t.tap")
  nok=$(grep -E '^not ok [0-9]+' "$RES/$t.tap" | grep -vc '# TODO')
  todo=$(grep -E '^not ok [0-9]+' "$RES/$t.tap" | grep -c '# TODO')
  yerr=$(grep -cE '^\s+"error":' "$RES/$t.tap")
  status=""
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && status="TIMEOUT(${TIMEOUT}s) "
  [ "$rc" != 0 ] && [ -z "$status" ] && status="exit=$rc "
  [ "$todo" -gt 0 ] && status="${status}todo=$todo "
  if [ $((ok + nok)) = 0 ]; then
    # Tests such as hooks/prestart*/poststart*/poststop*/*_fail report a
    # failure only as a YAML "error:" diagnostic (or a non-zero exit).
    if [ "$rc" = 0 ] && [ "$yerr" = 0 ]; then ok=1; else nok=1; fi
    status="${status}no-TAP-results(verdict from exit code/diagnostics) "
  elif [ "$rc" != 0 ] && [ "$nok" = 0 ]; then
    nok=1  # e.g. *_fail tests call util.Fatal when the runtime accepted bad input
  fi
  [ "$nok" -gt 0 ] && bad=$((bad + 1))
  tp=$((tp + ok)); tf=$((tf + nok))
  printf '%-34s %6s %6s  %s\n' "$t" "$ok" "$nok" "${status:-ok}"
done
echo "runtime: $RUNTIME   TAP output: $RES/<test>.tap (stderr in .err)"
echo "tests with failures: $bad"
echo "conformance: $tp passed, $tf failed"
