// `prescalectl completion bash`: verbs, resources, subcommands, flags and their
// values; object names come from the aggregator (`get ... -o name`), with the
// --context, --config and --url of the line being completed.
#include <string>

#include "prescale/cli/args.h"
#include "prescale/cli/commands.h"

namespace prescale::cli {

std::string BashCompletion() {
  std::string flags;
  for (const FlagSpec& f : Flags()) {
    flags += (flags.empty() ? "" : " ") + std::string("--") + std::string(f.name);
    if (f.short_name != 0) flags += std::string(" -") + f.short_name;
  }
  std::string value_flags;
  for (const FlagSpec& f : Flags()) {
    if (!f.takes_value) continue;
    value_flags += (value_flags.empty() ? "" : "|") + std::string("--") + std::string(f.name);
    if (f.short_name != 0) value_flags += std::string("|-") + f.short_name;
  }
  return R"sh(# bash completion for prescalectl. Load it with
#   source <(prescalectl completion bash)
# or install it: prescalectl completion bash > /etc/bash_completion.d/prescalectl
_prescalectl_names() {
  # The names the aggregator lists for `get $1` (tenants, services, policies), or `config get-contexts`.
  local conn=() i w
  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    case "$w" in
      --context|--config|--url|--token-file|--ca-file) conn+=("$w" "${COMP_WORDS[i+1]}") ;;
      --insecure-skip-verify) conn+=("$w") ;;
    esac
  done
  case "$1" in
    contexts) prescalectl "${conn[@]}" config get-contexts -o name 2>/dev/null ;;
    tokens) prescalectl "${conn[@]}" tokens list -o name 2>/dev/null ;;
    *) prescalectl "${conn[@]}" get "$1" -o name --timeout 5s 2>/dev/null ;;
  esac
}

_prescalectl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local verbs="get apply edit delete explain approve actions audit tokens config completion version"
  local resources="tenants services policies"
  local flags=")sh" +
         flags + R"sh("
  COMPREPLY=()
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table json yaml name" -- "$cur")); return ;;
    -f|--filename|--token-file|--ca-file|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --context) COMPREPLY=($(compgen -W "$(_prescalectl_names contexts)" -- "$cur")); return ;;
    -t|--tenant) COMPREPLY=($(compgen -W "$(_prescalectl_names tenants)" -- "$cur")); return ;;
    --role) COMPREPLY=($(compgen -W "admin operator viewer agent monitor" -- "$cur")); return ;;
    --kind) COMPREPLY=($(compgen -W "tenant service policy token" -- "$cur")); return ;;
    )sh" +
         value_flags + R"sh() return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  # The words before the cursor that are not flags or their values.
  local args=() i w skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      )sh" +
         value_flags + R"sh() skip=1 ;;
      -*) ;;
      *) args+=("$w") ;;
    esac
  done
  case "${args[0]}" in
    "") COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
    get|edit|delete)
      if ((${#args[@]} == 1)); then
        COMPREPLY=($(compgen -W "$resources" -- "$cur"))
      else
        case "${args[1]}" in
          tenant|tenants) COMPREPLY=($(compgen -W "$(_prescalectl_names tenants)" -- "$cur")) ;;
          service|services|svc) COMPREPLY=($(compgen -W "$(_prescalectl_names services)" -- "$cur")) ;;
          policy|policies|pol) COMPREPLY=($(compgen -W "$(_prescalectl_names policies)" -- "$cur")) ;;
        esac
      fi ;;
    explain|approve) ((${#args[@]} == 1)) && COMPREPLY=($(compgen -W "$(_prescalectl_names services)" -- "$cur")) ;;
    audit) ((${#args[@]} == 1)) && COMPREPLY=($(compgen -W "verify" -- "$cur")) ;;
    tokens)
      if ((${#args[@]} == 1)); then
        COMPREPLY=($(compgen -W "list create revoke" -- "$cur"))
      elif [[ ${args[1]} == revoke ]]; then
        COMPREPLY=($(compgen -W "$(_prescalectl_names tokens)" -- "$cur"))
      fi ;;
    config)
      if ((${#args[@]} == 1)); then
        COMPREPLY=($(compgen -W "get-contexts current-context use-context set-context delete-context view" -- "$cur"))
      elif ((${#args[@]} == 2)) && [[ ${args[1]} == *-context && ${args[1]} != current-context ]]; then
        COMPREPLY=($(compgen -W "$(_prescalectl_names contexts)" -- "$cur"))
      fi ;;
    completion) ((${#args[@]} == 1)) && COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
  esac
}
complete -F _prescalectl prescalectl
)sh";
}

}  // namespace prescale::cli
