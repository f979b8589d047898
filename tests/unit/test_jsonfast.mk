test_jsonfast_SRCS := router/jsonfast.c
test_jsonfast_PKGS := jansson
