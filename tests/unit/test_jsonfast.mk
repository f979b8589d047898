test_jsonfast_SRCS :=
test_jsonfast_PKGS := jansson
