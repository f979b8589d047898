test_callback_SRCS := router/callback.c router/callback_post.c router/config.c
test_callback_PKGS := libcurl openssl jansson inih
