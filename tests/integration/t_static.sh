#!/bin/sh
# t_static.sh - the tree is cppcheck-clean and clang-format-clean (the same
# checks as `make lint` and `make format-check`), so CI fails on either.
. "$HERALD_SRC/tests/integration/lib.sh"
cd "$HERALD_SRC" || exit 1

if cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	--inline-suppr --suppress=missingIncludeSystem -D__GNUC__ \
	-Iinclude -Iutil -Ilib -Ichannels/common -Irouter router util lib tools channels tests >"$T/cppcheck" 2>&1; then
	ok "cppcheck finds nothing in router/ util/ lib/ tools/ channels/ tests/"
else
	not_ok "cppcheck finds nothing in router/ util/ lib/ tools/ channels/ tests/"
	head -40 "$T/cppcheck" | sed 's/^/#   /'
fi

files=$(git ls-files '*.c' '*.h')
if clang-format --dry-run --Werror $files >"$T/format" 2>&1; then
	ok "clang-format leaves every C file as it is"
else
	not_ok "clang-format leaves every C file as it is (run: make format)"
	grep -E '^[^ ].*(error|warning)' "$T/format" | cut -d: -f1 | sort | uniq -c | sed 's/^/#   /'
fi
finish
