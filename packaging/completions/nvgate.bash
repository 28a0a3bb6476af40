# bash completion for nvgate. Installed as
# /usr/share/bash-completion/completions/nvgate; keep in step with the options
# of src/cli/*_command.cc.

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
      abi | run | doctor | trace | learn | replay | summary | oci | agent | config)
        command=${words[i]}
        break
        ;;
    esac
  done

  if [[ -z $command ]]; then
    mapfile -t COMPREPLY < <(compgen -W "abi run doctor trace learn replay summary oci agent config --help --version --config --log-level" -- "$cur")
    return
  fi

  # Everything after `run ... --` is the workload's own command line, and
  # everything after `oci runtime ... --` the runtime's arguments.
  local oci_runtime=false
  for ((i = i + 1; i < cword; i++)); do
    if [[ ${words[i]} == -- ]]; then
      case $command in
        run | trace | learn) _command_offset $((i + 1)); return ;;
        oci) return ;;
      esac
    fi
    [[ $command == oci && ${words[i]} == runtime ]] && oci_runtime=true
  done

  case $prev in
    --caps | --allowed-caps | --diff)
      _nvgate_caps
      return
      ;;
    --backend)
      if [[ $command == agent ]]; then
        mapfile -t COMPREPLY < <(compgen -W "host sim" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "host sim replay" -- "$cur")
      fi
      return
      ;;
    --log-format)
      mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
      return
      ;;
    --log-level)
      mapfile -t COMPREPLY < <(compgen -W "debug info warn error" -- "$cur")
      return
      ;;
    --log-denials | --sim-call-log | --sim-driver | --replay-trace | -o | --output | --base | --socket | --listener | --sim-node-dir | --config)
      _filedir
      return
      ;;
    --driver | --abi-version)
      return  # a driver version: nothing to offer
      ;;
    --runtime)
      mapfile -t COMPREPLY < <(compgen -c -- "$cur")
      return
      ;;
    --metrics)
      return  # HOST:PORT or unix:PATH: nothing to offer
      ;;
  esac

  case $command in
    abi) mapfile -t COMPREPLY < <(compgen -W "--driver --caps --json --diff --diff-versions --abi-version --summary-markdown --help" -- "$cur") ;;
    run) mapfile -t COMPREPLY < <(compgen -W "--caps --allowed-caps --gpus --allowed-gpus --backend --log-denials --log-format --abi-version --no-isolate --keep-caps --sim-call-log --sim-gpus --sim-driver --replay-trace --audit --help --" -- "$cur") ;;
    trace) mapfile -t COMPREPLY < <(compgen -W "-o --output --with-params --observe-only --caps --allowed-caps --gpus --allowed-gpus --backend --log-denials --log-format --abi-version --no-isolate --keep-caps --sim-call-log --sim-gpus --sim-driver --replay-trace --help --" -- "$cur") ;;
    learn) mapfile -t COMPREPLY < <(compgen -W "--json -o --output --allowed-caps --allowed-gpus --backend --log-denials --log-format --abi-version --no-isolate --keep-caps --sim-call-log --sim-gpus --sim-driver --replay-trace --help --" -- "$cur"); _filedir ;;
    replay) mapfile -t COMPREPLY < <(compgen -W "--caps --driver --json --help" -- "$cur"); _filedir ;;
    summary) mapfile -t COMPREPLY < <(compgen -W "--json --help" -- "$cur"); _filedir ;;
    doctor) mapfile -t COMPREPLY < <(compgen -W "--json --help" -- "$cur") ;;
    oci)
      if $oci_runtime; then
        mapfile -t COMPREPLY < <(compgen -W "--runtime --allowed-caps --allowed-gpus --sim-gpus --socket --base --driver --allow-privileged --help --" -- "$cur")
      else
        mapfile -t COMPREPLY < <(compgen -W "profile runtime --base --listener --caps-metadata --driver -o --output --help" -- "$cur")
      fi
      ;;
    agent) mapfile -t COMPREPLY < <(compgen -W "status --socket --allowed-caps --allowed-gpus --backend --sim-node-dir --sim-gpus --sim-call-log --abi-version --metrics --help" -- "$cur") ;;
  esac
}

complete -F _nvgate nvgate
