test_resolve_SRCS := router/resolve.c router/plan.c router/dispatch.c router/config.c router/confcheck.c
test_resolve_PKGS := jansson libzmq inih
