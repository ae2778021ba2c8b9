#!/bin/sh
# Installs dsmr-datalogger as a supervisor program on Debian and Raspberry Pi OS, in one command that is safe to
# run again (files are only rewritten when their content changes):
#
#   curl -fsSL https://github.com/dsmr-datalogger/dsmr-datalogger/releases/latest/download/install.sh | sudo sh -s -- --api-url http://dsmr.local
#   sudo sh install.sh --binary dist/dsmr-datalogger-linux-arm64 --api-url http://dsmr.local
#
# The API key is asked at the terminal (never on a command line, where ps and the shell history would show it).
#
# See --help and docs/INSTALL.md.
#
# A download that breaks off must run nothing. Everything happens in main(), called on the last line, and the whole
# script is one brace group closed on that same line: sh reads a compound command to its end before running any of
# it, so a script cut anywhere is a syntax error (or only comments) and not even a command-name prefix runs.
{
set -eu

PROGRAM=dsmr-datalogger
SERVICE_USER=dsmr
BIN_PATH=/usr/local/bin/dsmr-datalogger
LIB_DIR=/usr/local/lib/dsmr-datalogger
CONF_DIR=/etc/dsmr-datalogger
ENV_FILE=/etc/dsmr-datalogger/datalogger.env
DATA_DIR=/var/lib/dsmr-datalogger
SUPERVISOR_CONF=/etc/supervisor/conf.d/dsmr-datalogger.conf
SUPERVISORD_CONF=/etc/supervisor/supervisord.conf
PROGRAM_LOG=/var/log/supervisor/dsmr-datalogger.log
# The environment the supervisor program gives the datalogger besides HOME (write_supervisor_conf); the bench runs
# its subject with it too.
MALLOC_TUNABLES=glibc.malloc.mmap_threshold=131072
PREVIOUS_BIN=/usr/local/bin/.dsmr-datalogger.previous
# The release this script belongs to, written in by the release build (scripts/release.mjs): its version and the URL
# its artifacts and SHA256SUMS are published at. Empty in a checkout: then the latest release is installed.
RELEASE_VERSION=
RELEASE_BASE_URL=
RELEASES_URL=https://github.com/dsmr-datalogger/dsmr-datalogger/releases
API_PATH=/api/v1/datalogger/dsmrreading
R=DSMRREADER_REMOTE_DATALOGGER_
D=DSMR_DATALOGGER_
# The set-up check waits this long for the program's first telegram (DSMR 2.2-4 meters send one every 10 s).
DEFAULT_TELEGRAM_WAIT=30
# Exit status of an install that runs but cannot work yet (wrong key, no port, no telegram): see docs/INSTALL.md.
EXIT_NOT_WORKING=3

usage() {
	cat <<EOF
Usage: sudo sh install.sh [options]

Installs (or upgrades) dsmr-datalogger${RELEASE_VERSION:+ $RELEASE_VERSION}: system user '$SERVICE_USER', $BIN_PATH,
settings in $ENV_FILE, state in $DATA_DIR, and the supervisor program '$PROGRAM'.
Safe to run again: only what changed is rewritten, and the program is restarted only then.
At the end it checks the set-up for real: running, servers answering and accepting the key, the serial port
readable by '$SERVICE_USER', a first telegram read.

Where the program comes from (default: ${RELEASE_VERSION:-the latest release}, for this machine):
  --version vX.Y.Z     that release instead (an upgrade or a downgrade)
  --binary PATH        a local build: dsmr-datalogger-linux-x64, -linux-arm64, or -linux-arm.tar.gz
  --url URL            download it; a URL ending in / gets this machine's artifact name appended
  --sha256 HEX         expected checksum; without it, a download is checked against SHA256SUMS beside it

Settings (an upgrade keeps the current settings unless new ones are given):
  --api-url URL        DSMR-reader address, e.g. http://dsmr.local; repeat for more servers.
                       Its API key is asked at the terminal (typing is not shown), or comes from:
  --api-key-file PATH  a file holding the key; one per --api-url, in the same order
  --mqtt-url URL       also publish to an MQTT broker, e.g. mqtt://broker.local:1883
  --mqtt-username NAME its user name; the password is asked at the terminal, or comes from:
  --mqtt-password-file PATH
  --serial-port PATH   the P1 cable, default /dev/ttyUSB0
  --network HOST:PORT  read a P1-to-network bridge instead of a serial port
  --dsmr-version V     auto, 2.2, 3, 4, 5, be or lu (default auto)
  --interval SECONDS   forward at most one telegram per SECONDS (default 0: every telegram)

Actions:
  --no-start           install, but leave supervisor alone (nothing is started, restarted or checked)
  --telegram-wait S    how long the final check waits for a first telegram (default $DEFAULT_TELEGRAM_WAIT)
  --dry-run            print every action, change nothing
  --uninstall          stop and remove the program, its binary and its supervisor file
  --purge              with --uninstall: also remove $CONF_DIR, $DATA_DIR (the spool) and the log
  --help               this text

Every option can also come from the environment (the option wins): DSMR_DATALOGGER_VERSION, _BINARY, _URL,
_SHA256, _API_URL, _API_KEY (the key itself; comma lists for several servers), _MQTT_URL, _MQTT_USERNAME,
_MQTT_PASSWORD, _SERIAL_PORT, _NETWORK, _DSMR_VERSION, _INTERVAL, _TELEGRAM_WAIT, _NO_START=1, _RELEASE_URL
(another download location). Without a terminal it never asks anything.

Exit status: 0 installed and working ("done."); $EXIT_NOT_WORKING installed and running, but the check at the end names
a problem; 1 the install failed; 2 a wrong option.
EOF
}

say() {
	printf '%s\n' "$*"
}

warn() {
	printf 'install.sh: warning: %s\n' "$*" >&2
}

die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'install.sh: %s (see --help)\n' "$*" >&2
	exit 2
}

# Runs a command that changes the system, or only shows it in a dry run. Secrets never pass through here:
# they only travel in files and environment variables.
act() {
	if [ "$DRY_RUN" = 1 ]; then
		printf 'would run: %s\n' "$*"
	else
		printf '+ %s\n' "$*"
		"$@"
	fi
}

is_true() {
	case ${1:-} in 1 | true | TRUE | True | yes | on) return 0 ;; *) return 1 ;; esac
}

# Number of items in a comma list.
count_items() (
	IFS=,
	set -f
	# shellcheck disable=SC2086 # splitting on commas is the point
	set -- $1
	echo $#
)

parse_args() {
	OPT_VERSION='' OPT_BINARY='' OPT_URL='' OPT_SHA256='' OPT_SERIAL_PORT='' OPT_NETWORK='' OPT_DSMR_VERSION='' OPT_INTERVAL=''
	OPT_API_URLS='' OPT_API_KEYS='' OPT_API_KEY_FILES='' API_URL_FLAGS=0 API_KEY_FILE_FLAGS=0
	OPT_MQTT_URL='' OPT_MQTT_USERNAME='' OPT_MQTT_PASSWORD='' OPT_MQTT_PASSWORD_FILE='' MQTT_PASSWORD_GIVEN=0
	OPT_TELEGRAM_WAIT=''
	NO_START=0 DRY_RUN=0 UNINSTALL=0 PURGE=0
	while [ $# -gt 0 ]; do
		opt=$1
		shift
		has_value=0
		case $opt in
		--*=*)
			value=${opt#*=}
			opt=${opt%%=*}
			has_value=1
			;;
		esac
		case $opt in
		--api-key | --mqtt-password)
			usage_error "$opt is not taken: a secret on the command line shows in ps and the shell history; leave it out to be asked at the terminal, or use $opt-file PATH or DSMR_DATALOGGER_$(printf '%s' "${opt#--}" | tr 'a-z-' 'A-Z_')"
			;;
		--version | --binary | --url | --sha256 | --api-url | --api-key-file | --mqtt-url | --mqtt-username | \
			--mqtt-password-file | --serial-port | --network | --dsmr-version | --interval | --telegram-wait)
			if [ $has_value = 0 ]; then
				[ $# -gt 0 ] || usage_error "$opt needs a value"
				value=$1
				shift
			fi
			;;
		--no-start | --dry-run | --uninstall | --purge | --help | -h)
			[ $has_value = 0 ] || usage_error "$opt takes no value"
			;;
		*) usage_error "unknown option: $opt" ;;
		esac
		case $opt in
		--api-url | --api-key-file)
			case $value in *,*) usage_error "$opt takes one value; repeat $opt for more servers" ;; esac
			;;
		esac
		case $opt in
		--version) OPT_VERSION=$value ;;
		--binary) OPT_BINARY=$value ;;
		--url) OPT_URL=$value ;;
		--sha256) OPT_SHA256=$value ;;
		--api-url)
			OPT_API_URLS=${OPT_API_URLS:+$OPT_API_URLS,}$value
			API_URL_FLAGS=$((API_URL_FLAGS + 1))
			;;
		--api-key-file)
			OPT_API_KEY_FILES=${OPT_API_KEY_FILES:+$OPT_API_KEY_FILES,}$value
			API_KEY_FILE_FLAGS=$((API_KEY_FILE_FLAGS + 1))
			;;
		--mqtt-url) OPT_MQTT_URL=$value ;;
		--mqtt-username) OPT_MQTT_USERNAME=$value ;;
		--mqtt-password-file) OPT_MQTT_PASSWORD_FILE=$value ;;
		--serial-port) OPT_SERIAL_PORT=$value ;;
		--network) OPT_NETWORK=$value ;;
		--dsmr-version) OPT_DSMR_VERSION=$value ;;
		--interval) OPT_INTERVAL=$value ;;
		--telegram-wait) OPT_TELEGRAM_WAIT=$value ;;
		--no-start) NO_START=1 ;;
		--dry-run) DRY_RUN=1 ;;
		--uninstall) UNINSTALL=1 ;;
		--purge) PURGE=1 ;;
		--help | -h)
			usage
			exit 0
			;;
		esac
	done

	# The environment fills in what the options left out.
	[ -n "$OPT_VERSION" ] || OPT_VERSION=${DSMR_DATALOGGER_VERSION:-}
	[ -n "$OPT_BINARY" ] || OPT_BINARY=${DSMR_DATALOGGER_BINARY:-}
	[ -n "$OPT_URL" ] || OPT_URL=${DSMR_DATALOGGER_URL:-}
	[ -n "$OPT_SHA256" ] || OPT_SHA256=${DSMR_DATALOGGER_SHA256:-}
	[ -n "$OPT_SERIAL_PORT" ] || OPT_SERIAL_PORT=${DSMR_DATALOGGER_SERIAL_PORT:-}
	[ -n "$OPT_NETWORK" ] || OPT_NETWORK=${DSMR_DATALOGGER_NETWORK:-}
	[ -n "$OPT_DSMR_VERSION" ] || OPT_DSMR_VERSION=${DSMR_DATALOGGER_DSMR_VERSION:-}
	[ -n "$OPT_INTERVAL" ] || OPT_INTERVAL=${DSMR_DATALOGGER_INTERVAL:-}
	[ -n "$OPT_TELEGRAM_WAIT" ] || OPT_TELEGRAM_WAIT=${DSMR_DATALOGGER_TELEGRAM_WAIT:-$DEFAULT_TELEGRAM_WAIT}
	[ -n "$OPT_MQTT_URL" ] || OPT_MQTT_URL=${DSMR_DATALOGGER_MQTT_URL:-}
	[ -n "$OPT_MQTT_USERNAME" ] || OPT_MQTT_USERNAME=${DSMR_DATALOGGER_MQTT_USERNAME:-}
	if [ -z "$OPT_MQTT_PASSWORD_FILE" ] && [ -n "${DSMR_DATALOGGER_MQTT_PASSWORD+set}" ]; then
		OPT_MQTT_PASSWORD=$DSMR_DATALOGGER_MQTT_PASSWORD
		MQTT_PASSWORD_GIVEN=1
	fi
	if [ $API_URL_FLAGS = 0 ]; then OPT_API_URLS=${DSMR_DATALOGGER_API_URL:-}; fi
	if [ $API_KEY_FILE_FLAGS = 0 ]; then OPT_API_KEYS=${DSMR_DATALOGGER_API_KEY:-}; fi
	if is_true "${DSMR_DATALOGGER_NO_START:-}"; then NO_START=1; fi
	RELEASE_URL=${DSMR_DATALOGGER_RELEASE_URL:-${RELEASE_BASE_URL:-$RELEASES_URL/latest/download}}
	RELEASE_URL=${RELEASE_URL%/}
}

validate_args() {
	[ $PURGE = 0 ] || [ $UNINSTALL = 1 ] || usage_error "--purge only goes with --uninstall"
	[ -z "$OPT_BINARY" ] || [ -z "$OPT_URL" ] || usage_error "give --binary or --url, not both"
	[ -z "$OPT_VERSION" ] || [ -z "$OPT_BINARY$OPT_URL" ] || usage_error "--version picks a release to download: give it without --binary and --url"
	[ -z "$OPT_SERIAL_PORT" ] || [ -z "$OPT_NETWORK" ] || usage_error "give --serial-port or --network, not both"

	if [ -n "$OPT_VERSION" ]; then
		case $OPT_VERSION in v*) ;; *) OPT_VERSION=v$OPT_VERSION ;; esac
		case ${OPT_VERSION#v} in
		*[!0-9A-Za-z.-]* | '' | .* | *..*) usage_error "--version must be a release such as v0.2.0 (got: $OPT_VERSION)" ;;
		[0-9]*.[0-9]*.[0-9]*) ;;
		*) usage_error "--version must be a release such as v0.2.0 (got: $OPT_VERSION)" ;;
		esac
	fi

	if [ -n "$OPT_SHA256" ]; then
		OPT_SHA256=$(printf '%s' "$OPT_SHA256" | tr 'A-F' 'a-f')
		case $OPT_SHA256 in *[!0-9a-f]*) usage_error "--sha256 must be 64 hexadecimal digits" ;; esac
		[ ${#OPT_SHA256} = 64 ] || usage_error "--sha256 must be 64 hexadecimal digits"
	fi

	if [ $API_KEY_FILE_FLAGS -gt 0 ] && [ $API_URL_FLAGS = 0 ] && [ -z "$OPT_API_URLS" ]; then
		usage_error "--api-key-file goes with --api-url: one file per server, in the same order"
	fi
	if [ $API_KEY_FILE_FLAGS -gt 0 ] && [ "$API_KEY_FILE_FLAGS" != "$(count_items "$OPT_API_URLS")" ]; then
		usage_error "--api-url and --api-key-file come in pairs: got $(count_items "$OPT_API_URLS") URL(s) and $API_KEY_FILE_FLAGS key file(s)"
	fi
	if [ -n "$OPT_API_URLS" ]; then
		API_HOSTS=''
		# Split on commas only; nothing in the loop depends on IFS.
		old_ifs=$IFS
		IFS=,
		set -f
		for url in $OPT_API_URLS; do
			check_api_url "$url"
			API_HOSTS=${API_HOSTS:+$API_HOSTS,}$(normalize_api_url "$url")
		done
		IFS=$old_ifs
		set +f
	fi

	if [ -n "$OPT_MQTT_URL" ]; then
		case $OPT_MQTT_URL in
		mqtt://?* | mqtts://?* | ws://?* | wss://?*) ;;
		*) usage_error "--mqtt-url must start with mqtt://, mqtts://, ws:// or wss://, e.g. mqtt://broker.local:1883 (got: $OPT_MQTT_URL)" ;;
		esac
		case $OPT_MQTT_URL in
		*[[:space:]\"\'\#,]*) usage_error "--mqtt-url must not contain spaces, quotes, commas or # (got: $OPT_MQTT_URL)" ;;
		esac
	fi
	case $OPT_MQTT_USERNAME in
	*[[:space:]\"\'\#]*) usage_error "--mqtt-username must not contain spaces, quotes or #" ;;
	esac
	[ -z "$OPT_MQTT_USERNAME$OPT_MQTT_PASSWORD_FILE" ] || [ -n "$OPT_MQTT_URL" ] || [ -f "$ENV_FILE" ] ||
		usage_error "--mqtt-username and --mqtt-password-file go with --mqtt-url"

	case $OPT_SERIAL_PORT in
	'' | /*) ;;
	*) usage_error "--serial-port must be an absolute device path such as /dev/ttyUSB0 (got: $OPT_SERIAL_PORT)" ;;
	esac
	case $OPT_SERIAL_PORT in
	*[[:space:]\"\'\#,]*) usage_error "--serial-port must not contain spaces, quotes, commas or # (got: $OPT_SERIAL_PORT)" ;;
	esac

	NETWORK_HOST='' NETWORK_PORT=''
	if [ -n "$OPT_NETWORK" ]; then
		case $OPT_NETWORK in
		*:*) ;;
		*) usage_error "--network must be HOST:PORT, e.g. 192.168.1.50:8088 (got: $OPT_NETWORK)" ;;
		esac
		NETWORK_HOST=${OPT_NETWORK%:*}
		NETWORK_PORT=${OPT_NETWORK##*:}
		# [::1]:8088 style IPv6 addresses lose their brackets.
		case $NETWORK_HOST in \[*\]) NETWORK_HOST=${NETWORK_HOST#[}; NETWORK_HOST=${NETWORK_HOST%]} ;; esac
		case $NETWORK_HOST in
		'' | *[[:space:]\"\'\#,/]*) usage_error "--network must be HOST:PORT, e.g. 192.168.1.50:8088 (got: $OPT_NETWORK)" ;;
		esac
		case $NETWORK_PORT in
		'' | *[!0-9]*) usage_error "--network needs a port number 1-65535 after the colon (got: $OPT_NETWORK)" ;;
		esac
		if [ "$NETWORK_PORT" -lt 1 ] || [ "$NETWORK_PORT" -gt 65535 ]; then
			usage_error "--network needs a port number 1-65535 after the colon (got: $OPT_NETWORK)"
		fi
	fi

	case $OPT_DSMR_VERSION in
	'' | auto | 2.2 | 3 | 4 | 5 | be | lu) ;;
	*) usage_error "--dsmr-version must be auto, 2.2, 3, 4, 5, be or lu (got: $OPT_DSMR_VERSION)" ;;
	esac

	case $OPT_INTERVAL in
	'') ;;
	*[!0-9.]* | *.*.* | .) usage_error "--interval must be a number of seconds, e.g. 5 or 0.5 (got: $OPT_INTERVAL)" ;;
	esac
	case $OPT_TELEGRAM_WAIT in
	'' | *[!0-9]*) usage_error "--telegram-wait must be a whole number of seconds, e.g. 30 (got: $OPT_TELEGRAM_WAIT)" ;;
	esac
}

# The secrets, once the URLs are known: from the key files, the environment, or asked at the terminal. They stay in
# shell variables (never an argument of a command) until they are written to the env file.
collect_secrets() {
	if [ -n "$OPT_API_KEY_FILES" ]; then
		OPT_API_KEYS=''
		old_ifs=$IFS
		IFS=,
		set -f
		for file in $OPT_API_KEY_FILES; do
			OPT_API_KEYS=${OPT_API_KEYS:+$OPT_API_KEYS,}$(read_secret_file "$file" --api-key-file) || exit 2
		done
		IFS=$old_ifs
		set +f
	fi
	if [ -n "$OPT_API_URLS" ] && [ -z "$OPT_API_KEYS" ]; then
		if ! tty_available; then
			usage_error "no API key for $API_HOSTS: run at a terminal to be asked, or give --api-key-file PATH (or DSMR_DATALOGGER_API_KEY)"
		fi
		old_ifs=$IFS
		IFS=,
		set -f
		for url in $API_HOSTS; do
			ask_secret "API key of $url (DSMR-reader: Configuration > API): "
			[ -n "$ANSWER" ] || usage_error "the API key of $url is needed"
			OPT_API_KEYS=${OPT_API_KEYS:+$OPT_API_KEYS,}$ANSWER
		done
		IFS=$old_ifs
		set +f
	fi
	if [ -n "$OPT_API_URLS" ]; then
		urls=$(count_items "$OPT_API_URLS")
		keys=$(count_items "$OPT_API_KEYS")
		[ "$urls" = "$keys" ] || usage_error "one API key per server: got $urls URL(s) and $keys key(s)"
		old_ifs=$IFS
		IFS=,
		set -f
		for key in $OPT_API_KEYS; do
			case $key in
			'' | *[[:space:]\"\'\#]*) usage_error "an API key must be non-empty, without spaces, quotes or #" ;;
			esac
		done
		IFS=$old_ifs
		set +f
		API_KEYS=$OPT_API_KEYS
	fi

	if [ -n "$OPT_MQTT_PASSWORD_FILE" ]; then
		OPT_MQTT_PASSWORD=$(read_secret_file "$OPT_MQTT_PASSWORD_FILE" --mqtt-password-file) || exit 2
		MQTT_PASSWORD_GIVEN=1
	fi
	if [ -n "$OPT_MQTT_USERNAME" ] && [ $MQTT_PASSWORD_GIVEN = 0 ]; then
		tty_available || usage_error "no MQTT password for $OPT_MQTT_USERNAME: run at a terminal to be asked, or give --mqtt-password-file PATH (or DSMR_DATALOGGER_MQTT_PASSWORD)"
		ask_secret "MQTT password of $OPT_MQTT_USERNAME: "
		OPT_MQTT_PASSWORD=$ANSWER
		MQTT_PASSWORD_GIVEN=1
	fi
	case $OPT_MQTT_PASSWORD in
	*"'"* | *'
'*) usage_error "the MQTT password must not contain a single quote or a line break" ;;
	esac
}

# The first line of a file, without its line end and trailing blanks. Run in $(...): its usage_error exits only that
# subshell, so callers add || exit 2.
read_secret_file() {
	[ -r "$1" ] || usage_error "$2 $1: no such file, or not readable"
	secret=$(sed -n '1{s/\r$//;s/[[:space:]]*$//;p;}' "$1")
	[ -n "$secret" ] || usage_error "$2 $1: the file is empty"
	printf '%s' "$secret"
}

# Reads a line from the terminal with echo off (not stdin: under `curl | sh` stdin is the script). Sets ANSWER.
ask_secret() {
	# Echo off before the prompt shows: whatever is typed or pasted the moment it appears must not be echoed.
	stty -echo </dev/tty 2>/dev/null || true
	ECHO_OFF=1
	printf '%s' "$1" >/dev/tty
	ANSWER=
	IFS= read -r ANSWER </dev/tty || true
	stty echo </dev/tty 2>/dev/null || true
	ECHO_OFF=0
	printf '\n' >/dev/tty
}

check_api_url() {
	case $1 in
	http://?* | https://?*) ;;
	*) usage_error "--api-url must start with http:// or https://, e.g. http://dsmr.local (got: $1)" ;;
	esac
	case $1 in
	*[[:space:]\"\'\#]*) usage_error "--api-url must not contain spaces, quotes or # (got: $1)" ;;
	esac
}

# DSMR-reader's setting holds the server address; the program adds the API path itself.
normalize_api_url() {
	url=${1%/}
	url=${url%"$API_PATH"}
	url=${url%/}
	printf '%s' "$url"
}

require_root() {
	[ "$(id -u)" = 0 ] && return 0
	if [ "$DRY_RUN" = 1 ]; then
		warn "not running as root: the dry run cannot read the current settings, so it may show changes that are none"
		return 0
	fi
	die "install.sh must be run as root, e.g.: sudo sh install.sh --api-url ... --api-key ... (or: curl -fsSL URL | sudo sh -s -- ...)"
}

# A Raspberry Pi often runs a 64-bit kernel under a 32-bit userland: uname then says aarch64, but only 32-bit
# programs run, so it gets the portable bundle run by Debian's nodejs.
detect_arch() {
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64) ARCH=x64 ;;
	aarch64 | arm64)
		if [ "$(getconf LONG_BIT 2>/dev/null || echo 64)" = 32 ]; then ARCH=arm; else ARCH=arm64; fi
		;;
	armv6* | armv7* | armv8l | armhf) ARCH=arm ;;
	*) die "this machine is $machine; dsmr-datalogger is built for x86_64, aarch64 and 32-bit ARM" ;;
	esac
	case $ARCH in
	arm) ARTIFACT_NAME=$PROGRAM-linux-arm.tar.gz ;;
	*) ARTIFACT_NAME=$PROGRAM-linux-$ARCH ;;
	esac
}

download() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed: install one (apt-get install curl) or use --binary"
	fi
}

sha256_of() {
	sha256sum "$1" | awk '{ print $1 }'
}

verify_sha256() {
	actual=$(sha256_of "$1")
	[ "$actual" = "$2" ] || die "checksum mismatch for $3: expected $2, got $actual; nothing was installed"
	say "verified: $3 has SHA-256 $actual"
}

# The folder the artifacts come from: this script's own release, or with --version that release, found beside it
# in the GitHub layout (.../releases/download/vX.Y.Z and .../releases/latest/download).
resolve_release_url() {
	[ -n "$OPT_VERSION" ] || return 0
	case $RELEASE_URL in
	*/releases/latest/download) root=${RELEASE_URL%/latest/download} ;;
	*/releases/download/*) root=${RELEASE_URL%/download/*} ;;
	*) die "--version needs releases laid out as GitHub's (.../releases/download/vX.Y.Z), and $RELEASE_URL is not: give --url instead" ;;
	esac
	RELEASE_URL=$root/download/$OPT_VERSION
}

# Gets the program to install and checks it, before anything on the system is changed.
fetch_artifact() {
	if [ -n "$OPT_BINARY" ]; then
		[ -f "$OPT_BINARY" ] || die "--binary $OPT_BINARY: no such file"
		ARTIFACT=$OPT_BINARY
		ARTIFACT_LABEL=$OPT_BINARY
		if [ -n "$OPT_SHA256" ]; then verify_sha256 "$ARTIFACT" "$OPT_SHA256" "$OPT_BINARY"; fi
	else
		url=${OPT_URL:-$RELEASE_URL/}
		case $url in */) url=$url$ARTIFACT_NAME ;; esac
		name=${url##*/}
		ARTIFACT_LABEL=$url
		if [ "$DRY_RUN" = 1 ]; then
			say "would download $url and check it against ${OPT_SHA256:-the SHA256SUMS beside it}"
			ARTIFACT=
			ARTIFACT_KIND=$(kind_by_name "$name")
			return 0
		fi
		say "downloading $url"
		download "$url" "$WORK/$name" || die "cannot download $url"
		if [ -n "$OPT_SHA256" ]; then
			expected=$OPT_SHA256
		else
			sums_url=${url%/*}/SHA256SUMS
			download "$sums_url" "$WORK/SHA256SUMS" || die "cannot download $sums_url to check $name: give --sha256 HEX instead"
			expected=$(awk -v name="$name" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$WORK/SHA256SUMS")
			[ -n "$expected" ] || die "$sums_url has no checksum for $name; nothing was installed"
		fi
		verify_sha256 "$WORK/$name" "$expected" "$name"
		ARTIFACT=$WORK/$name
	fi
	ARTIFACT_KIND=$(kind_of_file "$ARTIFACT")
	check_artifact_fits
}

kind_by_name() {
	case $1 in *.tar.gz | *.tgz) echo bundle ;; *) echo binary ;; esac
}

# bundle (portable tar.gz for nodejs) or binary (single executable, or a script with #!).
kind_of_file() {
	magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
	case $magic in
	1f8b*) echo bundle ;;
	7f454c46) echo binary ;;
	2321*) echo script ;;
	*) die "$ARTIFACT_LABEL is neither a Linux executable nor a .tar.gz bundle" ;;
	esac
}

check_artifact_fits() {
	[ "$ARTIFACT_KIND" = binary ] || return 0
	# ELF e_machine, little-endian, at offset 18.
	case $(od -An -tx1 -j18 -N2 "$ARTIFACT" | tr -d ' \n') in
	3e00) built_for=x64 ;;
	b700) built_for=arm64 ;;
	2800) built_for=arm ;;
	*) built_for=unknown ;;
	esac
	[ "$built_for" = "$ARCH" ] && return 0
	if [ "$ARCH" = arm ]; then
		die "$ARTIFACT_LABEL is built for $built_for, but this machine runs 32-bit programs ($(uname -m) kernel, 32-bit userland): use $PROGRAM-linux-arm.tar.gz"
	fi
	die "$ARTIFACT_LABEL is built for $built_for, but this machine needs $ARTIFACT_NAME"
}

tty_available() {
	[ -t 2 ] && (: </dev/tty) 2>/dev/null
}

# A first install needs a server to forward to. Ask only when someone is at a terminal (not stdin: under
# `curl | sh` stdin is the script itself).
ask_for_api_url() {
	if ! tty_available; then
		usage_error "a first install needs --api-url (or --mqtt-url, or DSMR_DATALOGGER_API_URL); without a terminal the API key comes from --api-key-file or DSMR_DATALOGGER_API_KEY"
	fi
	printf 'DSMR-reader address (e.g. http://dsmr.local): ' >/dev/tty
	IFS= read -r OPT_API_URLS </dev/tty || true
	[ -n "$OPT_API_URLS" ] || usage_error "the DSMR-reader address is needed"
	case $OPT_API_URLS in *,*) usage_error "one address at a time: repeat --api-url for more servers" ;; esac
	validate_args
}

ensure_packages() {
	missing=
	command -v supervisorctl >/dev/null 2>&1 || missing=supervisor
	if [ "$ARTIFACT_KIND" = bundle ] && ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
	if [ -n "$missing" ]; then
		command -v apt-get >/dev/null 2>&1 || die "please install $missing first: this installer only knows apt-get"
		# Word splitting of the package list is intended.
		# shellcheck disable=SC2086
		{
			act env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
			act env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing </dev/null
		}
	fi
	if [ "$ARTIFACT_KIND" = bundle ] && [ "$DRY_RUN" = 0 ]; then
		node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
			die "the portable bundle needs Node.js 18 or newer; $(command -v node) is $(node --version)"
	fi
}

ensure_user() {
	if ! getent group "$SERVICE_USER" >/dev/null 2>&1 && ! getent passwd "$SERVICE_USER" >/dev/null 2>&1; then
		act groupadd --system "$SERVICE_USER"
	fi
	if getent passwd "$SERVICE_USER" >/dev/null 2>&1; then
		say "user $SERVICE_USER exists"
	else
		USER_CREATED=1
		act useradd --system --gid "$SERVICE_USER" --groups dialout --home-dir "$DATA_DIR" --no-create-home \
			--shell /usr/sbin/nologin --comment "dsmr-datalogger" "$SERVICE_USER"
	fi
	# An existing user (e.g. from a DSMR-reader install) keeps its home and shell; it only needs the serial ports.
	if [ "${USER_CREATED:-0}" = 0 ] && ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx dialout; then
		act usermod -a -G dialout "$SERVICE_USER"
	fi
}

# Makes path a directory with the given owner and mode, touching it only when needed.
ensure_dir() {
	if [ ! -d "$1" ]; then
		act mkdir -p "$1"
		act chown "$2" "$1"
		act chmod "$3" "$1"
		return 0
	fi
	ensure_owner_mode "$1" "$2" "$3"
}

ensure_owner_mode() {
	current=$(stat -c '%U:%G %a' "$1")
	want_mode=$(echo "$3" | sed 's/^0*//')
	[ "${current%% *}" = "$2" ] || act chown "$2" "$1"
	[ "${current##* }" = "$want_mode" ] || act chmod "$3" "$1"
}

# Installs file $1 as $2 with owner $3 and mode $4 by an atomic rename, only when the content differs.
# Sets CHANGED=1 when it wrote the file. $5 (optional) makes the dry run print the content with this sed filter.
install_file() {
	CHANGED=0
	if [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2" 2>/dev/null; then
		ensure_owner_mode "$2" "$3" "$4"
		say "unchanged: $2"
		return 0
	fi
	CHANGED=1
	if [ "$DRY_RUN" = 1 ]; then
		say "would write $2 ($3, mode $4)"
		if [ -n "${5:-}" ]; then sed "$5" "$1" | sed 's/^/    | /'; fi
		return 0
	fi
	STAGED=$(dirname "$2")/.$(basename "$2").new.$$
	# Private until its owner and mode are set: it may hold the API keys.
	(umask 077 && cp "$1" "$STAGED")
	chown "$3" "$STAGED"
	chmod "$4" "$STAGED"
	mv -f "$STAGED" "$2"
	STAGED=''
	say "wrote $2"
}

install_program() {
	PROGRAM_CHANGED=0
	if [ "$ARTIFACT_KIND" = bundle ]; then
		install_bundle
	elif [ -z "$ARTIFACT" ]; then
		say "would install $ARTIFACT_LABEL as $BIN_PATH (root:root, mode 0755)"
		PROGRAM_CHANGED=1
	else
		# The version being replaced stays reachable under a second name (a hard link: no copy) until the new one
		# runs. Only when it is replaced: a link would change the inode's ctime on a rerun that changes nothing.
		if [ "$DRY_RUN" = 0 ] && [ -f "$BIN_PATH" ] && [ ! -L "$BIN_PATH" ] && ! cmp -s "$ARTIFACT" "$BIN_PATH" &&
			[ "$(kind_of_file "$BIN_PATH")" = binary ]; then
			ln -f "$BIN_PATH" "$PREVIOUS_BIN"
		fi
		install_file "$ARTIFACT" "$BIN_PATH" root:root 0755
		PROGRAM_CHANGED=$CHANGED
		# A previous portable install is replaced by the single executable.
		if [ -d "$LIB_DIR" ]; then act rm -rf "$LIB_DIR"; fi
	fi
}

# The portable bundle lives in $LIB_DIR; $BIN_PATH becomes a launcher. The archive's checksum, kept beside it,
# tells whether a rerun has anything to do.
install_bundle() {
	if [ -z "$ARTIFACT" ]; then
		say "would unpack $ARTIFACT_LABEL into $LIB_DIR and write the launcher $BIN_PATH"
		PROGRAM_CHANGED=1
		return 0
	fi
	sum=$(sha256_of "$ARTIFACT")
	if [ -f "$LIB_DIR/.archive-sha256" ] && [ "$(cat "$LIB_DIR/.archive-sha256")" = "$sum" ]; then
		say "unchanged: $LIB_DIR"
		find_bundle_root "$LIB_DIR"
	else
		mkdir "$WORK/bundle"
		tar -xzf "$ARTIFACT" -C "$WORK/bundle" --no-same-owner
		find_bundle_root "$WORK/bundle"
		[ -n "$BUNDLE_ROOT" ] || die "$ARTIFACT_LABEL holds neither bin/$PROGRAM nor a .cjs bundle"
		printf '%s\n' "$sum" >"$BUNDLE_ROOT/.archive-sha256"
		if [ "$DRY_RUN" = 1 ]; then
			say "would unpack $ARTIFACT_LABEL into $LIB_DIR"
		else
			STAGED=$(dirname "$LIB_DIR")/.$PROGRAM.new.$$
			mkdir -p "$(dirname "$LIB_DIR")"
			cp -R "$BUNDLE_ROOT" "$STAGED"
			chown -R root:root "$STAGED"
			chmod -R u=rwX,go=rX "$STAGED"
			if [ -f "$STAGED/bin/$PROGRAM" ]; then chmod 0755 "$STAGED/bin/$PROGRAM"; fi
			if [ -d "$LIB_DIR" ]; then mv "$LIB_DIR" "$STAGED.old"; fi
			mv "$STAGED" "$LIB_DIR"
			rm -rf "$STAGED.old"
			STAGED=''
			say "unpacked $ARTIFACT_LABEL into $LIB_DIR"
		fi
		PROGRAM_CHANGED=1
	fi
	{
		echo '#!/bin/sh'
		echo "# Written by install.sh: runs the portable dsmr-datalogger bundle in $LIB_DIR with Node.js."
		if [ -n "$BUNDLE_CJS" ]; then
			# "--": Node takes an --env-file anywhere on its command line for itself (nodejs/node#54232), but not after it.
			echo "exec node -- $LIB_DIR/$BUNDLE_CJS \"\$@\""
		else
			echo "exec $LIB_DIR/bin/$PROGRAM \"\$@\""
		fi
	} >"$WORK/launcher"
	install_file "$WORK/launcher" "$BIN_PATH" root:root 0755
	if [ "$CHANGED" = 1 ]; then PROGRAM_CHANGED=1; fi
}

# The unpacked tree may be the bundle itself or hold it in one top-level folder. Sets BUNDLE_ROOT, and BUNDLE_CJS
# when the tree has no launcher of its own.
find_bundle_root() {
	BUNDLE_ROOT='' BUNDLE_CJS=''
	for candidate in "$1" "$1"/*/; do
		candidate=${candidate%/}
		if [ -f "$candidate/bin/$PROGRAM" ]; then
			BUNDLE_ROOT=$candidate
			return 0
		fi
	done
	for candidate in "$1" "$1"/*/; do
		candidate=${candidate%/}
		for cjs in "$candidate"/*.cjs; do
			if [ -f "$cjs" ]; then
				BUNDLE_ROOT=$candidate
				BUNDLE_CJS=${cjs##*/}
				return 0
			fi
		done
	done
}

# The settings this run gives, as KEY=VALUE lines; on a first install with the defaults before them.
collect_settings() {
	SETTINGS=
	if [ ! -f "$ENV_FILE" ]; then
		add_setting "${R}INPUT_METHOD" serial
		if [ -z "$OPT_NETWORK" ]; then add_setting "${R}SERIAL_PORT" /dev/ttyUSB0; fi
		add_setting "${D}DSMR_VERSION" auto
		add_setting "${D}DATA_DIR" "$DATA_DIR"
	fi
	if [ -n "$OPT_API_URLS" ]; then
		add_setting "${R}API_HOSTS" "$API_HOSTS"
		add_setting "${R}API_KEYS" "$API_KEYS"
	fi
	if [ -n "$OPT_SERIAL_PORT" ]; then
		add_setting "${R}INPUT_METHOD" serial
		add_setting "${R}SERIAL_PORT" "$OPT_SERIAL_PORT"
	fi
	if [ -n "$OPT_NETWORK" ]; then
		add_setting "${R}INPUT_METHOD" ipv4
		add_setting "${R}NETWORK_HOST" "$NETWORK_HOST"
		add_setting "${R}NETWORK_PORT" "$NETWORK_PORT"
	fi
	if [ -n "$OPT_DSMR_VERSION" ]; then add_setting "${D}DSMR_VERSION" "$OPT_DSMR_VERSION"; fi
	if [ -n "$OPT_INTERVAL" ]; then add_setting "${R}SLEEP" "$OPT_INTERVAL"; fi
	if [ -n "$OPT_MQTT_URL" ]; then add_setting "${D}MQTT_URL" "$OPT_MQTT_URL"; fi
	if [ -n "$OPT_MQTT_USERNAME" ]; then add_setting "${D}MQTT_USERNAME" "$OPT_MQTT_USERNAME"; fi
	# Quoted: a password may hold spaces and #, which an unquoted value would lose.
	if [ "$MQTT_PASSWORD_GIVEN" = 1 ]; then add_setting "${D}MQTT_PASSWORD" "'$OPT_MQTT_PASSWORD'"; fi
}

add_setting() {
	SETTINGS="$SETTINGS$1=$2
"
}

# New content of the env file: the current file with the given settings replaced in place (comments, order and
# hand-made additions stay), settings it lacked appended. The keys reach awk through the environment, not argv.
render_env_file() {
	if [ -f "$ENV_FILE" ]; then
		[ -r "$ENV_FILE" ] || die "cannot read $ENV_FILE"
		base=$ENV_FILE
	else
		base=$WORK/env.template
		cat >"$base" <<EOF
# dsmr-datalogger settings, read by: $BIN_PATH --env-file $ENV_FILE
# The only place the API keys are written (root:$SERVICE_USER, mode 0640). Setting names: $PROGRAM --help.
# After a change: sudo supervisorctl restart $PROGRAM
EOF
	fi
	DSMR_INSTALL_SETTINGS=$SETTINGS awk '
		BEGIN {
			n = split(ENVIRON["DSMR_INSTALL_SETTINGS"], lines, "\n")
			for (i = 1; i <= n; i++) {
				eq = index(lines[i], "=")
				if (eq == 0) continue
				k = substr(lines[i], 1, eq - 1)
				if (!(k in value)) order[++count] = k
				value[k] = substr(lines[i], eq + 1)
			}
		}
		{
			line = $0
			sub(/^[ \t]*(export[ \t]+)?/, "", line)
			eq = index(line, "=")
			if (eq > 0 && line !~ /^#/) {
				k = substr(line, 1, eq - 1)
				sub(/[ \t]+$/, "", k)
				if (k in value) {
					if (!(k in done)) print k "=" value[k]
					done[k] = 1
					next
				}
			}
			print $0
		}
		END {
			for (i = 1; i <= count; i++) if (!(order[i] in done)) print order[i] "=" value[order[i]]
		}
	' "$base" >"$WORK/datalogger.env"
}

write_supervisor_conf() {
	cat >"$WORK/supervisor.conf" <<EOF
; Written by install.sh. Settings and API keys are in $ENV_FILE, not here.
[program:$PROGRAM]
command=$BIN_PATH --env-file $ENV_FILE
user=$SERVICE_USER
directory=$DATA_DIR
umask=027
; HOME for the program's state; the single executable unpacks its serialport addon into the cache's pkg/ folder.
; GLIBC_TUNABLES holds malloc's mmap threshold at its default, 128 KiB. Otherwise glibc raises it at start-up, a
; 256 KiB table V8 keeps lands in the heap above the 1.1 MiB V8's parser frees, and that 1.1 MiB stays resident for
; good (docs/BENCHMARK.md). glibc reads it only when a process starts: so here, not in the settings file.
environment=HOME="$DATA_DIR",PKG_NATIVE_CACHE_PATH="$DATA_DIR/.cache",GLIBC_TUNABLES="$MALLOC_TUNABLES"
autostart=true
autorestart=true
startsecs=3
startretries=1000
stopsignal=TERM
; The program exits within 10 s of SIGTERM; it must never need a SIGKILL, which could cost a telegram.
stopwaitsecs=20
redirect_stderr=true
stdout_logfile=$PROGRAM_LOG
stdout_logfile_maxbytes=1MB
stdout_logfile_backups=3
EOF
	install_file "$WORK/supervisor.conf" "$SUPERVISOR_CONF" root:root 0644 b
}

# supervisorctl on supervisord's own config; stdin closed so it never turns interactive.
supervisorctl_() {
	if [ -f "$SUPERVISORD_CONF" ]; then
		supervisorctl -c "$SUPERVISORD_CONF" "$@" </dev/null
	else
		supervisorctl "$@" </dev/null
	fi
}

supervisord_reachable() {
	supervisorctl_ pid >/dev/null 2>&1
}

# Without systemd (containers, some minimal systems) nothing starts supervisord after apt-get installs it.
ensure_supervisord() {
	supervisord_reachable && return 0
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		act systemctl enable --now supervisor
	elif command -v service >/dev/null 2>&1 && [ -x /etc/init.d/supervisor ]; then
		act service supervisor start
	else
		act supervisord -c "$SUPERVISORD_CONF"
	fi
	[ "$DRY_RUN" = 0 ] || return 0
	tries=0
	until supervisord_reachable; do
		tries=$((tries + 1))
		[ $tries -le 30 ] || die "supervisord does not answer: see /var/log/supervisor/supervisord.log"
		sleep 0.5 2>/dev/null || sleep 1
	done
}

# supervisorctl as an action: shown, and skipped in a dry run.
sv() {
	if [ "$DRY_RUN" = 1 ]; then
		printf 'would run: supervisorctl %s\n' "$*"
		return 0
	fi
	printf '+ supervisorctl %s\n' "$*"
	supervisorctl_ "$@"
}

program_state() {
	supervisorctl_ status "$PROGRAM" 2>/dev/null | awk -v p="$PROGRAM" '$1 == p { print $2 }' || true
}

apply_supervisor() {
	if [ "$NO_START" = 1 ]; then
		say "not starting (--no-start): run 'supervisorctl reread && supervisorctl update' to start $PROGRAM"
		return 0
	fi
	ensure_supervisord
	state=$(program_state)
	if [ "$CONF_CHANGED" = 1 ] || [ -z "$state" ]; then
		# update adds a new program, or restarts it under its changed supervisor file.
		sv reread
		sv update
	elif [ "$PROGRAM_CHANGED" = 1 ] || [ "$ENV_CHANGED" = 1 ]; then
		sv restart "$PROGRAM" || true
	elif [ "$state" != RUNNING ] && [ "$state" != STARTING ] && [ "$state" != BACKOFF ]; then
		sv start "$PROGRAM" || true
	fi
	[ "$DRY_RUN" = 0 ] || return 0
	# startsecs=3: supervisor calls the program RUNNING once it has stayed up that long.
	tries=0
	state=$(program_state)
	while { [ "$state" = STARTING ] || [ "$state" = BACKOFF ]; } && [ $tries -lt 30 ]; do
		sleep 1
		tries=$((tries + 1))
		state=$(program_state)
	done
	if [ "$state" = RUNNING ]; then
		say "$PROGRAM is RUNNING under supervisor"
		rm -f "$PREVIOUS_BIN"
		return 0
	fi
	warn "$PROGRAM is ${state:-not known to supervisor}; its log ($PROGRAM_LOG) ends with:"
	tail -n 20 "$PROGRAM_LOG" >&2 2>/dev/null || true
	if [ -f "$PREVIOUS_BIN" ]; then
		# E.g. a downgrade to a version that cannot read the spool the newer one wrote: it says so in the log above
		# and refuses to start; the version that ran before goes back, with everything it had.
		mv -f "$PREVIOUS_BIN" "$BIN_PATH"
		sv restart "$PROGRAM" >/dev/null 2>&1 || true
		die "the new program does not start (its log above says why); ${OLD_VERSION:-the previous version} is back in place and restarted"
	fi
	exit 1
}

do_install() {
	detect_arch
	resolve_release_url
	# A first install without a server to forward to would only produce a program that cannot do its job.
	if [ -z "$OPT_API_URLS$OPT_MQTT_URL" ] && [ ! -f "$ENV_FILE" ]; then ask_for_api_url; fi
	collect_secrets
	fetch_artifact
	ensure_packages
	ensure_user
	ensure_dir "$CONF_DIR" "root:$SERVICE_USER" 0750
	ensure_dir "$DATA_DIR" "$SERVICE_USER:$SERVICE_USER" 0750
	OLD_VERSION=$(installed_version)
	install_program
	if [ "$DRY_RUN" = 0 ]; then NEW_VERSION=$(installed_version); fi
	if [ "$PROGRAM_CHANGED" = 1 ] && [ -n "$OLD_VERSION" ] && [ -n "${NEW_VERSION:-}" ]; then
		say "$PROGRAM $OLD_VERSION replaced by $NEW_VERSION; settings and spool kept"
	fi
	offer_detect
	collect_settings
	render_env_file
	install_file "$WORK/datalogger.env" "$ENV_FILE" "root:$SERVICE_USER" 0640 "s/^\(${R}API_KEYS\)=.*/\1=(hidden)/;s/^\(${D}MQTT_PASSWORD\)=.*/\1=(hidden)/"
	ENV_CHANGED=$CHANGED
	write_supervisor_conf
	CONF_CHANGED=$CHANGED
	apply_supervisor
	warn_about_python_datalogger
	if [ "$DRY_RUN" = 1 ]; then
		say "dry run: nothing was changed"
		return 0
	fi
	if [ "$NO_START" = 1 ]; then
		say "done (not started, so not checked). Settings: $ENV_FILE"
		return 0
	fi
	verify_setup
}

# The set-up, checked for real now that the program runs: a set-up that cannot work must not end with "done.".
# Each line is "ok" or "FAIL" with what to do; the exit status is EXIT_NOT_WORKING when any failed.
verify_setup() {
	PROBLEMS=0
	say ""
	say "checking the set-up:"
	check_line ok "$PROGRAM ${NEW_VERSION:-} is RUNNING under supervisor"
	check_outputs
	input=$(env_setting "${R}INPUT_METHOD")
	case ${input:-serial} in
	serial)
		port=$(env_setting "${R}SERIAL_PORT")
		[ -n "$port" ] || port=$(env_setting "${R}SERIAL_DEVICE")
		port=${port:-/dev/ttyUSB0}
		if check_serial_port "$port"; then wait_for_first_telegram "serial port $port" "--serial-port $port"; fi
		;;
	ipv4)
		network="$(env_setting "${R}NETWORK_HOST"):$(env_setting "${R}NETWORK_PORT")"
		wait_for_first_telegram "the P1 bridge $network" "--network $network"
		;;
	esac
	show_status
	if [ "$PROBLEMS" = 0 ]; then
		say "done. Settings: $ENV_FILE; log: $PROGRAM_LOG; status: supervisorctl status $PROGRAM"
		return 0
	fi
	printf 'install.sh: %s is installed and RUNNING, but does not work yet: %s problem(s) named above (FAIL). Fix them, then run the installer again (or: sudo supervisorctl restart %s); exit status %s\n' \
		"$PROGRAM" "$PROBLEMS" "$PROGRAM" "$EXIT_NOT_WORKING" >&2
	exit "$EXIT_NOT_WORKING"
}

check_line() {
	if [ "$1" = ok ]; then printf '  ok   %s\n' "$2"; else
		printf '  FAIL %s\n' "$2"
		PROBLEMS=$((PROBLEMS + 1))
	fi
}

# `check` with the installed settings, as the program runs: as the service user, reading the env file.
check_outputs() {
	if ! command -v runuser >/dev/null 2>&1; then
		check_line FAIL "cannot run '$PROGRAM check' as $SERVICE_USER: runuser (util-linux) is missing"
		return 0
	fi
	status=0
	report=$(as_service_user "$BIN_PATH" check --env-file "$ENV_FILE" 2>&1) || status=$?
	failed=$(printf '%s\n' "$report" | grep -c '^FAIL' || true)
	printf '%s\n' "$report" | sed -n 's/^ok  */  ok   /p; s/^FAIL */  FAIL /p; /^\(ok\|FAIL\) /!s/^/       /p'
	PROBLEMS=$((PROBLEMS + failed))
	if [ "$status" != 0 ] && [ "$failed" = 0 ]; then check_line FAIL "'$PROGRAM check' failed (exit status $status), see above"; fi
}

check_serial_port() {
	if [ ! -e "$1" ]; then
		check_line FAIL "serial port $1: missing (nothing there: is the P1 cable plugged in? ls -l /dev/serial/by-id/ lists the adapters; pick one with --serial-port PATH)"
		return 1
	fi
	if [ ! -c "$1" ]; then
		check_line FAIL "serial port $1: not a character device"
		return 1
	fi
	# access(2) as the service user, with its groups: the port is not opened, so no telegram is taken from the program.
	# shellcheck disable=SC2016 # $1 is for the inner sh
	if ! as_service_user sh -c '[ -r "$1" ] && [ -w "$1" ]' sh "$1"; then
		check_line FAIL "serial port $1: permission denied for user $SERVICE_USER (it is $(stat -L -c '%U:%G %a' "$1")): the port must belong to group dialout, of which $SERVICE_USER is a member (USB serial adapters do); for this one: sudo chgrp dialout $1 && sudo chmod g+rw $1"
		return 1
	fi
	check_line ok "serial port $1: exists and user $SERVICE_USER can open it"
}

# The program logs "first telegram read" (or, auto-detecting, "meter found") once after each start.
wait_for_first_telegram() {
	waited=0
	until telegram_seen; do
		if [ "$waited" -ge "$OPT_TELEGRAM_WAIT" ]; then
			check_line FAIL "no telegram read from $1 within $OPT_TELEGRAM_WAIT s: check the cable and the meter (some P1 ports must be switched on by the grid operator); to see what arrives: sudo supervisorctl stop $PROGRAM && sudo -u $SERVICE_USER $BIN_PATH detect $2"
			return 0
		fi
		sleep 1
		waited=$((waited + 1))
	done
	check_line ok "a first telegram was read from $1"
}

telegram_seen() {
	[ -r "$PROGRAM_LOG" ] &&
		awk '/ starting: input / { seen = 0 } /first telegram read|meter found on/ { seen = 1 } END { exit !seen }' "$PROGRAM_LOG"
}

# The status subcommand, where this version of the program has one.
show_status() {
	"$BIN_PATH" status --help >/dev/null 2>&1 </dev/null || return 0
	say "status:"
	as_service_user "$BIN_PATH" status --env-file "$ENV_FILE" 2>&1 | sed 's/^/  /' || true
}

as_service_user() {
	(cd / && runuser -u "$SERVICE_USER" -- env HOME="$DATA_DIR" PKG_NATIVE_CACHE_PATH="$DATA_DIR/.cache" "$@" </dev/null)
}

# A setting's value in the env file as written there (the last line wins, as in the program's reader).
env_setting() {
	sed -n "s/^[[:space:]]*\(export[[:space:]][[:space:]]*\)\{0,1\}$1[[:space:]]*=[[:space:]]*//p" "$ENV_FILE" |
		sed -n '$p' | sed "s/^[\"']\(.*\)[\"']\$/\1/"
}

installed_version() {
	if [ -x "$BIN_PATH" ]; then
		"$BIN_PATH" --version 2>/dev/null </dev/null | sed -n 's/^dsmr-datalogger \([^ ]*\).*/\1/p' || true
	fi
}


# Without --dsmr-version the program finds the serial settings itself (auto); someone at a terminal can have the meter
# checked now instead, and see its header, version and CRCs before the service starts.
offer_detect() {
	[ -z "$OPT_DSMR_VERSION" ] && [ -z "$OPT_NETWORK" ] && [ ! -f "$ENV_FILE" ] || return 0
	port=${OPT_SERIAL_PORT:-/dev/ttyUSB0}
	if [ "$DRY_RUN" = 1 ] || ! tty_available; then
		say "no --dsmr-version: the program detects the serial settings itself; to check the meter now: $BIN_PATH detect --serial-port $port"
		return 0
	fi
	printf 'No --dsmr-version given. Listen to the meter on %s now to find its settings (up to a minute)? [Y/n] ' "$port" >/dev/tty
	answer=
	IFS= read -r answer </dev/tty || true
	case $answer in [Nn]*) return 0 ;; esac
	if report=$("$BIN_PATH" detect --json --serial-port "$port" </dev/null); then
		found=$(printf '%s\n' "$report" | sed -n 's/.*"dsmrVersionSetting": *"\([^"]*\)".*/\1/p' | sed -n 1p)
		if [ -n "$found" ]; then
			say "meter found: --dsmr-version $found"
			OPT_DSMR_VERSION=$found
		fi
	else
		warn "no meter answered on $port; keeping --dsmr-version auto (run '$BIN_PATH detect --serial-port $port' to look again)"
	fi
}

# DSMR-reader's manual "datalogger only" set-up reads the same serial port; two readers split the telegrams.
warn_about_python_datalogger() {
	old=/etc/supervisor/conf.d/dsmr-client.conf
	[ -f "$old" ] || return 0
	warn "$old (DSMR-reader's Python datalogger) is still there and reads the same meter; when $PROGRAM works, remove it:"
	warn "  sudo supervisorctl stop dsmr_client_datalogger && sudo rm $old && sudo supervisorctl reread && sudo supervisorctl update"
}

do_uninstall() {
	if command -v supervisorctl >/dev/null 2>&1 && supervisord_reachable; then
		case $(program_state) in RUNNING | STARTING | BACKOFF) sv stop "$PROGRAM" || true ;; esac
		if [ -f "$SUPERVISOR_CONF" ]; then act rm -f "$SUPERVISOR_CONF"; fi
		sv reread
		sv update
	else
		if [ -f "$SUPERVISOR_CONF" ]; then act rm -f "$SUPERVISOR_CONF"; fi
	fi
	if [ -e "$BIN_PATH" ] || [ -L "$BIN_PATH" ]; then act rm -f "$BIN_PATH"; fi
	if [ -e "$PREVIOUS_BIN" ]; then act rm -f "$PREVIOUS_BIN"; fi
	if [ -d "$LIB_DIR" ]; then act rm -rf "$LIB_DIR"; fi
	if [ "$PURGE" = 1 ]; then
		if [ -d "$CONF_DIR" ]; then act rm -rf "$CONF_DIR"; fi
		if [ -d "$DATA_DIR" ]; then act rm -rf "$DATA_DIR"; fi
		for log in "$PROGRAM_LOG" "$PROGRAM_LOG".*; do
			if [ -f "$log" ]; then act rm -f "$log"; fi
		done
		say "kept: user $SERVICE_USER (remove it with: userdel $SERVICE_USER) and the supervisor package"
	else
		say "kept: $CONF_DIR (settings) and $DATA_DIR (spool); --uninstall --purge removes them"
	fi
	if [ "$DRY_RUN" = 1 ]; then say "dry run: nothing was changed"; else say "$PROGRAM is uninstalled"; fi
}

# Also removes a half-written file or bundle when the run is interrupted.
cleanup() {
	if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
	if [ -n "${STAGED:-}" ]; then rm -rf "$STAGED"; fi
	if [ "${ECHO_OFF:-0}" = 1 ]; then stty echo </dev/tty 2>/dev/null || true; fi
}

main() {
	parse_args "$@"
	validate_args
	require_root
	umask 022
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/dsmr-datalogger-install.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ "$UNINSTALL" = 1 ]; then do_uninstall; else do_install; fi
}

main "$@"; }
