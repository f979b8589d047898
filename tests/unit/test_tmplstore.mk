test_tmplstore_SRCS := router/tmplstore.c router/template.c
test_tmplstore_PKGS := jansson
