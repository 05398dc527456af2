#!/usr/bin/env bash
# build.sh — build Till's Linux release artifacts from the repository root:
#
#   $OUT/linux/till                          the release binary (built once)
#   $OUT/till-$VERSION-linux-amd64.tar.xz    `fyne package -os linux` of that binary
#   $OUT/till_<debversion>_amd64.deb         a .deb of the same binary (dpkg-deb)
#
# Environment: VERSION (default 0.0.0-dev; see lib.sh for how it maps to the
# Debian version), OUT (default dist), GO (default go), DEB_MAINTAINER
# (default below). Run by `make dist-linux`, which installs the cgo build
# headers first; this script installs the packaging tools it lacks.
set -euo pipefail

here=assets/packaging/linux
[[ -f go.mod && -f $here/build.sh ]] || {
	echo "build.sh: run from the repository root (as 'make dist-linux' does)" >&2
	exit 1
}
# shellcheck source=assets/packaging/linux/lib.sh
source "$here/lib.sh"

VERSION=${VERSION:-0.0.0-dev}
OUT=${OUT:-dist}
GO=${GO:-go}
DEB_MAINTAINER=${DEB_MAINTAINER:-Till maintainers <maintainers@tillpos.invalid>}
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export CGO_ENABLED=1
umask 022

check_version "$VERSION"
homepage=$(sed -n 's/^Website *= *"\(.*\)"$/\1/p' FyneApp.toml)
[[ -n $homepage ]] || die "no Website in FyneApp.toml"
debver=$(deb_version "$VERSION")
appver=$(app_version "$VERSION")
repo=$(pwd -P)
mkdir -p "$OUT/linux"
out=$(cd "$OUT" && pwd -P)

# The Debian packages that ship DLOPEN_SONAMES (lib.sh) on the build host,
# installed here so that the soname-to-package lookup below finds them all.
RUNTIME_DEBS=(libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxinerama1 libxi6 libxxf86vm1
	libxrender1 libxext6 libglx0 libgl1 libegl1 libwayland-client0 libwayland-cursor0
	libwayland-egl1 libxkbcommon0 libusb-1.0-0)
# A software OpenGL driver, so Till draws on machines without a GPU driver,
# and libdecor for window decorations on GNOME's Wayland session.
DEB_RECOMMENDS="libgl1-mesa-dri, libdecor-0-0"

apt_ensure dpkg-dev desktop-file-utils xz-utils "${RUNTIME_DEBS[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/till-dist-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The release binary, built once and reused by both packages.
bin=$out/linux/till
log "go build $bin (version $VERSION)"
"$GO" build -trimpath -ldflags "-s -w -X github.com/tillpos/till/app.Version=$VERSION" -o "$bin" .
got=$("$bin" --version)
[[ $got == "till $VERSION" ]] || die "$bin --version printed '$got', want 'till $VERSION'"
log "$bin --version: $got"

# 2. The fyne tarball. fyne writes <Name>.tar.xz into its working directory,
# so it runs in a scratch directory with --src pointing at the repository
# (for FyneApp.toml and the icon); -exe makes it package our binary as is.
log "fyne package -os linux --app-version $appver"
"$GO" build -o "$work/fyne" fyne.io/tools/cmd/fyne
mkdir "$work/fyne-out"
(cd "$work/fyne-out" && "$work/fyne" package -os linux -exe "$bin" --src "$repo" --app-version "$appver")
tarball=$out/till-$VERSION-linux-amd64.tar.xz
fyne_tar=("$work"/fyne-out/*.tar.xz) # <Name from FyneApp.toml>.tar.xz
[[ ${#fyne_tar[@]} == 1 && -f ${fyne_tar[0]} ]] || die "fyne package made no single .tar.xz"
mv "${fyne_tar[0]}" "$tarball"
mkdir "$work/tar"
tar -xJf "$tarball" -C "$work/tar"
tar_bin=$(find "$work/tar" -path '*/bin/till' -type f)
[[ -n $tar_bin ]] || die "no bin/till in $tarball"
cmp -s "$bin" "$tar_bin" || die "the binary in $tarball is not $bin"
desktop_src=$(find "$work/tar" -name com.tillpos.till.desktop -type f)
[[ -n $desktop_src ]] || die "no com.tillpos.till.desktop in $tarball"
log "tarball $tarball holds $bin unchanged"

# 3. The .deb, staged in $work/deb with root-owned files (dpkg-deb
# --root-owner-group) and Debian's usual modes (umask 022, set above).
root=$work/deb
log "staging the .deb ($debver)"
install -D -m 0755 "$bin" "$root/usr/bin/till"

# The desktop entry fyne generated from FyneApp.toml (Exec=till, Icon=com.tillpos.till).
install -D -m 0644 "$desktop_src" "$root/usr/share/applications/com.tillpos.till.desktop"
desktop-file-validate "$root/usr/share/applications/com.tillpos.till.desktop"

# The icon, at its own size in the hicolor theme (PNG width and height are
# the big-endian words at bytes 16 and 20).
icon=assets/icon.png
read -r w h < <(od -An -tu1 -j16 -N8 "$icon" |
	awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}')
[[ $w == "$h" && $w -gt 0 ]] || die "$icon is ${w}x$h; the hicolor theme wants a square icon"
install -D -m 0644 "$icon" "$root/usr/share/icons/hicolor/${w}x$h/apps/com.tillpos.till.png"

# /usr/share/doc/till: a one-entry changelog (a native package's
# changelog.gz) and, once the repository has a LICENSE file, that file as
# the copyright file.
doc=$root/usr/share/doc/till
mkdir -p "$doc"
{
	printf 'till (%s) unstable; urgency=medium\n\n' "$debver"
	printf '  * Release %s, built from %s.\n\n' "$VERSION" "$homepage"
	printf ' -- %s  %s\n' "$DEB_MAINTAINER" "$(date -R -u ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"})"
} | gzip -9n >"$doc/changelog.gz"
if [[ -f LICENSE ]]; then
	install -m 0644 LICENSE "$doc/copyright"
else
	log "warning: no LICENSE file in the repository, so no /usr/share/doc/till/copyright"
fi
chmod 0644 "$doc/changelog.gz"

# The udev rule, generated from reader.DefaultUSBIDs.
rules=$root/usr/lib/udev/rules.d/70-till-readers.rules
mkdir -p "${rules%/*}"
"$GO" run -trimpath ./$here/udevrules >"$rules"
chmod 0644 "$rules"
log "udev rule: $(grep -c "^SUBSYSTEM" "$rules") reader ID(s)"

# Maintainer scripts: reload udev and re-trigger USB devices so a reader
# already plugged in gets its ACL, but only where udevadm exists, udevd is
# running (its control socket) and we are not in a chroot; never fail.
mkdir -p "$root/DEBIAN"
# maint_script NAME ACTIONS WHAT: a maintainer script that does this on ACTIONS.
maint_script() {
	cat >"$root/DEBIAN/$1" <<EOF
#!/bin/sh
# $1 for till: $3.
set -e

udev_reload() {
    # Only with udevadm, a running udevd (its control socket), and not in a
    # chroot (where the host's udevd would answer); never fail the install.
    command -v udevadm >/dev/null 2>&1 || return 0
    [ -S /run/udev/control ] || return 0
    if command -v ischroot >/dev/null 2>&1 && ischroot; then
        return 0
    fi
    udevadm control --reload-rules || true
    udevadm trigger --action=change --subsystem-match=usb --property-match=DEVTYPE=usb_device || true
}

case "\$1" in
$2)
    udev_reload
    ;;
esac
exit 0
EOF
}
maint_script postinst configure "make the card-reader udev rule take effect at once"
maint_script postrm 'remove|purge' "withdraw the card-reader udev rule's access at once"
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"

# Depends: dpkg-shlibdeps on the binary (it needs a debian/control to run
# in), then the packages of the dlopened sonames, found with dpkg -S on the
# build host, unversioned and only if shlibdeps did not already list them.
log "dpkg-shlibdeps"
mkdir -p "$work/shlibs/debian"
printf 'Source: till\n\nPackage: till\nArchitecture: amd64\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$root/usr/bin/till" 2>"$work/shlibdeps.err") || {
	cat "$work/shlibdeps.err" >&2
	die "dpkg-shlibdeps failed"
}
depends=${shlibs#shlibs:Depends=}
[[ -n $depends && $depends != "$shlibs" ]] || die "dpkg-shlibdeps printed no Depends: '$shlibs'"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# has_dep: is package $1 already named in $depends (with or without a version)?
has_dep() {
	local item items
	IFS=',' read -ra items <<<"$depends"
	for item in "${items[@]}"; do
		item=${item# }
		[[ ${item%% *} == "$1" ]] && return 0
	done
	return 1
}
for so in "${DLOPEN_SONAMES[@]}"; do
	path=""
	for d in "/usr/lib/$multiarch" "/lib/$multiarch"; do
		[[ -e $d/$so ]] && path=$(readlink -f "$d/$so") && break
	done
	[[ -n $path ]] || die "$so (dlopened by GLFW) is not installed on the build host"
	# dpkg may know the file under /lib or /usr/lib (merged /usr).
	pkg=""
	for p in "$path" "${path#/usr}" "/usr$path"; do
		pkg=$(dpkg -S "$p" 2>/dev/null | head -n1) && [[ -n $pkg ]] && break
	done
	pkg=${pkg%%:*}
	[[ -n $pkg ]] || die "no Debian package owns $path ($so)"
	has_dep "$pkg" || depends+=", $pkg"
done

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)

cat >"$root/DEBIAN/control" <<EOF
Package: till
Version: $debver
Architecture: amd64
Maintainer: $DEB_MAINTAINER
Installed-Size: $installed_size
Depends: $depends
Recommends: $DEB_RECOMMENDS
Section: misc
Priority: optional
Homepage: $homepage
Description: offline-first point of sale with card readers
 Till is a point-of-sale desktop app: a cashier rings up sales in a window,
 scanning barcodes or picking products, and takes cash or cards.
 .
 Card payments go to a Stripe-compatible payment API through a durable
 outbox kept in a local database, so a sale is never lost and never charged
 twice, whatever the network does; cash keeps working offline.
 .
 This package includes a udev rule giving the user logged in at the seat
 access to Till's USB card readers.
EOF

(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

deb=$out/till_${debver}_amd64.deb
log "dpkg-deb --build $deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null

log "done:"
ls -l "$bin" "$tarball" "$deb" >&2
printf 'Depends: %s\n' "$depends" >&2
