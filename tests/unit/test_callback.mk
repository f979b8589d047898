test_callback_SRCS := router/callback.c router/callback_conf.c router/callback_post.c router/callback_store.c \
	router/config.c router/metrics.c router/redis.c router/redispipe.c router/redisconn.c router/scripts.c \
	router/status.c
test_callback_PKGS := libcurl openssl jansson inih hiredis
