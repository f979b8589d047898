# router/scripts.c: the library's version and herald_list_add's and
# herald_engage's records, against a real redis-server.
test_scripts_SRCS := router/metrics.c router/redis.c router/redispipe.c router/redisconn.c router/scripts.c
test_scripts_PKGS := hiredis jansson
