#!/bin/sh
# layers.sh -- the layering of src/ (#17), checked on the #include lines.
#
# Every src/*.c and src/*.h belongs to one layer below; a file may
# include "..." headers of the layers its own layer lists, nothing else.
# Top to bottom:
#
#   pipeline  main, worker, http, blocking, router (+ the two tables)
#   family    one file (or two: <family>_db.c) per API family
#   acl       enforcement: token resolution, the authorizer, its SQL
#   req       the request type and the route row type
#   store     the store (generic + backend), its snapshots, wake-ups
#   lib       parsers, codecs, config, the shared core
#
# routes.c and hooks.c are the only pipeline files that name families:
# THE routing table and THE lifecycle table.  A new file must be given
# a layer here, which is the point: say where it sits.
# Prints one line per bad include; exits 1 if there is any.

srcdir=${srcdir:-.}
cd "$srcdir/src" || exit 1

layer() {
	case $1 in
	main|worker|http|blocking|router|routes|hooks)	echo pipeline ;;
	acl|acl_db)					echo acl ;;
	acl_auth_method|acl_binding_rule|acl_login|acl_misc|acl_policy|\
	acl_role|acl_token|authorize|ca|ca_db|intention|intention_db|leaf|\
	agent|status|agent_metrics)
							echo family ;;
	audit_api)					echo family ;;
	req|route)					echo req ;;
	store|store_be|store_sqlite|store_pg|snap|notify|sqls|seal_db|node)
							echo store ;;
	audit)						echo store ;;
	config|portcullis|arena|log|perr|xmalloc|util|json|hcl|bexpr|\
	spiffe|x509|der|jwt|fetch|conf|acl_rules|acl_translate|regex|utf8|\
	authmethod|leafcache|seal|metrics)			echo lib ;;
	*)						echo unknown ;;
	esac
}

# The layers a file of layer $1 may include.
allowed() {
	case $1 in
	pipeline)	echo "pipeline acl req store lib" ;;
	family)		echo "family acl req store lib" ;;
	acl)		echo "acl req store lib" ;;
	req)		echo "req lib" ;;
	store)		echo "store lib" ;;
	lib)		echo "lib" ;;
	esac
}

# Known exceptions, each with its reason: file header.  None today.
exceptions="
"

bad=0
for f in *.c *.h; do
	self=$(layer "${f%.*}")
	if [ "$self" = unknown ]; then
		echo "layers: src/$f has no layer (add it to tests/unit/layers.sh)"
		bad=1
		continue
	fi
	ok=$(allowed "$self")
	[ "$f" = routes.c ] || [ "$f" = hooks.c ] && ok="$ok family"
	for h in $(sed -n 's/^#include "\(.*\)\.h".*/\1/p' "$f"); do
		hl=$(layer "$h")
		case " $ok " in *" $hl "*) continue ;; esac
		case $exceptions in *"$f:$h.h"*) continue ;; esac
		echo "layers: src/$f ($self) includes $h.h ($hl)"
		bad=1
	done
done
[ $bad = 0 ] && echo "layers: every include of src/ points down"
exit $bad
