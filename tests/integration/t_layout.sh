#!/bin/sh
# t_layout.sh - the source tree keeps its dependency rules
# (scripts/check-layout.sh: tools/ on lib/ and util/ only, router/ on lib/,
# util/ and include/herald/, a plugin on include/herald/, util/ and
# channels/common/, util/ on nothing of Herald's), and the check would
# catch a breach: copies of the tree, each with one deliberate breach, fail.
. "$HERALD_SRC/tests/integration/lib.sh"

check_tree() { # check_tree DIR -> $RC, output in $T/layout.out
	(cd "$1" && ./scripts/check-layout.sh .) >"$T/layout.out" 2>&1
	RC=$?
}

check_tree "$HERALD_SRC"
if [ "$RC" -eq 0 ]; then
	ok "the tree keeps the dependency rules (#include lines and link lists)"
else
	not_ok "the tree keeps the dependency rules"
	sed 's/^/#   /' "$T/layout.out" | head -20
fi

# A copy of what the check reads: the sources, the Makefile and its parts.
fresh_copy() {
	rm -rf "$T/tree"
	mkdir -p "$T/tree/scripts" "$T/tree/tests"
	(cd "$HERALD_SRC" && cp -r Makefile util lib router tools include channels "$T/tree/" &&
		cp scripts/check-layout.sh "$T/tree/scripts/" &&
		mkdir -p "$T/tree/tests/unit" "$T/tree/tests/bench" &&
		cp tests/unit/*.mk "$T/tree/tests/unit/" && cp tests/bench/*.mk "$T/tree/tests/bench/")
}

fresh_copy
check_tree "$T/tree"
expect_eq "an untouched copy of the tree passes" 0 "$RC"

# breach FILE LINE DESCRIPTION PATTERN: add LINE to FILE's includes in a
# fresh copy; the check must fail and name the file.
breach() {
	fresh_copy
	sed -i "0,/^#include/s||$2\n#include|" "$T/tree/$1"
	check_tree "$T/tree"
	if [ "$RC" -eq 1 ] && grep -q "$4" "$T/layout.out"; then
		ok "the check fails on $3"
	else
		not_ok "the check fails on $3 (rc $RC)"
		sed 's/^/#   /' "$T/layout.out" | head -10
	fi
}

breach tools/cmd_status.c '#include "router.h"' "tools/ including a router/ header" \
	'tools/cmd_status.c:.*router/router.h (router)'
breach tools/cmd_sms_info.c '#include "../channels/sms/smsreq.h"' \
	"tools/ including a plugin's header by a relative path" \
	'tools/cmd_sms_info.c:.*channels/sms/smsreq.h'
breach util/text.c '#include "event.h"' "util/ including a lib/ header" \
	'util/text.c:.*lib/event.h (lib)'
breach lib/reference.c '#include "redis.h"' "lib/ including a router/ header" \
	'lib/reference.c:.*router/redis.h'
breach channels/fax/fax.c '#include "../sms/smsreq.h"' "a plugin including another plugin's header" \
	'channels/fax/fax.c:.*channels/sms/smsreq.h'
breach channels/file/file.c '#include "schema.h"' "a plugin including a lib/ header" \
	'channels/file/file.c:.*lib/schema.h'
breach router/metrics.c '#include "chanq_missing.h"' "an include that is nowhere in the tree" \
	'router/metrics.c:.*nowhere'

# A link list that pulls a router/ object into heraldctl.
fresh_copy
sed -i 's|^HERALDCTL_LINK := \(.*\)$|HERALDCTL_LINK := \1 $(call obj,router/resolve.c)|' "$T/tree/Makefile"
check_tree "$T/tree"
if [ "$RC" -eq 1 ] && grep -q 'heraldctl links .*router/resolve.o' "$T/layout.out"; then
	ok "the check fails on heraldctl linking a router/ object"
else
	not_ok "the check fails on heraldctl linking a router/ object (rc $RC)"
	sed 's/^/#   /' "$T/layout.out" | head -10
fi

# ... and a plugin linking Herald's library.
fresh_copy
sed -i 's|^\$(1)_OBJS := \(.*\) \$\$(UTIL_LIB)$|$(1)_OBJS := \1 $$(HERALD_LIB) $$(UTIL_LIB)|' "$T/tree/Makefile"
check_tree "$T/tree"
if [ "$RC" -eq 1 ] && grep -q 'channel-sms links .*libherald.a' "$T/layout.out"; then
	ok "the check fails on a plugin linking lib/ (libherald.a)"
else
	not_ok "the check fails on a plugin linking lib/ (rc $RC)"
	sed 's/^/#   /' "$T/layout.out" | head -10
fi

# ... and a synchronous Redis call on the receipt path.
fresh_copy
printf 'static void x(struct router *r) { rdb_call(r->rdb, "PING"); }\n' >>"$T/tree/router/receipt.c"
check_tree "$T/tree"
if [ "$RC" -eq 1 ] && grep -q 'receipt.c makes a synchronous Redis call' "$T/layout.out"; then
	ok "the check fails on a synchronous Redis call in router/receipt.c"
else
	not_ok "the check fails on a synchronous Redis call in router/receipt.c (rc $RC)"
	sed 's/^/#   /' "$T/layout.out" | head -10
fi

# The compiler enforces the same rules: tools/ is built without -Irouter.
(cd "$HERALD_SRC" && make -n -B BUILD="$T/nb" "$T/nb/obj/tools/cmd_status.o") >"$T/cc" 2>&1
expect_eq "tools/ objects are compiled with lib/ and util/ but without router/ or channels/ on the include path" \
	"-Iutil -Ilib -Itools" \
	"$(grep 'tools/cmd_status.c' "$T/cc" | grep -o -- ' -I[a-z/]*' | grep -v -- '-I/' | tr -d ' ' | tr '\n' ' ' | sed 's/ $//')"
finish
