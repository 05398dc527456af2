# shellcheck shell=bash
# lib.sh — helpers shared by build.sh and verify.sh (sourced, not run).
#
# Version mapping. VERSION is Till's version as stamped into the binary
# (app.Version); the packages need two other spellings of it:
#
#   VERSION                  Debian version (deb_version)   fyne --app-version (app_version)
#   1.2.3                    1.2.3                          1.2.3
#   v1.2.3                   1.2.3                          1.2.3
#   0.0.0-dev                0.0.0~dev                      0.0.0
#   1.2.3-rc.1               1.2.3~rc.1                     1.2.3
#   1.2.3-4-gabcdef          1.2.3+4.gabcdef                1.2.3
#   1.2.3-rc.1-4-gabcdef     1.2.3~rc.1+4.gabcdef           1.2.3
#   1.2.3-4-gabcdef-dirty    1.2.3+4.gabcdef.dirty          1.2.3
#
# A SemVer pre-release ("-dev", "-rc.1") becomes "~…", which dpkg sorts
# before the release; a `git describe` suffix ("-N-gHASH") becomes "+N.gHASH",
# which sorts after the tag it counts from. The result has no hyphen, so it
# is a version without a Debian revision (the package is built from this
# tree, not from a separate upstream tarball). fyne only takes x.y.z.

# Libraries GLFW (go-gl/glfw v3.4, X11 and Wayland back ends) loads with
# dlopen at run time, by soname; dpkg-shlibdeps only sees DT_NEEDED entries.
# From glfw/src: x11_init.c (Xcursor, Xrandr, Xinerama, Xi, Xxf86vm, X11-xcb,
# Xrender, Xext), glx_context.c (libGLX/libGL), egl_context.c (libEGL, used
# for the Wayland GL context), wl_init.c (wayland-client, -cursor, -egl,
# xkbcommon; libdecor is optional, see Recommends). Several are also linked
# directly (build.sh drops duplicates); verify.sh checks that installing the
# .deb on a minimal Debian makes every one of them resolvable.
# shellcheck disable=SC2034 # used by build.sh and verify.sh
DLOPEN_SONAMES=(
	libX11.so.6 libX11-xcb.so.1 libXcursor.so.1 libXrandr.so.2 libXinerama.so.1
	libXi.so.6 libXxf86vm.so.1 libXrender.so.1 libXext.so.6 libGLX.so.0 libGL.so.1
	libEGL.so.1 libwayland-client.so.0 libwayland-cursor.so.0 libwayland-egl.so.1
	libxkbcommon.so.0 libusb-1.0.so.0
)

# log prints a step on stderr.
log() { printf '==> %s\n' "$*" >&2; }

# die prints an error on stderr and exits.
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# check_version refuses versions that could not be stamped or packaged.
check_version() {
	[[ $1 =~ ^v?[0-9]+(\.[0-9]+)*([-+~._A-Za-z0-9]*)$ ]] ||
		die "VERSION '$1' is not a version like 1.2.3, 0.0.0-dev or 1.2.3-4-gabcdef"
}

# deb_version maps VERSION to a Debian version (see the table above).
deb_version() {
	local v=${1#v} post="" dirty=""
	if [[ $v == *-dirty ]]; then
		v=${v%-dirty}
		dirty=.dirty
	fi
	if [[ $v =~ ^(.+)-([0-9]+)-g([0-9a-fA-F]+)$ ]]; then
		v=${BASH_REMATCH[1]}
		post="+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
	fi
	if [[ -n $dirty && -z $post ]]; then
		post=+dirty
		dirty=""
	fi
	if [[ $v =~ ^([0-9]+(\.[0-9]+)*)-(.+)$ ]]; then
		local pre=${BASH_REMATCH[3]}
		v="${BASH_REMATCH[1]}~${pre//-/.}"
	fi
	local d="$v$post$dirty"
	[[ $d =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "cannot map VERSION '$1' to a Debian version (got '$d')"
	printf '%s\n' "$d"
}

# app_version maps VERSION to the x.y.z that fyne package accepts.
app_version() {
	local v=${1#v}
	if [[ $v =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
		printf '%s.%s.%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
	elif [[ $v =~ ^([0-9]+)\.([0-9]+) ]]; then
		printf '%s.%s.0\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
	elif [[ $v =~ ^([0-9]+) ]]; then
		printf '%s.0.0\n' "${BASH_REMATCH[1]}"
	else
		printf '0.0.0\n'
	fi
}

# apt_ensure installs the listed Debian packages that are not installed yet,
# as the Makefile's apt_ensure does (as root, or through sudo). Where dpkg is
# absent it does nothing.
apt_ensure() {
	command -v dpkg-query >/dev/null 2>&1 || return 0
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	log "Installing missing packages: ${missing[*]}"
	local sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
