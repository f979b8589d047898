test_resolve_SRCS := router/resolve.c router/plan.c router/dispatch.c router/config.c router/reference.c \
	router/deliverylog.c
test_resolve_PKGS := jansson libzmq inih
