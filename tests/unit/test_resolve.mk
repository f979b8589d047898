test_resolve_SRCS := router/resolve.c router/dispatch.c router/config.c lib/reference.c \
	lib/deliverylog.c
test_resolve_PKGS := jansson libzmq inih
