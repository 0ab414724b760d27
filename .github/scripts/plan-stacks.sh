#!/usr/bin/env bash
# Plans every stack of the synthesized plan, in the dependency order read from its manifest.json
# (`npm run stack-order`), never a hand-written list.
#
#   plan-stacks.sh pr    <out-dir>   pull requests: terraform plan -refresh=false -lock=false
#                                    (what the change does against the last applied state)
#   plan-stacks.sh drift <out-dir>   schedule: terraform plan -detailed-exitcode with refresh
#                                    (does live state differ from the code?)
#
# A stack is planned only when every stack it depends on has been applied (its state lists at
# least one resource); otherwise it is reported as skipped, naming the missing predecessors.
# Writes <out-dir>/<stack>.plan.txt (Terraform's text rendering: sensitive values redacted) and
# <out-dir>/summary.md. Binary plans (which hold sensitive values) are deleted.
# Exit: 0 no drift (or pr plans made); 2 drift found (drift); 1 a plan failed.
set -euo pipefail

mode="${1:-}"
out="${2:-}"
plan_dir="${PLAN_DIR:-cdktf.out}"
if [[ "$mode" != pr && "$mode" != drift ]] || [[ -z "$out" ]]; then
  echo "usage: plan-stacks.sh <pr|drift> <out-dir>" >&2
  exit 2
fi
mkdir -p "$out"
summary="$out/summary.md"
order="$(npm run --silent stack-order -- --plan "$plan_dir" --deps)"

declare -A applied=()
failed=0
drifted=0
{
  echo "### Terraform plans ($mode)"
  echo
  echo "| stack | result |"
  echo "|---|---|"
} >"$summary"

while read -r stack deps; do
  [[ -n "$stack" ]] || continue
  dir="$plan_dir/stacks/$stack"
  missing=()
  for d in $deps; do
    [[ -n "${applied[$d]:-}" ]] || missing+=("$d")
  done
  if ((${#missing[@]})); then
    echo "| $stack | skipped: ${missing[*]} not applied yet |" >>"$summary"
    continue
  fi
  if ! terraform -chdir="$dir" init -input=false -no-color >"$out/$stack.init.txt" 2>&1; then
    echo "| $stack | **init failed** (see $stack.init.txt) |" >>"$summary"
    failed=1
    continue
  fi
  if [[ -n "$(terraform -chdir="$dir" state list 2>/dev/null)" ]]; then
    applied[$stack]=1
  elif [[ "$mode" == drift ]]; then
    echo "| $stack | not applied yet: nothing to compare |" >>"$summary"
    continue
  fi

  rc=0
  if [[ "$mode" == pr ]]; then
    terraform -chdir="$dir" plan -input=false -no-color -refresh=false -lock=false >"$out/$stack.plan.txt" 2>&1 || rc=$?
    if ((rc == 0)); then
      echo "| $stack | $(grep -E '^(Plan:|No changes\.)' "$out/$stack.plan.txt" | head -n 1 || echo planned) |" >>"$summary"
    else
      echo "| $stack | **plan failed** (see $stack.plan.txt) |" >>"$summary"
      failed=1
    fi
    continue
  fi

  terraform -chdir="$dir" plan -input=false -no-color -detailed-exitcode -lock-timeout=20m -out=drift.tfplan >"$out/$stack.plan.txt" 2>&1 || rc=$?
  case "$rc" in
    0) echo "| $stack | no drift |" >>"$summary" ;;
    2)
      drifted=1
      echo "| $stack | **drift** |" >>"$summary"
      # Addresses only: the JSON plan holds sensitive values, so it is read here and never kept.
      terraform -chdir="$dir" show -json drift.tfplan |
        jq -r '((.resource_drift // [])[] | "- `\(.address)` changed outside Terraform (\(.change.actions | join(", ")))"),
               ((.resource_changes // [])[] | select(.change.actions != ["no-op"]) | "- `\(.address)`: the code would \(.change.actions | join(", "))")' \
          >"$out/$stack.drift.md"
      {
        echo
        echo "#### $stack"
        cat "$out/$stack.drift.md"
        echo
      } >>"$out/drifted.md"
      ;;
    *)
      echo "| $stack | **plan failed** (see $stack.plan.txt) |" >>"$summary"
      failed=1
      ;;
  esac
  rm -f "$dir/drift.tfplan"
done <<<"$order"

if [[ -f "$out/drifted.md" ]]; then
  {
    echo
    echo "### Drifted resources"
    cat "$out/drifted.md"
  } >>"$summary"
fi
if ((failed)); then exit 1; fi
if ((drifted)); then exit 2; fi
exit 0
