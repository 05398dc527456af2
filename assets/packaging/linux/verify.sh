#!/usr/bin/env bash
# verify.sh — check the artifacts of build.sh as CI does, from the repository
# root, as root:
#
#   1. the .deb: dpkg-deb -I / -c printed; binary, desktop file, icon and udev
#      rule present and root-owned; Version and Depends as expected; the udev
#      rule equal to what reader.DefaultUSBIDs generates today;
#   2. a real install: a minimal Debian bookworm is debootstrapped into a
#      throwaway directory, `apt-get install ./till_*.deb` runs in it (so the
#      Depends resolve as on a user's machine; without Recommends, which are
#      only checked to resolve), `till --version` must print
#      `till $VERSION`, every library GLFW dlopens must be resolvable, and
#      `apt-get remove` must succeed (postrm in a chroot);
#   3. the fyne tarball: lists the binary, desktop file and icon, and its
#      binary prints the version (run inside the same throwaway root).
#
# Environment: VERSION (default 0.0.0-dev), OUT (default dist),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), TILL_VERIFY_CACHE
# (default 1: keep debootstrap's package tarball in
# ${XDG_CACHE_HOME:-$HOME/.cache}/till for faster reruns; 0: cache nothing).
set -euo pipefail

here=assets/packaging/linux
[[ -f go.mod && -f $here/verify.sh ]] || {
	echo "verify.sh: run from the repository root (as 'make dist-verify' does)" >&2
	exit 1
}
# shellcheck source=assets/packaging/linux/lib.sh
source "$here/lib.sh"

VERSION=${VERSION:-0.0.0-dev}
OUT=${OUT:-dist}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TILL_VERIFY_CACHE=${TILL_VERIFY_CACHE:-1}

[[ $(id -u) == 0 ]] || die "run as root: debootstrap and chroot need it"
check_version "$VERSION"
debver=$(deb_version "$VERSION")
deb=$OUT/till_${debver}_amd64.deb
tarball=$OUT/till-$VERSION-linux-amd64.tar.xz
[[ -f $deb ]] || die "no $deb: run build.sh (make dist-linux) with the same VERSION first"
[[ -f $tarball ]] || die "no $tarball: run build.sh (make dist-linux) with the same VERSION first"

apt_ensure debootstrap dpkg-dev desktop-file-utils xz-utils

start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/till-verify.XXXXXX")
rootfs=$work/root
mounts=()

# cleanup unmounts what we mounted (last first), then deletes the throwaway
# root, but only once nothing is mounted below it any more.
cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
	done
	if grep -qF " $work/" /proc/mounts; then
		echo "verify.sh: something is still mounted under $work; not deleting it" >&2
		return
	fi
	rm -rf --one-file-system "$work"
	[[ -z ${cache_tmp:-} ]] || rm -f "$cache_tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP # run cleanup on Ctrl-C or a CI timeout too

# fail_unless_listed: each pattern must match a line of the listing in $1.
fail_unless_listed() {
	local listing=$1 what=$2
	shift 2
	local pat
	for pat in "$@"; do
		grep -Eq -- "$pat" <<<"$listing" || die "$what: nothing matches $pat"
	done
}

# ---- 1. The .deb's metadata and contents -----------------------------------
log "dpkg-deb -I $deb"
dpkg-deb -I "$deb"
log "dpkg-deb -c $deb"
contents=$(dpkg-deb -c "$deb")
printf '%s\n' "$contents"

fail_unless_listed "$contents" "$deb" \
	' \./usr/bin/till$' \
	' \./usr/share/applications/com\.tillpos\.till\.desktop$' \
	' \./usr/share/icons/hicolor/[0-9]+x[0-9]+/apps/com\.tillpos\.till\.png$' \
	' \./usr/lib/udev/rules\.d/70-till-readers\.rules$'
grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/till$' <<<"$contents" || die "/usr/bin/till is not root-owned mode 0755"
if grep -v ' root/root ' <<<"$contents" | grep -q .; then
	die "files not owned by root/root in $deb"
fi

[[ $(dpkg-deb -f "$deb" Package) == till ]] || die "Package is not till"
got=$(dpkg-deb -f "$deb" Version)
[[ $got == "$debver" ]] || die "Version is $got, want $debver (from VERSION=$VERSION)"
depends=$(dpkg-deb -f "$deb" Depends)
for want in libgl1 libusb-1.0-0; do
	grep -Eq "(^|, )${want//./\\.}( |,|$)" <<<"$depends" || die "Depends lacks $want: $depends"
done
log "Version $got; Depends: $depends"

mkdir "$work/x"
dpkg-deb -x "$deb" "$work/x"
desktop-file-validate "$work/x/usr/share/applications/com.tillpos.till.desktop"
rule=$work/x/usr/lib/udev/rules.d/70-till-readers.rules
grep -q 'TAG+="uaccess"' "$rule" || die "the udev rule tags nothing uaccess"
if command -v "${GO:-go}" >/dev/null 2>&1; then
	CGO_ENABLED=1 "${GO:-go}" run -trimpath ./$here/udevrules >"$work/rule.want"
	diff -u "$work/rule.want" "$rule" || die "the packaged udev rule differs from reader.DefaultUSBIDs today"
	log "udev rule matches reader.DefaultUSBIDs"
else
	log "go not found: not comparing the udev rule with reader.DefaultUSBIDs"
fi

# ---- 3a. The tarball's listing ----------------------------------------------
log "tar -tJf $tarball"
listing=$(tar -tJf "$tarball")
printf '%s\n' "$listing"
fail_unless_listed "$listing" "$tarball" \
	'/bin/till$' \
	'/share/applications/com\.tillpos\.till\.desktop$' \
	'/share/pixmaps/com\.tillpos\.till\.png$'
mkdir "$work/t"
tar -xJf "$tarball" -C "$work/t"
tar_bin=$(find "$work/t" -path '*/bin/till' -type f)

# ---- 2. A real install on a minimal Debian ----------------------------------
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/till
cache=$cache_dir/debootstrap-$SUITE-minbase-amd64.tgz
cache_tmp=$cache.$$.tmp # per run, so concurrent runs never share a half-written file
t0=$SECONDS
# A tarball older than 30 days is made again, so the base system does not
# drift far behind the point releases (apt would still upgrade what Till needs).
if [[ $TILL_VERIFY_CACHE == 1 && -s $cache ]] && [[ -n $(find "$cache" -mtime +30) ]]; then
	log "$cache is older than 30 days: making it again"
	rm -f "$cache"
fi
if [[ $TILL_VERIFY_CACHE == 1 && ! -s $cache ]]; then
	log "debootstrap --make-tarball $cache (first run: downloads the base system)"
	mkdir -p "$cache_dir"
	debootstrap --variant=minbase --arch=amd64 --make-tarball="$cache_tmp" \
		"$SUITE" "$work/tarball-scratch" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap --make-tarball failed"; }
	mv "$cache_tmp" "$cache"
fi
if [[ $TILL_VERIFY_CACHE == 1 ]]; then
	log "debootstrap $SUITE minbase into $rootfs (from $cache)"
	src=(--unpack-tarball="$cache")
else
	log "debootstrap $SUITE minbase into $rootfs (from $MIRROR)"
	src=()
fi
debootstrap --variant=minbase --arch=amd64 "${src[@]}" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap took $((SECONDS - t0)) s"

mount -t proc proc "$rootfs/proc"
mounts+=("$rootfs/proc")
if [[ ! -c $rootfs/dev/null ]]; then
	mount --bind /dev "$rootfs/dev"
	mounts+=("$rootfs/dev")
fi
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
echo "deb $MIRROR $SUITE main" >"$rootfs/etc/apt/sources.list"

in_root() { chroot "$rootfs" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
# No pseudo-terminal in the chroot (no /dev/pts): tell dpkg not to want one.
apt=(apt-get -q -y -o Dpkg::Use-Pty=0)

# The install is done without Recommends, so the checks below prove that
# Depends alone bring everything Till loads; the Recommends are then only
# checked to resolve (a plain `apt install` would also install them).
t0=$SECONDS
cp "$deb" "$rootfs/tmp/"
log "chroot: apt-get update && apt-get install --no-install-recommends ./${deb##*/}"
in_root apt-get -qq update
in_root sh -c "cd /tmp && ${apt[*]} --no-install-recommends install ./${deb##*/}"
log "apt-get install took $((SECONDS - t0)) s"

got=$(in_root till --version)
[[ $got == "till $VERSION" ]] || die "installed till --version printed '$got', want 'till $VERSION'"
log "chroot: till --version: $got"

if in_root ldd /usr/bin/till | grep 'not found'; then
	die "installed till has unresolved libraries"
fi
sonames=$(in_root ldconfig -p)
for so in "${DLOPEN_SONAMES[@]}"; do
	grep -qF "$so " <<<"$sonames" || die "$so (dlopened by GLFW) is not installed by the package's Depends"
done
log "chroot: all ${#DLOPEN_SONAMES[@]} libraries GLFW loads are installed"
[[ -f $rootfs/usr/lib/udev/rules.d/70-till-readers.rules ]] || die "udev rule not installed"

# ---- 3b. The tarball's binary, run where its libraries now are ---------------
cp "$tar_bin" "$rootfs/tmp/till-from-tarball"
got=$(in_root /tmp/till-from-tarball --version)
[[ $got == "till $VERSION" ]] || die "the tarball's till --version printed '$got', want 'till $VERSION'"
log "tarball binary --version: $got"

recommends=$(dpkg-deb -f "$deb" Recommends | sed 's/([^)]*)//g; s/|/,/g; s/,/ /g')
if [[ -n ${recommends// /} ]]; then
	log "chroot: the Recommends resolve: $recommends"
	# shellcheck disable=SC2086 # a list of package names
	in_root "${apt[@]}" -s install $recommends >/dev/null
fi

log "chroot: apt-get remove till (postrm in a chroot)"
in_root "${apt[@]}" remove till >/dev/null
[[ ! -e $rootfs/usr/bin/till ]] || die "till still installed after apt-get remove"

log "verify OK ($deb, $tarball) in $((SECONDS - start)) s"
