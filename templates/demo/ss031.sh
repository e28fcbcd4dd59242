#!/bin/sh
# SpreadServe 0.3.1 installer: a Linux stand-in (busybox sh) for the note's ss031.exe.
#   ss031.sh /S    silent install into /spreadserve/ss0.3.1
#   ss031.sh       prints usage and exits 1223, the code the note's installer gave
#                  (a process exit status keeps 8 bits: 1223 arrives as 199)
# SS_FAIL_INSTALL=<code> makes the install fail with that exit code (for tests).
set -eu

VERSION=0.3.1
DEST=/spreadserve/ss$VERSION

if [ "${1:-}" != "/S" ]; then
  echo "SpreadServe $VERSION installer"
  echo "usage: $0 /S    (silent install into $DEST; the interactive installer is not available)"
  exit 1223
fi

echo "ss031: installing SpreadServe $VERSION into $DEST"

if [ -n "${SS_FAIL_INSTALL:-}" ]; then
  case "$SS_FAIL_INSTALL" in
  *[!0-9]*) echo "ss031: SS_FAIL_INSTALL must be a number, got '$SS_FAIL_INSTALL'" >&2; exit 2 ;;
  esac
  echo "ss031: unpacking runtime"
  echo "ss031: registering environment variables SSROOT, SSROOTX"
  echo "ss031: error: install aborted (SS_FAIL_INSTALL=$SS_FAIL_INSTALL)" >&2
  exit "$SS_FAIL_INSTALL"
fi

mkdir -p "$DEST/sh" "$DEST/www/cgi-bin" "$DEST/x"
echo "$VERSION" > "$DEST/VERSION"

# The one-line launch script (the note's dbaseweb.cmd).
cat > "$DEST/sh/dbaseweb.sh" <<'LAUNCH'
#!/bin/sh
# Sets SSROOT and SSROOTX unless given, then serves $SSROOT/www on port 80.
: "${SSROOT:=/spreadserve/ss0.3.1}"
: "${SSROOTX:=$SSROOT/x}"
export SSROOT SSROOTX
echo "dbaseweb: SpreadServe 0.3.1 on port 80, SSROOT=$SSROOT, instance ${SS_INSTANCE:-unnamed}, owner ${SS_OWNER:-unknown}"
# httpd runs as a child so SIGTERM and SIGINT stop it even when this script is PID 1
# (a PID 1 without a handler ignores them; the bot also starts containers with an init).
httpd -f -p 80 -h "$SSROOT/www" &
pid=$!
trap 'echo "dbaseweb: stopping"; kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
LAUNCH

# busybox httpd runs cgi-bin/index.cgi for a directory without index.html, so GET /
# is this page, computed at request time.
cat > "$DEST/www/cgi-bin/index.cgi" <<'CGI'
#!/bin/sh
esc() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

owner=$(esc "${SS_OWNER:-unknown}")
instance=$(esc "${SS_INSTANCE:-unnamed}")
ssroot=$(esc "${SSROOT:-unset}")
echo "dbaseweb: ${REQUEST_METHOD:-GET} ${REQUEST_URI:-/} from ${REMOTE_ADDR:-?}" >&2

# A 3x3 sheet of inputs; row 4 and column D are SUMs computed now.
set -- 12 7 30 5 41 8 19 3 26
a1=$1 b1=$2 c1=$3 a2=$4 b2=$5 c2=$6 a3=$7 b3=$8 c3=$9
d1=$((a1 + b1 + c1)) d2=$((a2 + b2 + c2)) d3=$((a3 + b3 + c3))
a4=$((a1 + a2 + a3)) b4=$((b1 + b2 + b3)) c4=$((c1 + c2 + c3))
d4=$((d1 + d2 + d3))

printf 'Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\r\n'
cat <<HTML
<!DOCTYPE html>
<html><head><title>SpreadServe 0.3.1: $instance</title></head>
<body>
<h1>SpreadServe 0.3.1 (demo)</h1>
<p>Instance <b id="instance">$instance</b>, owner <b id="owner">$owner</b>, SSROOT <code id="ssroot">$ssroot</code></p>
<table border="1" id="sheet">
<tr><th></th><th>A</th><th>B</th><th>C</th><th>D = SUM(A:C)</th></tr>
<tr><th>1</th><td>$a1</td><td>$b1</td><td>$c1</td><td>$d1</td></tr>
<tr><th>2</th><td>$a2</td><td>$b2</td><td>$c2</td><td>$d2</td></tr>
<tr><th>3</th><td>$a3</td><td>$b3</td><td>$c3</td><td>$d3</td></tr>
<tr><th>SUM</th><td>$a4</td><td>$b4</td><td>$c4</td><td id="total">$d4</td></tr>
</table>
<p>Computed at $(date -u '+%Y-%m-%dT%H:%M:%SZ').</p>
</body></html>
HTML
CGI

chmod 755 "$DEST/sh/dbaseweb.sh" "$DEST/www/cgi-bin/index.cgi"
echo "ss031: installed SpreadServe $VERSION (launch: $DEST/sh/dbaseweb.sh)"
