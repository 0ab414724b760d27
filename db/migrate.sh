#!/bin/sh
# plue schema migration runner.
#
# This is the exact program the Kubernetes schema Job runs (postgres:*-alpine:
# busybox sh + psql); it also runs under dash/bash on Debian. It applies the
# versioned SQL files in a migrations directory (NNNN_name.sql) in order, each
# in its own transaction, recording them in schema_migrations.
#
# It keeps only what must happen next to the database. The SQL itself is
# linted before it gets here: `npm run synth` refuses migrations that squawk
# or the project's rules (destructive statements, transaction control, psql
# meta-commands) reject (db/lint.ts), and the Job's ConfigMap is built from
# the files that passed.
#
# Contract:
#   1. Before connecting: every entry must be a migration file (NNNN_name.sql)
#      and versions must be unique. Otherwise refuse.
#   2. One psql session for the whole run, holding one advisory lock, so
#      concurrent runners serialise and each migration is applied once.
#   3. Under the lock: every applied migration must still have its file, with
#      the same name and sha256, and no pending migration may sort before an
#      applied one. Otherwise refuse before applying anything.
#   4. Each pending migration: BEGIN; SET LOCAL lock_timeout and
#      statement_timeout; \i file; INSERT INTO schema_migrations; COMMIT.
#      A failure rolls back that migration only and stops the run.
#
# Connection: the libpq environment variables only (PGHOST, PGPORT, PGUSER,
# PGPASSWORD, PGDATABASE, PGSSLMODE, ...). Nothing here prints them.
#
# Exit status: 0 success (also when there is nothing to do), 1 refused or
# failed, 2 bad usage or configuration, 127 psql missing.
set -eu

LC_ALL=C
export LC_ALL

# pg_advisory_lock key: first 8 bytes of sha256("plue-infra:schema_migrations")
# as a signed bigint. Every runner of this schema must use the same key.
LOCK_KEY=2680295075544992991

# Defaults for each migration's transaction. A file may raise them with its own
# SET LOCAL (docs/adr/0013). The advisory lock wait is not bounded by them.
LOCK_TIMEOUT=5s
STATEMENT_TIMEOUT=5min

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [--dir DIR] [--check]

Applies the PostgreSQL migrations in DIR (files named NNNN_name.sql) that are
not yet recorded in the schema_migrations table, in order, each in its own
transaction (lock_timeout $LOCK_TIMEOUT, statement_timeout $STATEMENT_TIMEOUT
unless the file sets its own), holding an advisory lock for the whole run.

Options:
  --dir DIR   migrations directory (default: \$MIGRATIONS_DIR, else the
              migrations/ directory next to this script)
  --check     only check the file names and versions; do not connect
  -h, --help  show this help

Connection: the libpq environment variables only (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGSSLMODE, ...). npm run migrate turns a URL into them.

The SQL is linted by npm run synth (squawk and the project's rules, db/lint.ts)
before it is packaged for the schema Job; this runner checks only that DIR
holds migration files (^[0-9]{4}_[a-z0-9_]+\.sql\$) with unique versions.

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
case "$0" in
  */*) script_dir=${0%/*} ;;
  *) script_dir=. ;;
esac
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
      # Option names are safe to echo; values are not.
      usage_error "unknown option: ${1%%=*}"
      ;;
    *)
      usage_error "unexpected argument (not shown; the connection comes from the PG* environment variables)"
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

# ---------------------------------------------------------------- the files
# Shell builtins wherever possible: every process started costs time in a
# small container.
names=""
problems=0
for path in "$dir"/*; do
  # An empty directory leaves the pattern unexpanded; dot entries (a
  # ConfigMap mount's ..data) are not matched by '*'. Valid names start with
  # their 4-digit version, so the expansion's order is the versions' order.
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
  version=${base%%_*}
  for other in $names; do
    if [ "${other%%_*}" = "$version" ]; then
      err "duplicate migration version $version: $other $base"
      problems=$((problems + 1))
    fi
  done
  names="$names $base"
done

if [ "$problems" -ne 0 ]; then
  err "refusing to migrate: $problems problem(s) in $dir; nothing was applied"
  exit 1
fi

# One sha256sum for every file. The names are [0-9a-z_.] only (checked
# above), so splitting $names on spaces is safe.
sums=""
if [ -n "$names" ]; then
  # shellcheck disable=SC2086 # deliberate word splitting, see above
  sums=$(cd -- "$dir" && sha256sum -- $names) || {
    err "could not compute the sha256 of the migrations in $dir"
    exit 1
  }
fi

n_files=0
values=""
steps=$tmp/steps.psql
while read -r sum base; do
  [ -n "$base" ] || continue
  case "$sum" in
    *[!0123456789abcdef]* | "")
      err "could not compute the sha256 of $base"
      exit 1
      ;;
  esac
  [ "${#sum}" -eq 64 ] || {
    err "could not compute the sha256 of $base"
    exit 1
  }
  version=${base%%_*}
  name=${base#?????}
  name=${name%.sql}
  n_files=$((n_files + 1))
  # Everything interpolated below is restricted to [0-9a-z_.] by the checks above.
  if [ -n "$values" ]; then values="$values,
"; fi
  values="$values      ('$version', '$name', '$sum')"
  printf '%s\n' \
    "" \
    "-- ${version}_${name}" \
    "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$version') AS plue_applied \\gset" \
    "\\if :plue_applied" \
    "\\qecho plue-state current ${version}_${name}" \
    "\\else" \
    "\\qecho plue-state applying ${version}_${name}" \
    "BEGIN;" \
    "SET LOCAL lock_timeout = '$LOCK_TIMEOUT';" \
    "SET LOCAL statement_timeout = '$STATEMENT_TIMEOUT';" \
    "\\i $base" \
    "-- Each migration starts from, and leaves, a clean session (search_path, role, ...)." \
    "RESET ALL;" \
    "RESET SESSION AUTHORIZATION;" \
    "RESET ROLE;" \
    "SET client_min_messages = warning;" \
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ('$version', '$name', '$sum');" \
    "COMMIT;" \
    "\\qecho plue-state applied ${version}_${name}" \
    "\\echo 'applied ${version}_${name} (sha256 $sum)'" \
    "\\endif"
done >"$steps" <<EOF
$sums
EOF

if [ "$check_only" -eq 1 ]; then
  printf '%s migration file(s) in %s are valid\n' "$n_files" "$dir"
  exit 0
fi

# ---------------------------------------------------------------- connection
if ! command -v psql >/dev/null 2>&1; then
  err "psql not found on PATH (install the PostgreSQL client: apk add postgresql-client / apt-get install postgresql-client)"
  exit 127
fi

if [ -z "${PGHOST:-}${PGHOSTADDR:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
  # Refuse rather than silently trying libpq's defaults (a local socket).
  hint=""
  if [ -n "${DATABASE_URL:-}" ]; then
    hint=" (DATABASE_URL is not read here: npm run migrate turns a URL into PG* variables)"
  fi
  err "no database configured: set the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PGSSLMODE$hint"
  exit 2
fi

PGAPPNAME=${PGAPPNAME:-plue-migrate}
export PGAPPNAME

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

# How far the session got: the \qecho lines psql wrote to the state file.
applied=0
current=0
reached=""
failed=""
while read -r tag what rest; do
  [ "$tag" = "plue-state" ] || continue
  case "$what" in
    applying) failed=$rest ;;
    applied)
      applied=$((applied + 1))
      failed=""
      ;;
    current) current=$((current + 1)) ;;
    *) reached="$reached $what" ;;
  esac
done <"$state"

case "$rc $reached " in
  "0 "*" done "*)
    printf '%s applied, %s already up to date\n' "$applied" "$current"
    exit 0
    ;;
  *" verified "*)
    if [ -n "$failed" ]; then
      err "migration $failed failed and was rolled back; $applied migration(s) applied before it in this run remain, later ones were not attempted"
    else
      err "psql exited with status $rc after applying $applied migration(s) (see above)"
    fi
    ;;
  *" ready "*) err "refusing to migrate: the applied migrations do not match $dir (see above); nothing was applied" ;;
  *" locked "*) err "could not create or read the schema_migrations table (see the psql error above); nothing was applied" ;;
  *) err "could not connect to the database or take the migration lock (see the psql error above); nothing was applied" ;;
esac
exit 1
