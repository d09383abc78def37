# bash completion for ferry(1). Commands and their actions are listed here; options are read from
# `ferry --help` itself, so they never fall out of date.
_ferry()
{
    local cur prev words cword
    _init_completion || return

    case $prev in
        --data-dir | --blob-dir)
            _filedir -d
            return
            ;;
        --format)
            COMPREPLY=($(compgen -W 'csv tsv ndjson json' -- "$cur"))
            return
            ;;
        --tier)
            COMPREPLY=($(compgen -W 'free standard premium' -- "$cur"))
            return
            ;;
        --blob-store)
            COMPREPLY=($(compgen -W 'database files' -- "$cur"))
            return
            ;;
        --mapping | --payload)
            return
            ;;
    esac

    if [[ $cur == -* ]]; then
        local options
        options=$("${words[0]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
        [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
        return
    fi

    # The command is the first word that is neither an option nor an option's value. Options that
    # take a value show it in --help as "--name <VALUE>".
    local valued
    valued=" $("${words[0]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]* <' | tr -d '<' | tr '\n' ' ')"
    local i command="" arity=0
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} == -* ]]; then
            [[ $valued == *" ${words[i]} "* ]] && ((i++))
            continue
        fi
        [[ -z $command ]] && command=${words[i]}
        ((arity++))
    done

    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W 'user quota enqueue import export dataset job status pause resume' -- "$cur"))
        return
    fi
    if ((arity == 1)); then
        case $command in
            user) COMPREPLY=($(compgen -W 'add list disable enable token' -- "$cur")) ;;
            quota) COMPREPLY=($(compgen -W 'set show list reset' -- "$cur")) ;;
            dataset) COMPREPLY=($(compgen -W 'list show delete' -- "$cur")) ;;
            enqueue) COMPREPLY=($(compgen -W 'noop sleep' -- "$cur")) ;;
            import) _filedir ;;
        esac
    fi
} &&
    complete -F _ferry ferry
