test_event_SRCS :=
test_event_PKGS := jansson
