# bash completion for nvgate. Installed as
# /usr/share/bash-completion/completions/nvgate; keep in step with src/cli/main.cc.

# Capability names (src/caps/caps.cc) and "all", for comma-separated lists.
_nvgate_caps() {
  local caps="compute utility graphics video display ngx compat32 profiling fabric-imex-mgmt rdma all"
  local done_part="" last="$cur"
  if [[ $cur == *,* ]]; then
    done_part="${cur%,*},"
    last="${cur##*,}"
  fi
  mapfile -t COMPREPLY < <(compgen -P "$done_part" -W "$caps" -- "$last")
  compopt -o nospace
}

_nvgate() {
  local cur prev words cword
  _init_completion -n , || return

  local command="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      abi | run | doctor)
        command=${words[i]}
        break
        ;;
    esac
  done

  if [[ -z $command ]]; then
    mapfile -t COMPREPLY < <(compgen -W "abi run doctor --help --version" -- "$cur")
    return
  fi

  # Everything after `run ... --` is the workload's own command line.
  if [[ $command == run ]]; then
    for ((i = i + 1; i < cword; i++)); do
      if [[ ${words[i]} == -- ]]; then
        _command_offset $((i + 1))
        return
      fi
    done
  fi

  case $prev in
    --caps | --allowed-caps | --diff)
      _nvgate_caps
      return
      ;;
    --backend)
      mapfile -t COMPREPLY < <(compgen -W "host sim" -- "$cur")
      return
      ;;
    --log-denials | --sim-call-log)
      _filedir
      return
      ;;
    --driver | --abi-version)
      return  # a driver version: nothing to offer
      ;;
  esac

  case $command in
    abi) mapfile -t COMPREPLY < <(compgen -W "--driver --caps --json --diff --summary-markdown --help" -- "$cur") ;;
    run) mapfile -t COMPREPLY < <(compgen -W "--caps --allowed-caps --backend --log-denials --abi-version --no-isolate --sim-call-log --help --" -- "$cur") ;;
    doctor) mapfile -t COMPREPLY < <(compgen -W "--json --help" -- "$cur") ;;
  esac
}

complete -F _nvgate nvgate
