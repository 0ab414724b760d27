#!/bin/sh
# plue schema migration runner.
#
# This is the exact program the Kubernetes schema Job runs (postgres:*-alpine:
# busybox sh + psql); it also runs under dash/bash on Debian. It applies the
# versioned SQL files in a migrations directory (NNNN_name.sql) in order, each
# in its own transaction, recording them in schema_migrations.
#
# Contract:
#   1. Validate every file BEFORE connecting: names, duplicate versions,
#      destructive statements (unless a reviewed marker line allows them),
#      transaction control and psql meta-commands. Any problem: refuse.
#   2. One psql session for the whole run, holding one advisory lock, so
#      concurrent runners serialise and each migration is applied once.
#   3. Under the lock: every applied migration must still have its file, with
#      the same name and sha256, and no pending migration may sort before an
#      applied one. Otherwise refuse before applying anything.
#   4. Each pending migration: BEGIN; \i file; INSERT INTO schema_migrations;
#      COMMIT. A failure rolls back that migration only and stops the run.
#
# Exit status: 0 success (also when there is nothing to do), 1 refused or
# failed, 2 bad usage or configuration, 127 psql missing.
#
# The connection comes from DATABASE_URL (a postgresql:// URL, decoded here
# into PG* environment variables so that it never appears on a command line)
# or from the standard PG* variables. Nothing here prints it.
set -eu

LC_ALL=C
export LC_ALL

# pg_advisory_lock key: first 8 bytes of sha256("plue-infra:schema_migrations")
# as a signed bigint. Every runner of this schema must use the same key.
LOCK_KEY=2680295075544992991

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [--dir DIR] [--check]

Applies the PostgreSQL migrations in DIR (files named NNNN_name.sql) that are
not yet recorded in the schema_migrations table, in order, each in its own
transaction, holding an advisory lock for the whole run.

Options:
  --dir DIR   migrations directory (default: \$MIGRATIONS_DIR, else the
              migrations/ directory next to this script)
  --check     only validate the migration files; do not connect
  -h, --help  show this help

Connection: DATABASE_URL (postgresql://user:password@host:port/dbname?params)
or the standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
PGDATABASE, PGSSLMODE, ...).

Validation (before connecting): file names must match ^[0-9]{4}_[a-z0-9_]+\.sql\$,
versions must be unique, files must not contain BEGIN/COMMIT/ROLLBACK or psql
meta-commands, and destructive statements (DROP TABLE/COLUMN/SCHEMA/DATABASE,
TRUNCATE, ALTER TABLE ... DROP, DELETE without WHERE) are refused unless the
file has a line:
  -- plue:allow-destructive reviewed-by=<name>

Exit status: 0 ok, 1 refused or failed, 2 usage/configuration, 127 no psql.
EOF
}

err() {
  printf '%s: error: %s\n' "$prog" "$*" >&2
}

usage_error() {
  err "$*"
  printf "Run '%s --help' for usage.\n" "$prog" >&2
  exit 2
}

# ---------------------------------------------------------------- arguments
script_dir=$(dirname -- "$0")
dir=${MIGRATIONS_DIR:-$script_dir/migrations}
check_only=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dir)
      [ "$#" -ge 2 ] || usage_error "--dir needs a value"
      dir=$2
      shift 2
      ;;
    --dir=*)
      dir=${1#--dir=}
      shift
      ;;
    --check)
      check_only=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      # Option names are safe to echo; values are not (one may be a URL).
      usage_error "unknown option: ${1%%=*}"
      ;;
    *)
      usage_error "unexpected argument (not shown; pass the connection in DATABASE_URL)"
      ;;
  esac
done

[ -n "$dir" ] || usage_error "--dir must not be empty"
if [ ! -d "$dir" ]; then
  err "migrations directory not found: $dir"
  exit 2
fi
dir=$(cd -- "$dir" && pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/plue-migrate.XXXXXX")
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- validation
# Lints one migration file with a small SQL lexer that understands -- and /* */
# comments, 'strings' (also E'...'), "identifiers" and $tag$ bodies, and splits
# top-level statements on ';'. Prints "E file:line: message" per problem and
# "N message" for notes; exits 1 on problems.
#  - Transaction control is checked on top-level statements only (BEGIN inside
#    a PL/pgSQL body is fine).
#  - Destructive keywords are searched with only comments removed, so a
#    DROP TABLE hidden in a DO block or EXECUTE string is found too. That is
#    deliberately conservative: a false positive costs a reviewed marker.
lint_awk=$(cat <<'AWK'
function reset_stmt() { top = ""; full = ""; sline = 0 }
function mark() { if (sline == 0) sline = FNR }
function problem(line, msg) { printf "E %s:%d: %s\n", fname, line, msg; errors++ }
function words(s) { s = toupper(s); gsub(/[^A-Z0-9_]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s); return " " s " " }
function check_marker(l, who) {
  sub(/^[ \t]*--[ \t]*/, "", l)
  if (l !~ /^plue:allow-destructive/) return
  if (l ~ /^plue:allow-destructive[ \t]+reviewed-by=[A-Za-z0-9._@+-]+[ \t]*$/) {
    who = l; sub(/^.*reviewed-by=/, "", who); sub(/[ \t]+$/, "", who)
    marker = who; mline = FNR
  } else {
    problem(FNR, "malformed marker: the line must read \"-- plue:allow-destructive reviewed-by=<name>\" and name the reviewer")
  }
}
function flush_stmt(   t, f, kw, what) {
  if (sline == 0) { reset_stmt(); return }
  t = words(top); f = words(full); what = ""
  if (atomic) {
    # inside CREATE FUNCTION ... BEGIN ATOMIC ... END: END closes the body
    if (t ~ /^ END /) atomic = 0
  } else if (t ~ / BEGIN ATOMIC / && t !~ /^ BEGIN /) {
    atomic = 1
  } else if (t ~ /^ (BEGIN|COMMIT|ROLLBACK|ABORT|END|SAVEPOINT|RELEASE) / || t ~ /^ (START|PREPARE) TRANSACTION /) {
    kw = substr(t, 2); sub(/ .*/, "", kw)
    if (kw == "START" || kw == "PREPARE") kw = kw " TRANSACTION"
    problem(sline, "transaction control (" kw ") is not allowed in a migration: the runner wraps each migration in its own transaction")
  }
  if (match(f, / DROP (TABLE|COLUMN|SCHEMA|DATABASE) /)) what = substr(f, RSTART + 1, RLENGTH - 2)
  else if (f ~ / TRUNCATE /) what = "TRUNCATE"
  else if (t ~ /^ ALTER TABLE / && t ~ / DROP /) what = "ALTER TABLE ... DROP"
  else if (t ~ /^ DELETE FROM / && t !~ / WHERE /) what = "DELETE without WHERE"
  if (what != "") { nd++; dline[nd] = sline; dwhat[nd] = what }
  reset_stmt()
}
BEGIN { mode = 0; errors = 0; nd = 0; marker = ""; atomic = 0; reset_stmt() }
{
  line = $0; sub(/\r$/, "", line)
  n = length(line); i = 1
  if (mode == 0 && line ~ /^[ \t]*--/) check_marker(line)
  while (i <= n) {
    c = substr(line, i, 1)
    if (mode == 0) {
      c2 = substr(line, i, 2)
      if (c2 == "--") break
      if (c2 == "/*") { mode = 4; depth = 1; qline = FNR; top = top " "; full = full " "; i += 2; continue }
      if (c == "\047") {
        mark(); p = substr(line, i - 1, 1); pp = (i > 2) ? substr(line, i - 2, 1) : ""
        estr = (i > 1 && (p == "E" || p == "e") && pp !~ /[A-Za-z0-9_$]/)
        mode = 1; qline = FNR; top = top " "; full = full c; i++; continue
      }
      if (c == "\"") { mark(); mode = 2; qline = FNR; top = top " QI "; full = full c; i++; continue }
      if (c == "$") {
        p = (i > 1) ? substr(line, i - 1, 1) : ""
        if (p !~ /[A-Za-z0-9_]/ && match(substr(line, i), /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/)) {
          mark(); dtag = substr(line, i, RLENGTH); mode = 3; qline = FNR
          top = top " "; full = full " "; i += RLENGTH; continue
        }
      }
      if (c == ";") { flush_stmt(); i++; continue }
      if (c == "\\") { problem(FNR, "psql meta-commands (backslash commands) are not allowed in a migration"); break }
      if (c != " " && c != "\t") mark()
      top = top c; full = full c; i++
    } else if (mode == 1) {
      if (estr && c == "\\") { full = full substr(line, i, 2); i += 2; continue }
      if (c == "\047") {
        if (substr(line, i + 1, 1) == "\047") { full = full c c; i += 2; continue }
        mode = 0; full = full c; i++; continue
      }
      full = full c; i++
    } else if (mode == 2) {
      if (c == "\"") {
        if (substr(line, i + 1, 1) == "\"") { full = full c c; i += 2; continue }
        mode = 0; full = full c; i++; continue
      }
      full = full c; i++
    } else if (mode == 3) {
      p = index(substr(line, i), dtag)
      if (p == 0) { full = full substr(line, i); break }
      full = full substr(line, i, p - 1) " "; i += p - 1 + length(dtag); mode = 0
    } else {
      c2 = substr(line, i, 2)
      if (c2 == "/*") { depth++; i += 2; continue }
      if (c2 == "*/") { depth--; i += 2; if (depth == 0) mode = 0; continue }
      i++
    }
  }
  top = top " "; full = full " "
}
END {
  if (mode == 1) problem(qline, "unterminated quoted string")
  else if (mode == 2) problem(qline, "unterminated quoted identifier")
  else if (mode == 3) problem(qline, "unterminated dollar-quoted string " dtag)
  else if (mode == 4) problem(qline, "unterminated /* comment */")
  else flush_stmt()
  if (marker == "") {
    for (k = 1; k <= nd; k++)
      problem(dline[k], "destructive statement (" dwhat[k] ") refused; if it is intended and reviewed, add the line \"-- plue:allow-destructive reviewed-by=<name>\" to the file")
  } else if (nd > 0 && errors == 0) {
    printf "N %s: %d destructive statement(s) allowed by the marker on line %d (reviewed-by=%s)\n", fname, nd, mline, marker
  }
  exit (errors > 0)
}
AWK
)

list=$tmp/files
: >"$list"
problems=0
for path in "$dir"/*; do
  # An empty directory leaves the pattern unexpanded.
  [ -e "$path" ] || [ -L "$path" ] || continue
  base=${path##*/}
  case "$base" in
    [0-9][0-9][0-9][0-9]_?*.sql)
      stem=${base#?????}
      stem=${stem%.sql}
      case "$stem" in
        *[!abcdefghijklmnopqrstuvwxyz0123456789_]*) valid=0 ;;
        *) valid=1 ;;
      esac
      ;;
    *) valid=0 ;;
  esac
  if [ "$valid" -ne 1 ]; then
    err "refusing $base: migration file names must match ^[0-9]{4}_[a-z0-9_]+\\.sql\$ (nothing else may live in $dir)"
    problems=$((problems + 1))
    continue
  fi
  if [ ! -f "$path" ]; then
    err "refusing $base: not a regular file"
    problems=$((problems + 1))
    continue
  fi
  printf '%s\n' "$base" >>"$list"
done

sort -o "$list" "$list"

dups=$(cut -c1-4 "$list" | uniq -d)
for v in $dups; do
  err "duplicate migration version $v: $(grep "^${v}_" "$list" | tr '\n' ' ' | sed 's/ $//')"
  problems=$((problems + 1))
done

n_files=0
values=""
steps=$tmp/steps.psql
: >"$steps"
while IFS= read -r base; do
  path=$dir/$base
  if lint=$(awk -v fname="$base" "$lint_awk" "$path"); then lint_rc=0; else lint_rc=$?; fi
  if [ -n "$lint" ]; then
    printf '%s\n' "$lint" | sed -n "s/^E /$prog: error: /p" >&2
    printf '%s\n' "$lint" | sed -n "s/^N /$prog: note: /p"
  fi
  if [ "$lint_rc" -ne 0 ]; then
    problems=$((problems + 1))
    continue
  fi
  sum=$(sha256sum <"$path")
  sum=${sum%% *}
  case "$sum" in
    *[!0123456789abcdef]* | "")
      err "could not compute the sha256 of $base"
      exit 1
      ;;
  esac
  [ "${#sum}" -eq 64 ] || { err "could not compute the sha256 of $base"; exit 1; }
  version=${base%%_*}
  name=${base#?????}
  name=${name%.sql}
  n_files=$((n_files + 1))
  # Everything interpolated below is restricted to [0-9a-z_.] by the checks above.
  if [ -n "$values" ]; then values="$values,
"; fi
  values="$values      ('$version', '$name', '$sum')"
  cat >>"$steps" <<EOF

-- ${version}_${name}
SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$version') AS plue_applied \\gset
\\if :plue_applied
\\qecho plue-state current ${version}_${name}
\\else
\\qecho plue-state applying ${version}_${name}
BEGIN;
\\i $base
-- Each migration starts from, and leaves, a clean session (search_path, role, ...).
RESET ALL;
RESET SESSION AUTHORIZATION;
RESET ROLE;
SET client_min_messages = warning;
INSERT INTO schema_migrations (version, name, checksum) VALUES ('$version', '$name', '$sum');
COMMIT;
\\qecho plue-state applied ${version}_${name}
\\echo 'applied ${version}_${name} (sha256 $sum)'
\\endif
EOF
done <"$list"

if [ "$problems" -ne 0 ]; then
  err "refusing to migrate: $problems problem(s) in $dir; nothing was applied"
  exit 1
fi

if [ "$check_only" -eq 1 ]; then
  printf '%s migration file(s) in %s are valid\n' "$n_files" "$dir"
  exit 0
fi

# ---------------------------------------------------------------- connection
if ! command -v psql >/dev/null 2>&1; then
  err "psql not found on PATH (install the PostgreSQL client: apk add postgresql-client / apt-get install postgresql-client)"
  exit 127
fi

PGAPPNAME=${PGAPPNAME:-plue-migrate}
export PGAPPNAME

# Decodes DATABASE_URL (libpq URI syntax) into PG* variables, one NAME=value
# per line; "!message" and exit 1 on error. Messages never include the URL.
url_awk=$(cat <<'AWK'
function fail(msg) { print "!" msg; failed = 1; exit 1 }
function hexval(ch) { return index("0123456789abcdef", tolower(ch)) - 1 }
function decode(s,   out, i, c, h1, h2, code) {
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "%") {
      h1 = hexval(substr(s, i + 1, 1)); h2 = hexval(substr(s, i + 2, 1))
      if (h1 < 0 || h2 < 0 || i + 2 > length(s)) fail("DATABASE_URL has an invalid percent-encoding")
      code = h1 * 16 + h2
      if (code == 0 || code == 10 || code == 13) fail("DATABASE_URL encodes a NUL or newline character")
      out = out sprintf("%c", code); i += 2
    } else out = out c
  }
  return out
}
# Output is collected and printed only once the whole URL parsed, so that an
# error never prints decoded parts (the password) of the URL.
function emit(name, value) { if (value != "") out = out name "=" value "\n" }
BEGIN {
  env["host"] = "PGHOST"; env["hostaddr"] = "PGHOSTADDR"; env["port"] = "PGPORT"
  env["dbname"] = "PGDATABASE"; env["user"] = "PGUSER"; env["password"] = "PGPASSWORD"
  env["passfile"] = "PGPASSFILE"; env["channel_binding"] = "PGCHANNELBINDING"
  env["service"] = "PGSERVICE"; env["options"] = "PGOPTIONS"; env["application_name"] = "PGAPPNAME"
  env["sslmode"] = "PGSSLMODE"; env["requiressl"] = "PGREQUIRESSL"; env["sslcompression"] = "PGSSLCOMPRESSION"
  env["sslcert"] = "PGSSLCERT"; env["sslkey"] = "PGSSLKEY"; env["sslcertmode"] = "PGSSLCERTMODE"
  env["sslrootcert"] = "PGSSLROOTCERT"; env["sslcrl"] = "PGSSLCRL"; env["sslcrldir"] = "PGSSLCRLDIR"
  env["sslsni"] = "PGSSLSNI"; env["requirepeer"] = "PGREQUIREPEER"; env["require_auth"] = "PGREQUIREAUTH"
  env["ssl_min_protocol_version"] = "PGSSLMINPROTOCOLVERSION"; env["ssl_max_protocol_version"] = "PGSSLMAXPROTOCOLVERSION"
  env["gssencmode"] = "PGGSSENCMODE"; env["krbsrvname"] = "PGKRBSRVNAME"; env["gsslib"] = "PGGSSLIB"
  env["gssdelegation"] = "PGGSSDELEGATION"; env["connect_timeout"] = "PGCONNECT_TIMEOUT"
  env["client_encoding"] = "PGCLIENTENCODING"; env["target_session_attrs"] = "PGTARGETSESSIONATTRS"
  env["load_balance_hosts"] = "PGLOADBALANCEHOSTS"

  url = ENVIRON["DATABASE_URL"]
  if (substr(url, 1, 13) == "postgresql://") rest = substr(url, 14)
  else if (substr(url, 1, 11) == "postgres://") rest = substr(url, 12)
  else fail("DATABASE_URL must be a postgresql:// (or postgres://) URL")

  # [user[:password]@] -- libpq looks for '@' before the first '/'
  m = match(rest, /[@\/]/)
  if (m > 0 && substr(rest, m, 1) == "@") {
    ui = substr(rest, 1, m - 1); rest = substr(rest, m + 1)
    p = index(ui, ":")
    if (p > 0) { emit("PGUSER", decode(substr(ui, 1, p - 1))); emit("PGPASSWORD", decode(substr(ui, p + 1))) }
    else emit("PGUSER", decode(ui))
  }
  # host[:port][,host[:port]...]
  m = match(rest, /[\/?]/)
  if (m > 0) { netloc = substr(rest, 1, m - 1); sep = substr(rest, m, 1); rest = substr(rest, m + 1) }
  else { netloc = rest; sep = ""; rest = "" }
  hosts = ""; ports = ""; anyhost = 0; anyport = 0
  nh = split(netloc, parts, ",")
  for (k = 1; k <= nh; k++) {
    h = parts[k]; pt = ""
    if (substr(h, 1, 1) == "[") {
      q = index(h, "]")
      if (q == 0) fail("DATABASE_URL has an unterminated [IPv6] host")
      after = substr(h, q + 1); h = substr(h, 2, q - 2)
      if (after != "") { if (substr(after, 1, 1) != ":") fail("DATABASE_URL has an invalid host"); pt = substr(after, 2) }
    } else {
      q = index(h, ":")
      if (q > 0) { pt = substr(h, q + 1); h = substr(h, 1, q - 1) }
    }
    h = decode(h); pt = decode(pt)
    if (pt != "" && pt !~ /^[0-9]+$/) fail("DATABASE_URL has a non-numeric port")
    if (h != "") anyhost = 1
    if (pt != "") anyport = 1
    hosts = (k == 1) ? h : hosts "," h
    ports = (k == 1) ? pt : ports "," pt
  }
  if (anyhost) emit("PGHOST", hosts)
  if (anyport) emit("PGPORT", ports)
  # /dbname?params
  query = ""
  if (sep == "/") {
    q = index(rest, "?")
    if (q > 0) { db = substr(rest, 1, q - 1); query = substr(rest, q + 1) } else db = rest
    emit("PGDATABASE", decode(db))
  } else if (sep == "?") query = rest
  np = (query == "") ? 0 : split(query, kvs, "&")
  for (k = 1; k <= np; k++) {
    if (kvs[k] == "") continue
    q = index(kvs[k], "=")
    if (q == 0) fail("DATABASE_URL has a query parameter without a value")
    key = decode(substr(kvs[k], 1, q - 1)); val = decode(substr(kvs[k], q + 1))
    if (key == "ssl") {
      if (val != "true") fail("DATABASE_URL: ssl must be true (or use sslmode)")
      key = "sslmode"; val = "require"
    }
    if (!(key in env)) fail("DATABASE_URL has an unsupported connection parameter '" key "' (set the PG* environment variable or PGSERVICE instead)")
    emit(env[key], val)
  }
  printf "%s", out
}
AWK
)

if [ -n "${DATABASE_URL:-}" ]; then
  if conn=$(awk "$url_awk" </dev/null); then :; else
    err "$(printf '%s\n' "$conn" | sed -n 's/^!//p')"
    exit 2
  fi
  old_ifs=$IFS
  IFS='
'
  set -f
  for kv in $conn; do
    case "$kv" in
      PG[A-Z]*=*)
        # shellcheck disable=SC2163 # exports NAME=value, as intended
        export "$kv"
        ;;
      *) IFS=$old_ifs; err "internal error decoding DATABASE_URL"; exit 2 ;;
    esac
  done
  set +f
  IFS=$old_ifs
  unset conn kv
elif [ -z "${PGHOST:-}${PGHOSTADDR:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
  # Refuse rather than silently trying libpq's defaults (a local socket).
  err "no database configured: set DATABASE_URL (or PGHOST/PGDATABASE and friends)"
  exit 2
fi

# ---------------------------------------------------------------- the session
script=$tmp/migrate.psql
state=$tmp/state
: >"$state"
if [ "$n_files" -gt 0 ]; then
  files_relation="VALUES
$values"
else
  files_relation="SELECT NULL::text, NULL::text, NULL::text WHERE false"
fi

cat >"$script" <<EOF
\\set ON_ERROR_STOP 1
\\pset pager off
\\pset tuples_only on
\\o :plue_state
SET client_min_messages = warning;

-- One runner at a time: held until this session ends.
SELECT pg_advisory_lock($LOCK_KEY);
\\qecho plue-state locked

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}\$'),
    applied_at timestamptz NOT NULL DEFAULT now()
);

SELECT set_config('plue.migrations_dir', :'plue_dir', false);
\\qecho plue-state ready

-- Applied migrations must match the files exactly; refuse before applying anything.
\\set SHOW_CONTEXT never
DO \$plue_verify\$
DECLARE
    dir text := current_setting('plue.migrations_dir');
    r   record;
BEGIN
    IF (SELECT count(*) FROM pg_attribute
         WHERE attrelid = 'schema_migrations'::regclass AND NOT attisdropped
           AND (attname, format_type(atttypid, atttypmod)) IN
               (('version', 'text'), ('name', 'text'), ('checksum', 'text'), ('applied_at', 'timestamp with time zone'))) <> 4
    THEN
        RAISE EXCEPTION 'table schema_migrations exists but does not have the columns this runner expects (version, name, checksum, applied_at)';
    END IF;
    FOR r IN
        WITH files (version, name, checksum) AS (
$files_relation
        ),
        applied AS (SELECT version, name, checksum FROM schema_migrations)
        SELECT coalesce(a.version, f.version) AS version,
               a.name AS applied_name, a.checksum AS applied_checksum,
               f.name AS file_name, f.checksum AS file_checksum,
               (SELECT max(version) FROM applied) AS newest_applied
          FROM applied a FULL JOIN files f ON f.version = a.version
         ORDER BY 1
    LOOP
        IF r.applied_name IS NULL THEN
            IF r.version < r.newest_applied THEN
                RAISE EXCEPTION 'pending migration %_%.sql sorts before migration % which is already applied; give it a version after %',
                    r.version, r.file_name, r.newest_applied, r.newest_applied;
            END IF;
        ELSIF r.file_name IS NULL THEN
            RAISE EXCEPTION 'applied migration %_%.sql missing from %: applied migrations must never be deleted; restore the file',
                r.version, r.applied_name, dir;
        ELSIF r.file_name <> r.applied_name THEN
            RAISE EXCEPTION 'applied migration %_%.sql was renamed to %_%.sql in %: restore the original name',
                r.version, r.applied_name, r.version, r.file_name, dir;
        ELSIF r.file_checksum <> r.applied_checksum THEN
            RAISE EXCEPTION 'checksum mismatch for %_%.sql: applied with sha256 %, the file in % now has sha256 %; applied migrations must never be edited, add a new migration instead',
                r.version, r.file_name, r.applied_checksum, dir, r.file_checksum;
        END IF;
    END LOOP;
END
\$plue_verify\$;
\\set SHOW_CONTEXT errors
\\qecho plue-state verified
$(cat "$steps")

SELECT pg_advisory_unlock($LOCK_KEY);
\\qecho plue-state done
EOF

# psql runs in the migrations directory so that \i takes plain validated file
# names (and its error messages name the migration file and line).
if (cd -- "$dir" && exec psql -X -w -q -v ON_ERROR_STOP=1 -v plue_dir="$dir" -v plue_state="$state" -f "$script" </dev/null); then
  rc=0
else
  rc=$?
fi

applied=$(grep -c '^plue-state applied ' "$state" || true)
current=$(grep -c '^plue-state current ' "$state" || true)

if [ "$rc" -eq 0 ] && grep -q '^plue-state done$' "$state"; then
  printf '%s applied, %s already up to date\n' "$applied" "$current"
  exit 0
fi

if ! grep -q '^plue-state locked$' "$state"; then
  err "could not connect to the database or take the migration lock (see the psql error above); nothing was applied"
elif ! grep -q '^plue-state ready$' "$state"; then
  err "could not create or read the schema_migrations table (see the psql error above); nothing was applied"
elif ! grep -q '^plue-state verified$' "$state"; then
  err "refusing to migrate: the applied migrations do not match $dir (see above); nothing was applied"
else
  failed=$(sed -n 's/^plue-state applying //p' "$state" | tail -n 1)
  if [ -n "$failed" ] && ! grep -qx "plue-state applied $failed" "$state"; then
    err "migration $failed failed and was rolled back; $applied migration(s) applied before it in this run remain, later ones were not attempted"
  else
    err "psql exited with status $rc after applying $applied migration(s) (see above)"
  fi
fi
exit 1
