# router/lease.c's registry (the heartbeat itself is t_leases.sh's).
test_lease_SRCS := router/lease.c router/metrics.c router/redis.c router/redispipe.c router/redisconn.c router/scripts.c
test_lease_PKGS := hiredis jansson
