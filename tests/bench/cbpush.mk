# cbpush: router/callback.c is already linked in through $(CORE_OBJS) (every
# router/*.c but main.c), and ROUTER_LIBS has libcurl, openssl and jansson,
# so nothing is added here: listing callback.c again would define it twice.
cbpush_SRCS :=
cbpush_PKGS :=
