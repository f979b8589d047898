test_tmplstore_SRCS :=
test_tmplstore_PKGS := jansson
