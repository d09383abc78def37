#!/usr/bin/env bash
# The man page says what `ferry --help` says: every option and every command of --help is in
# resources/man/ferry.1, and every option the man page names exists.
# Usage: tst_manpage.sh FERRY_BINARY MANPAGE
set -euo pipefail
ferry=$1
manpage=$2

help=$(QT_QPA_PLATFORM=offscreen "$ferry" --help)
# The man page's text with roff's escapes and font changes removed: "\-\-data\-dir" reads
# "--data-dir", "\fBuser add\fR" reads "user add". The examples are left out (they call curl).
text=$(sed -e '/^\.SH EXAMPLES/,/^\.SH /{/^\.SH SEE/!d}' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/^\.[A-Z][A-Z]* *//' -e 's/"//g' "$manpage")

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

help_options=$(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u)
man_options=$(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$text" | sort -u)
[ "$(wc -l <<<"$help_options")" -ge 30 ] || fail "--help lists too few options: $help_options"

for option in $help_options; do
    grep -qE -- "(^|[^a-z-])${option}([^a-z-]|$)" <<<"$text" || fail "$option is in --help, not in the man page"
done
for option in $man_options; do
    grep -qE -- "(^|[^a-z-])${option}([^a-z-]|$)" <<<"$help" || fail "$option is in the man page, not in --help"
done

# Commands: the lines of --help's "Commands:" block. Each names a command, and for user, quota and
# dataset an action (or actions joined by |). Each "command action" must appear in the man page.
commands=$(awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on' <<<"$help" |
    grep -E '^  [a-z]' | awk '{print $1, $2}')
[ "$(wc -l <<<"$commands")" -ge 10 ] || fail "--help lists too few commands: $commands"
while read -r command action; do
    case $command in
        user | quota | dataset)
            for a in ${action//|/ }; do
                grep -qE "(^|[^a-z])$command $a([^a-z]|$)" <<<"$text" || fail "'$command $a' is in --help, not in the man page"
            done
            ;;
        *)
            grep -qE "(^|[^a-z])$command([^a-z]|$)" <<<"$text" || fail "'$command' is in --help, not in the man page"
            ;;
    esac
done <<<"$commands"

if [ "$failures" -gt 0 ]; then
    echo "$failures difference(s) between ferry --help and $manpage"
    exit 1
fi
echo "PASS: $(wc -l <<<"$help_options") options and $(wc -l <<<"$commands") commands of --help are in the man page"
