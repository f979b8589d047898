# router/redispipe.c (herald_pipe batches) against a real redis-server.
test_redispipe_SRCS := router/metrics.c router/redis.c router/redispipe.c router/redisconn.c router/scripts.c
test_redispipe_PKGS := hiredis jansson
